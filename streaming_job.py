"""Entry point: ``python streaming_job.py --help``.

Streaming from Pub/Sub (``--input_subscription``) or backfilling from JSONL files (``--input_files``) into
DuckDB (local default) or BigQuery; ``--runner DataflowRunner --setup_file ./setup.py`` in production.
"""

from __future__ import annotations

import logging
import sys

from beam_pipelines.launcher import UsageError, help_text, run, summary


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        print(help_text())
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        result = run(argv)
    except UsageError as error:
        print(f"streaming_job.py: error: {error} (see --help)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(summary(result), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
