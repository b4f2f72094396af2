"""The demo's progress line reads the warehouse with DuckDB: a Ctrl-C that lands while DuckDB works stops the demo,
instead of reading as a busy file (DuckDB raises an InterruptException of its own, a duckdb.Error)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from orders_local import demo_summary


def test_a_ctrl_c_inside_duckdb_is_an_interrupt_not_a_busy_file(tmp_path: Path, monkeypatch):
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.touch()

    def interrupted(*_args, **_kwargs):
        raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")

    monkeypatch.setattr(demo_summary, "connect", interrupted)
    with pytest.raises(KeyboardInterrupt):
        demo_summary.live_counts(warehouse)


def test_a_busy_file_is_no_count_yet(tmp_path: Path, monkeypatch):
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.touch()

    def busy(*_args, **_kwargs):
        raise duckdb.IOException("Could not set lock on file")

    monkeypatch.setattr(demo_summary, "connect", busy)
    assert demo_summary.live_counts(warehouse) is None
