"""streaming_job.py as a user meets it: --help, and one clear line for flags that cannot work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "streaming_job.py", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )


def test_help_lists_the_pipeline_flags_next_to_beams():
    result = _run("--help")
    assert result.returncode == 0
    for flag in (
        "--input_subscription",
        "--input_files",
        "--sink",
        "--duckdb_path",
        "--bq_project",
        "--bq_dataset",
        "--dead_letter_topic",
        "--max_idle_seconds",
        "--runner",
        "--project",
        "--setup_file",
    ):
        assert flag in result.stdout, flag


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((), "give exactly one of --input_subscription or --input_files"),
        (("--input_files", "x.jsonl", "--input_subscription", "projects/p/subscriptions/s"), "exactly one"),
        (("--input_subscription", "orders"), "must be projects/P/subscriptions/S"),
        (
            ("--input_files", "x.jsonl", "--input_subscriptoin", "projects/p/subscriptions/s"),
            "unknown flag --input_subscriptoin (did you mean --input_subscription?)",
        ),
        (("--input_files", "x.jsonl", "--sink", "bigquery"), "--sink bigquery needs --bq_project"),
        (("--input_files", "x.jsonl", "--schema_versions", "1,7"), "--schema_versions names unknown versions [7]"),
        (("--input_files", "x.jsonl", "--schema_versions", "v2"), "expected comma-separated integers"),
        (("--input_files", "x.jsonl", "--runner", "DataflowRunner", "--project", "p"), "--sink duckdb is local only"),
        (
            (
                "--input_files",
                "no/such/dir/*.jsonl",
            ),
            "no file matches --input_files 'no/such/dir/*.jsonl'",
        ),
    ],
)
def test_impossible_flags_give_one_line(args, fragment):
    result = _run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert fragment in lines[-1], result.stderr
    assert lines[-1].startswith("streaming_job.py: error:")
