"""What the local runner (FnApiRunner in streaming mode) needs to run for hours.

FnApiRunner merges each bundle's monitoring infos into the running totals with ``consolidate_monitoring_infos``,
a lazy generator that wraps the previous one: on an unbounded pipeline the chain grows by one generator per
bundle (≈0.8 MB/bundle measured). Making that merge eager keeps memory flat. It patches a private Beam name,
so tests/beam_pipelines/test_local_runner.py fails if the name moves or the growth returns.
"""

from __future__ import annotations

from apache_beam.metrics import monitoring_infos
from apache_beam.runners.portability.fn_api_runner import fn_runner

_PATCHED_NAME = "consolidate_monitoring_infos"


def _eager_consolidate(infos):
    return list(monitoring_infos.consolidate(infos))


def patch_fn_runner_monitoring_leak() -> None:
    """Idempotently make FnApiRunner's per-bundle metric merge eager (local runner only)."""
    current = getattr(fn_runner, _PATCHED_NAME, None)
    if current is None:
        raise RuntimeError(
            f"apache_beam...fn_runner.{_PATCHED_NAME} is gone: re-check the FnApiRunner metrics leak workaround"
        )
    if current is not _eager_consolidate:
        setattr(fn_runner, _PATCHED_NAME, _eager_consolidate)
