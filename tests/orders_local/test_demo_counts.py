"""The demo's progress line reads the warehouse with DuckDB: a Ctrl-C that lands while DuckDB works stops the demo,
instead of reading as a busy file (DuckDB raises an InterruptException of its own, a duckdb.Error)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from orders_local import demo_summary


def _reading_raises(monkeypatch, tmp_path: Path, error: Exception) -> Path:
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.touch()

    def failing(*_args, **_kwargs):
        raise error

    monkeypatch.setattr(demo_summary, "connect", failing)
    return warehouse


def test_a_ctrl_c_inside_duckdb_is_an_interrupt_not_a_busy_file(tmp_path: Path, monkeypatch):
    warehouse = _reading_raises(monkeypatch, tmp_path, duckdb.InterruptException("INTERRUPT Error: Interrupted!"))
    with pytest.raises(KeyboardInterrupt):
        demo_summary.live_counts(warehouse)


def test_a_busy_file_is_no_count_yet(tmp_path: Path, monkeypatch):
    warehouse = _reading_raises(monkeypatch, tmp_path, duckdb.IOException("Could not set lock on file"))
    assert demo_summary.live_counts(warehouse) is None
