"""warehouse.connection.hold: a writer keeps its DuckDB file open between units and steps aside for others.

Every test uses real processes: DuckDB's lock is per process, so a second process is the only honest way to
see what another user of the file meets.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from warehouse import connection as wc

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
#: Another process reading the file through warehouse.connection.connect (it leaves a marker when locked out).
READER = (
    "import sys; from warehouse.connection import connect\n"
    "with connect(sys.argv[1], read_only=True, lock_timeout=float(sys.argv[2])) as c:\n"
    "    print(c.execute('SELECT count(*) FROM t').fetchone()[0], flush=True)\n"
)
#: Another process holding the file and committing rows, then waiting to be killed.
HOLDER = (
    "import sys; from warehouse.connection import connect, hold\n"
    "assert hold(sys.argv[1], idle_release=3600)\n"
    "with connect(sys.argv[1]) as c:\n"
    "    c.execute('INSERT INTO t SELECT range FROM range(1000, 1100)')\n"
    "print('committed', flush=True)\n"
    "sys.stdin.read()\n"
)


def _python(code: str, *args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _wait_until(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture()
def warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    with wc.connect(path) as connection:
        connection.execute("CREATE TABLE t AS SELECT range AS i FROM range(10)")
    yield path
    wc.release_all()


def test_a_held_file_is_let_go_when_another_process_waits_for_it(warehouse):
    assert wc.hold(warehouse, idle_release=3600)
    with wc.connect(warehouse) as connection:
        connection.execute("INSERT INTO t VALUES (10)")
    assert wc.held_files() == [os.path.realpath(warehouse)]

    reader = _python(READER, str(warehouse), "60")
    out, err = reader.communicate(timeout=90)

    assert reader.returncode == 0, err
    assert out.strip() == "11"  # it read the row committed while the file was held
    assert wc.held_files() == []
    assert not wc.waiting_directory(warehouse).exists()  # the reader removed its marker (and the empty directory)


def test_no_hold_is_taken_while_another_live_process_waits_and_dead_markers_are_removed(warehouse):
    directory = wc.waiting_directory(warehouse)
    directory.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        (directory / f"{sleeper.pid}-live").touch()
        assert wc.others_waiting(warehouse)
        assert not wc.hold(warehouse)
    finally:
        sleeper.communicate(b"")
    # That process is gone now: its marker no longer counts, and is cleaned up.
    assert not wc.others_waiting(warehouse)
    assert not (directory / f"{sleeper.pid}-live").exists()
    (directory / f"{os.getpid()}-mine").touch()  # this process's own markers never count against it
    assert wc.hold(warehouse)


def test_a_hold_nobody_uses_is_let_go_after_its_idle_time(warehouse):
    assert wc.hold(warehouse, idle_release=0.2)
    _wait_until(lambda: wc.held_files() == [])
    with duckdb.connect(str(warehouse), read_only=True) as other:  # the instance is closed: any open works
        assert other.execute("SELECT count(*) FROM t").fetchone()[0] == 10


def test_reading_a_file_this_process_holds_goes_through_the_held_instance(warehouse):
    assert wc.hold(warehouse, idle_release=3600)
    with wc.connect(warehouse, read_only=True) as connection:  # a read-only open of a held file would be refused
        assert connection.execute("SELECT count(*) FROM t").fetchone()[0] == 10
    assert wc.release(warehouse)
    assert not wc.release(warehouse)


def test_rows_committed_by_a_holder_killed_with_sigkill_are_in_the_file(warehouse):
    holder = _python(HOLDER, str(warehouse), stdin=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "committed"
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
    with wc.connect(warehouse, read_only=True) as connection:  # DuckDB replays the WAL the holder left
        assert connection.execute("SELECT count(*) FROM t").fetchone()[0] == 110


#: A process whose watcher lets its hold go (another process waits) while the process ends at once: the close has
#: a WAL to checkpoint (the threshold keeps DuckDB from doing it at the commit), so it is still under way.
EXITING_HOLDER = (
    "import sys; from warehouse import connection as wc\n"
    "assert wc.hold(sys.argv[1], idle_release=3600)\n"
    "with wc.connect(sys.argv[1]) as c:\n"
    "    c.execute(\"SET checkpoint_threshold = '10GB'\")\n"
    "    c.execute(\"UPDATE big SET s = s || 'x'\")\n"
    "marker = wc.waiting_directory(sys.argv[1]) / '1-another-process'\n"  # PID 1 is alive
    "marker.parent.mkdir(exist_ok=True)\n"
    "marker.write_text('')\n"
    "while wc.held_files():\n"
    "    pass\n"
    "print('the watcher is letting go', flush=True)\n"
)


def test_a_process_that_ends_while_its_watcher_lets_go_waits_for_the_close(tmp_path):
    """The interpreter must not finalize under a close in progress: that cut the checkpoint off, or aborted the
    process with SIGABRT when the watcher came back for the GIL (a backfill exited -6 after its last commit)."""
    path = tmp_path / "w.duckdb"
    rows = 1_000_000
    with duckdb.connect(str(path)) as connection:
        connection.execute(f"CREATE TABLE big AS SELECT range AS i, md5(range::VARCHAR) AS s FROM range({rows})")
    holder = _python(EXITING_HOLDER, str(path))
    try:
        out, err = holder.communicate(timeout=120)
    finally:
        if holder.poll() is None:
            holder.kill()
    assert holder.returncode == 0, err[-2000:]
    assert out.strip() == "the watcher is letting go"
    assert "leaked" not in err, err[-2000:]  # nanobind: DuckDB objects alive at interpreter teardown
    assert not Path(f"{path}.wal").exists()  # the close checkpointed the update into the file
    with duckdb.connect(str(path), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM big WHERE s LIKE '%x'").fetchone()[0] == rows


def test_the_sink_holds_its_file_only_when_asked(tmp_path):
    from beam_pipelines.sinks.duckdb import DuckDBWarehouse

    unheld = DuckDBWarehouse(str(tmp_path / "a.duckdb"))
    unheld.prepare()
    unheld.write_metrics([])
    unheld.write_dead_letters([])
    assert wc.held_files() == []
    held = DuckDBWarehouse(str(tmp_path / "b.duckdb"), hold_seconds=3600)
    held.prepare()
    held.write_dead_letters([])
    assert wc.held_files() == [os.path.realpath(tmp_path / "b.duckdb")]
    wc.release_all()
    assert wc.held_files() == []
