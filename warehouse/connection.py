"""Short-lived DuckDB connections that wait out another process's lock, and a writer's hold that steps aside.

DuckDB lets one process at a time hold a file read-write (a read-write connection in one process blocks every
other process, readers too). So every process here — pipeline sink, dbt runner, reference loader,
dashboard — opens the file only for one unit of work and retries a lock conflict with bounded, jittered
backoff instead of failing.

Opening a file costs 20-35 ms (DuckDB builds a database instance) and closing the last connection 30-55 ms more
(it checkpoints the WAL into the file): more than the upsert of a live flush (bench/upsert_flush.py). So the
pipeline's sink *holds* its file (``hold``): one extra connection keeps the database instance alive in the
process, every unit of work opens a connection to that same instance (DuckDB reuses it: ≈1 ms) and its close
checkpoints nothing. The hold steps aside when somebody else needs the file:

- a process whose ``connect`` meets the lock leaves a marker, ``<file>.waiting/<pid>-<id>``, until it is done;
  a watcher thread in the holding process sees it within ``WATCH_INTERVAL`` and lets go (the instance closes,
  with its checkpoint, once the unit in progress, if any, has ended); no hold is taken while a live process's
  marker is there, and markers of processes that are gone are removed;
- a hold that no unit has used for ``idle_release`` seconds lets go too, so tools that know nothing of markers
  (the duckdb CLI, a BI tool) get the file whenever the stream pauses.

Commits are as durable either way (each is in the WAL before it returns); a holder killed with -9 leaves a WAL
that the next open replays.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb

from schemas.settings import DEFAULT_IDLE_RELEASE, DEFAULT_LOCK_TIMEOUT
from warehouse.duckdb_schema import DEFAULT_SCHEMA, MissingRequiredColumnError, add_missing_columns, create_all_sql

LOGGER = logging.getLogger(__name__)


class WarehouseLockedError(RuntimeError):
    """The DuckDB file stayed locked by another process for longer than the timeout."""


#: How often a holding process looks for other processes waiting for its file.
WATCH_INTERVAL = 0.01


def is_lock_conflict(error: BaseException) -> bool:
    text = str(error)
    return isinstance(error, duckdb.IOException) and (
        "Could not set lock" in text or "Conflicting lock" in text or "lock on file" in text
    )


@contextlib.contextmanager
def connect(
    path: str | Path,
    *,
    read_only: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    initial_backoff: float = 0.005,
    max_backoff: float = 0.5,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open ``path`` for one unit of work, waiting (bounded) while another process holds the lock."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    if _HOLDS.used(path) and read_only:
        # This process holds the file read-write, and DuckDB refuses a second configuration of one instance in a
        # process: read through the held instance (the unit still only reads).
        read_only = False
    deadline = time.monotonic() + lock_timeout
    backoff = initial_backoff
    attempts = 0
    marker: Path | None = None
    try:
        while True:
            attempts += 1
            try:
                connection = duckdb.connect(str(path), read_only=read_only)
                break
            except duckdb.IOException as error:
                if not is_lock_conflict(error):
                    raise
                if marker is None:
                    marker = _leave_marker(path)  # asks a holding pipeline to let go
                if time.monotonic() + backoff > deadline:
                    raise WarehouseLockedError(
                        f"{path} stayed locked by another process for {lock_timeout:.0f}s ({attempts} attempts): "
                        f"{error}"
                    ) from error
                time.sleep(backoff * (0.5 + random.random()))  # noqa: S311 (backoff jitter, not security)
                backoff = min(backoff * 2, max_backoff)
        if attempts > 1:
            LOGGER.debug("opened %s after %d attempts (lock held elsewhere)", path, attempts)
        try:
            # Timestamps are instants (TIMESTAMPTZ); sessions show and truncate them in UTC, like BigQuery.
            connection.execute("SET TimeZone = 'UTC'")
            yield connection
        finally:
            connection.close()
    finally:
        if marker is not None:
            _remove_marker(marker)


def waiting_directory(path: str | Path) -> Path:
    """Where processes waiting for ``path`` leave their markers."""
    path = Path(path)
    return path.with_name(path.name + ".waiting")


def _leave_marker(path: Path) -> Path | None:
    marker = waiting_directory(path) / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    try:
        marker.parent.mkdir(exist_ok=True)
        marker.touch()
    except OSError as error:  # a read-only directory: wait without asking
        LOGGER.debug("cannot leave a waiting marker for %s: %s", path, error)
        return None
    return marker


def _remove_marker(marker: Path) -> None:
    with contextlib.suppress(OSError):
        marker.unlink()
    with contextlib.suppress(OSError):
        marker.parent.rmdir()  # only when empty: others may be waiting still


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # somebody else's process
    return True


def others_waiting(path: str | Path) -> bool:
    """Whether another live process has left a marker for ``path`` (markers of dead processes are removed)."""
    try:
        entries = os.scandir(waiting_directory(path))
    except OSError:
        return False
    waiting = False
    with entries:
        for entry in entries:
            pid_text = entry.name.split("-", 1)[0]
            if not pid_text.isdigit() or int(pid_text) == os.getpid():
                continue
            if _process_alive(int(pid_text)):
                waiting = True
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
    return waiting


class _Holds:
    """The files this process holds open, and the watcher thread that lets them go (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closing = threading.Lock()  # held while a hold's connection closes (and checkpoints)
        self._stopping = threading.Event()  # release_all asks the watcher to stop
        self._held: dict[str, tuple[duckdb.DuckDBPyConnection, float]] = {}  # key -> (connection, idle_release)
        self._last_used: dict[str, float] = {}
        self._watcher: threading.Thread | None = None

    @staticmethod
    def key(path: str | Path) -> str:
        return os.path.realpath(path)

    def used(self, path: str | Path) -> bool:
        """Whether ``path`` is held here; marks the hold as used now."""
        key = self.key(path)
        if key not in self._held:
            return False
        self._last_used[key] = time.monotonic()
        return True

    def hold(self, path: str | Path, idle_release: float) -> bool:
        key = self.key(path)
        if self.used(key):
            return True
        if others_waiting(path):
            return False
        try:
            connection = duckdb.connect(str(path))
        except duckdb.Error as error:  # locked elsewhere, or not a database: units open (and wait) as before
            LOGGER.debug("not holding %s: %s", path, error)
            return False
        with self._lock:
            if key in self._held:  # another thread took it meanwhile
                connection.close()
                return True
            self._held[key] = (connection, idle_release)
            self._last_used[key] = time.monotonic()
            if self._watcher is None or not self._watcher.is_alive():
                self._watcher = threading.Thread(target=self._watch, name="duckdb-hold-watcher", daemon=True)
                self._watcher.start()
        LOGGER.debug("holding %s open", path)
        return True

    def release(self, path: str | Path) -> bool:
        key = self.key(path)
        with self._closing:
            with self._lock:
                held = self._held.pop(key, None)
                self._last_used.pop(key, None)
            if held is None:
                return False
            held[0].close()  # the instance closes (and checkpoints) now, or when the unit in progress ends
        LOGGER.debug("let %s go", key)
        return True

    def release_all(self) -> None:
        """Let every hold go, after the watcher has stopped: a close it has under way ends first. At interpreter
        exit (atexit) that matters: a thread still inside DuckDB's close when the interpreter finalizes is cut
        off mid-checkpoint, or aborts the process (SIGABRT) as it returns for the GIL."""
        watcher = self._watcher
        if watcher is not None and watcher is not threading.current_thread():
            self._stopping.set()
            watcher.join()
            self._stopping.clear()
        for key in list(self._held):
            self.release(key)

    def held(self) -> list[str]:
        return list(self._held)

    def _watch(self) -> None:
        while self._held and not self._stopping.wait(WATCH_INTERVAL):
            now = time.monotonic()
            for key, (_, idle_release) in list(self._held.items()):
                if now - self._last_used.get(key, now) >= idle_release or others_waiting(key):
                    try:
                        self.release(key)
                    except Exception as error:  # a failed checkpoint must not kill the watcher
                        LOGGER.warning("letting %s go failed: %s: %s", key, type(error).__name__, error)


_HOLDS = _Holds()
atexit.register(_HOLDS.release_all)


def hold(path: str | Path, idle_release: float = DEFAULT_IDLE_RELEASE) -> bool:
    """Keep ``path``'s database open in this process so that ``connect`` units on it are cheap, until another
    process waits for it or no unit used it for ``idle_release`` seconds. True when held now."""
    return _HOLDS.hold(path, idle_release)


def release(path: str | Path) -> bool:
    """Let ``path`` go if this process holds it (the last connection's close checkpoints)."""
    return _HOLDS.release(path)


def release_all() -> None:
    """Let every held file go (at the end of a pipeline run; also at interpreter exit)."""
    _HOLDS.release_all()


def held_files() -> list[str]:
    return _HOLDS.held()


def ensure_tables(
    path: str | Path, schema: str = DEFAULT_SCHEMA, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
) -> list[str]:
    """Create the warehouse schema and every missing table in ``path``, and add the nullable columns that a
    newer version of schemas/ has and an older file lacks. Returns the columns added ("table.column")."""
    with connect(path, lock_timeout=lock_timeout) as connection:
        for statement in create_all_sql(schema):
            connection.execute(statement)
        try:
            added = add_missing_columns(connection, schema)
        except MissingRequiredColumnError as error:
            raise RuntimeError(f"{path}: {error}; migrate the file or start a new one") from None
    if added:
        LOGGER.warning("%s: added columns from a newer schema: %s", path, ", ".join(added))
    return added
