"""Run dbt on the project's warehouse with the right profile, target and DuckDB file.

    python -m warehouse.dbt_runner build                         # local DuckDB (default target)
    python -m warehouse.dbt_runner build --select fct_orders+    # extra arguments go to dbt
    python -m warehouse.dbt_runner docs generate
    python -m warehouse.dbt_runner build --target bigquery       # production, DBT_BIGQUERY_* env vars

Locking design (local target). DuckDB lets one process hold a file, and dbt-duckdb holds its file for a
whole build, while the pipeline writes the raw warehouse continuously. Building on the raw file would stall
the pipeline for the length of the build (and fail it once the build outlasts its lock timeout). So a
build never opens the raw file with dbt:

1. snapshot: one short unit of work (``warehouse.connection.connect``, read-only, which waits out the
   pipeline's lock with bounded backoff) copies the raw tables into a private build file;
2. build: dbt runs on that private file as long as it needs, holding no lock anyone else wants;
3. publish: on success the build file atomically replaces the analytics file (``os.replace``), so
   dashboards and ``dbt test``/``docs`` see either the previous complete build or the new one, never a
   half-built one. A failed build leaves the previous analytics file in place.

Nothing is lost (the raw file is only read) and nothing crashes (the pipeline waits at most the copy).
The analytics file is as fresh as its last build; run the build every minute or so for near-real-time
dashboards. Commands that only read (test, docs, show, compile) run on the published analytics file.

Unit tests. ``build`` leaves out dbt's unit tests unless ``--unit-tests`` is given (on every target): they
check the models' logic on static inputs, so they belong to development and CI (tests/dbt runs them on every
build it makes), not to the periodic builds of the live demo and production, as dbt Labs advises. The
exclusion is dbt's own DBT_EXCLUDE_RESOURCE_TYPES=unit_test (set unless the environment already sets it), so
an explicit ``--resource-type``/``--exclude-resource-type`` given to dbt still wins.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from schemas.settings import RAW_SCHEMA_ENV, add_duckdb_path_argument, default_duckdb_path, default_raw_schema
from warehouse.connection import DEFAULT_LOCK_TIMEOUT, connect
from warehouse.duckdb_schema import DEFAULT_SCHEMA, add_missing_columns, create_all_sql, quote

LOGGER = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt"
TARGETS = ("local", "bigquery")
#: The schema dbt builds into on the local target (dbt/profiles.yml).
DBT_SCHEMA = "analytics"

#: Environment variables: the raw warehouse (shared with the pipeline), the analytics file, the raw schema
#: (read by dbt/models/staging/orders_rt/_orders_rt__sources.yml) and the file dbt works on (read by dbt/profiles.yml).
DBT_DUCKDB_PATH_ENV = "DBT_DUCKDB_PATH"
ANALYTICS_PATH_ENV = "ORDERS_ANALYTICS_DUCKDB_PATH"

#: dbt commands that need the current raw data: they run on a fresh snapshot.
SNAPSHOT_COMMANDS = frozenset({"build", "run", "seed", "snapshot", "source", "freshness"})
#: Of those, the ones whose result becomes the new analytics file when dbt succeeds.
PUBLISH_COMMANDS = frozenset({"build", "run", "seed", "snapshot"})
#: dbt's variable for ``--exclude-resource-type``, and the builds it leaves the unit tests out of by default.
EXCLUDE_RESOURCE_TYPES_ENV = "DBT_EXCLUDE_RESOURCE_TYPES"
UNIT_TEST_EXCLUDING_COMMANDS = frozenset({"build"})


# dbt's console script, run with this interpreter (a bare `dbt` on PATH may belong to another environment).
_DBT_ENTRY = "import sys; from dbt.cli.main import cli; sys.exit(cli())"


@dataclass(frozen=True)
class DbtInvocation:
    """One dbt command line and the environment it runs in."""

    args: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path = DBT_PROJECT_DIR

    def run(self) -> int:
        command = [sys.executable, "-c", _DBT_ENTRY, *self.args]
        LOGGER.info("running dbt %s", " ".join(self.args))
        return subprocess.run(command, env=dict(self.env), cwd=self.cwd, check=False).returncode  # noqa: S603 (dbt as an argv list, no shell)


def default_analytics_path(duckdb_path: Path) -> Path:
    """``data/warehouse.duckdb`` -> ``data/warehouse_analytics.duckdb``."""
    return duckdb_path.with_name(f"{duckdb_path.stem}_analytics{duckdb_path.suffix or '.duckdb'}")


def snapshot_warehouse(
    duckdb_path: Path,
    snapshot_path: Path,
    raw_schema: str = DEFAULT_SCHEMA,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    base: Path | None = None,
) -> dict[str, int]:
    """Copy the raw tables of ``duckdb_path`` into ``snapshot_path`` (a new file, or a copy of ``base``);
    returns rows per table.

    The snapshot gets every table of the shared schemas (empty when the raw file lacks it), so a build
    works before the pipeline or the reference loader has run.
    """
    snapshot_path.parent.mkdir(parents=True, exist_ok=True)
    _remove_database(snapshot_path)
    if base is not None and base.exists():
        # Start from the last published build, so that a partial build (--select) still finds every other
        # model; its raw tables are replaced below.
        shutil.copyfile(base, snapshot_path)
    if not duckdb_path.exists():
        LOGGER.warning("%s does not exist yet: building on empty raw tables", duckdb_path)
        with connect(snapshot_path, lock_timeout=lock_timeout) as snapshot:
            for statement in create_all_sql(raw_schema):
                snapshot.execute(statement)
        return {}
    row_counts: dict[str, int] = {}
    with connect(duckdb_path, read_only=True, lock_timeout=lock_timeout) as raw:
        (raw_catalog,) = raw.execute("SELECT current_database()").fetchone()
        try:
            raw.execute(f"ATTACH '{_sql_string(snapshot_path)}' AS build_snapshot (READ_WRITE)")
        except duckdb.Error as error:  # the last build is not a readable DuckDB file: start from scratch
            LOGGER.warning("cannot reuse %s as the build's base (%s): building from scratch", base, error)
            _remove_database(snapshot_path)
            raw.execute(f"ATTACH '{_sql_string(snapshot_path)}' AS build_snapshot (READ_WRITE)")
        try:
            # The last build's raw tables go, whole: dropping them and copying the raw ones with CREATE TABLE AS
            # (no primary-key index to maintain; dbt's source tests check the keys) takes about a third of the
            # CPU of a DELETE and INSERT into the indexed tables (1.5 s against 4.8 s on 100,000 orders).
            for (table_name,) in _base_tables(raw, "build_snapshot", raw_schema):
                raw.execute(f"DROP TABLE build_snapshot.{quote(raw_schema)}.{quote(table_name)}")
            raw.execute(f"CREATE SCHEMA IF NOT EXISTS build_snapshot.{quote(raw_schema)}")
            for (table_name,) in _base_tables(raw, raw_catalog, raw_schema):
                source = f"{quote(raw_schema)}.{quote(table_name)}"
                raw.execute(f"CREATE TABLE build_snapshot.{source} AS SELECT * FROM {source}")
                (row_counts[table_name],) = raw.execute(f"SELECT count(*) FROM {source}").fetchone()
            # The shared DDL names no catalog: run it with the snapshot as the default database. It adds the
            # tables the raw file lacks (empty), and the columns a raw file older than schemas/ lacks.
            raw.execute("USE build_snapshot")
            for statement in create_all_sql(raw_schema):
                raw.execute(statement)
            add_missing_columns(raw, raw_schema)
        finally:
            raw.execute(f"USE {quote(raw_catalog)}")
            raw.execute("DETACH build_snapshot")
    return row_counts


def _base_tables(connection: duckdb.DuckDBPyConnection, catalog: str, schema: str) -> list[tuple[str]]:
    return connection.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? "
        "AND table_schema = ? AND table_type = 'BASE TABLE' ORDER BY table_name",
        [catalog, schema],
    ).fetchall()


def _sql_string(path: Path) -> str:
    return str(path).replace("'", "''")


def _remove_database(path: Path) -> None:
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)


def publish(build_path: Path, analytics_path: Path) -> None:
    """Atomically make ``build_path`` the analytics file (readers keep the old inode until they close)."""
    # A WAL left by a crashed writer of the previous analytics file would be replayed onto the new one.
    analytics_path.with_name(analytics_path.name + ".wal").unlink(missing_ok=True)
    os.replace(build_path, analytics_path)


@contextlib.contextmanager
def private_build_file(analytics_path: Path) -> Iterator[Path]:
    """The build file beside the analytics file, in ``.dbt-build/``, held by this process alone until it is
    published or removed: builds of one analytics file take turns (an advisory lock on ``.dbt-build.lock``).

    The build file has the analytics file's exact name: DuckDB names a file's catalog after it, and the
    views dbt creates refer to their tables through that catalog name, so a renamed file would break them.
    Its path is the same for every build, because dbt's profile names it: a new path changes the profile, and
    dbt then parses the whole project again instead of partially (10-12 s against ~6 s, BENCHMARKS.md).
    """
    build_dir = analytics_path.parent / ".dbt-build"
    analytics_path.parent.mkdir(parents=True, exist_ok=True)
    with open(analytics_path.parent / ".dbt-build.lock", "a+") as lock:
        if not _try_lock(lock):
            LOGGER.info("another dbt build of %s is running: waiting for it", analytics_path)
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            shutil.rmtree(build_dir, ignore_errors=True)
            build_dir.mkdir(parents=True)
            try:
                yield build_dir / analytics_path.name
            finally:
                shutil.rmtree(build_dir, ignore_errors=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _try_lock(lock) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def check_analytics_path(analytics_path: Path) -> None:
    if analytics_path.stem == DBT_SCHEMA:
        raise ValueError(
            f"analytics file {analytics_path} would name its DuckDB catalog {DBT_SCHEMA!r}, like dbt's "
            f"schema (dbt/profiles.yml), which makes names ambiguous: choose another file name"
        )


def dbt_environment(
    target: str, dbt_file: Path | None, raw_schema: str, *, exclude_unit_tests: bool = False
) -> dict[str, str]:
    env = dict(os.environ)
    env["DBT_PROFILES_DIR"] = str(DBT_PROJECT_DIR)
    env[RAW_SCHEMA_ENV] = raw_schema
    if dbt_file is not None:
        env[DBT_DUCKDB_PATH_ENV] = str(dbt_file.resolve())
    if exclude_unit_tests:
        env.setdefault(EXCLUDE_RESOURCE_TYPES_ENV, "unit_test")
    return env


def run(
    command: str,
    dbt_args: Sequence[str] = (),
    *,
    target: str = "local",
    duckdb_path: Path | None = None,
    analytics_path: Path | None = None,
    raw_schema: str = DEFAULT_SCHEMA,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    unit_tests: bool = False,
) -> int:
    """Run ``dbt <command> <dbt_args> --target <target>``; returns dbt's exit code.

    ``build`` leaves out the unit tests (DBT_EXCLUDE_RESOURCE_TYPES=unit_test) unless ``unit_tests``.
    """
    args = (command, *dbt_args, "--target", target)
    exclude_unit_tests = command in UNIT_TEST_EXCLUDING_COMMANDS and not unit_tests
    if exclude_unit_tests:
        LOGGER.info("unit tests left out of this %s (--unit-tests runs them)", command)
    if target != "local":
        env = dbt_environment(target, None, raw_schema, exclude_unit_tests=exclude_unit_tests)
        return DbtInvocation(args, env).run()
    duckdb_path = (duckdb_path or default_duckdb_path()).resolve()
    analytics_path = (analytics_path or default_analytics_path(duckdb_path)).resolve()
    check_analytics_path(analytics_path)
    if command not in SNAPSHOT_COMMANDS:
        return DbtInvocation(args, dbt_environment(target, analytics_path, raw_schema)).run()
    with private_build_file(analytics_path) as build_path:
        rows = snapshot_warehouse(duckdb_path, build_path, raw_schema, lock_timeout, base=analytics_path)
        LOGGER.info("snapshot of %s: %s", duckdb_path, rows or "empty")
        env = dbt_environment(target, build_path, raw_schema, exclude_unit_tests=exclude_unit_tests)
        exit_code = DbtInvocation(args, env).run()
        if exit_code == 0 and command in PUBLISH_COMMANDS:
            publish(build_path, analytics_path)
            LOGGER.info("published %s", analytics_path)
        elif command in PUBLISH_COMMANDS:
            LOGGER.error("dbt %s failed (exit %d): %s left unchanged", command, exit_code, analytics_path)
    return exit_code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m warehouse.dbt_runner",
        description=(
            "Run a dbt command on the project (dbt/) with DBT_PROFILES_DIR=dbt/. On the local target, "
            "build/run/source commands work on a snapshot of the raw DuckDB warehouse and, when they "
            "succeed, atomically replace the analytics DuckDB file; test/docs/show/compile read that file. "
            "Unrecognised arguments (e.g. --select fct_orders+, 'generate' after 'docs') are passed to dbt."
        ),
    )
    parser.add_argument("command", help="dbt command: build, run, test, docs, source, parse, compile, show …")
    parser.add_argument(
        "--target",
        choices=TARGETS,
        default=os.environ.get("DBT_TARGET", "local"),
        help="local: dbt-duckdb on DuckDB files; bigquery: production via DBT_BIGQUERY_* (default: local)",
    )
    add_duckdb_path_argument(parser, "raw warehouse written by the pipeline")
    parser.add_argument(
        "--analytics-path",
        type=Path,
        default=Path(os.environ[ANALYTICS_PATH_ENV]) if os.environ.get(ANALYTICS_PATH_ENV) else None,
        help="DuckDB file holding dbt's models (default: $ORDERS_ANALYTICS_DUCKDB_PATH or "
        "<duckdb-path stem>_analytics.duckdb beside the raw file)",
    )
    parser.add_argument(
        "--raw-schema",
        default=default_raw_schema(),
        help=f"schema/dataset of the raw tables (default: $ORDERS_RT_SCHEMA or {DEFAULT_SCHEMA})",
    )
    parser.add_argument(
        "--lock-timeout",
        type=float,
        default=DEFAULT_LOCK_TIMEOUT,
        help=f"seconds to wait for the pipeline's lock on the raw file (default: {DEFAULT_LOCK_TIMEOUT:.0f})",
    )
    parser.add_argument(
        "--unit-tests",
        action="store_true",
        help="build: run dbt's unit tests too (left out by default, as in production: they test the models' "
        "logic on static inputs, which development and CI do)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args, dbt_args = build_parser().parse_known_args(argv)
    return run(
        args.command,
        dbt_args,
        target=args.target,
        duckdb_path=args.duckdb_path,
        analytics_path=args.analytics_path,
        raw_schema=args.raw_schema,
        lock_timeout=args.lock_timeout,
        unit_tests=args.unit_tests,
    )


if __name__ == "__main__":
    sys.exit(main())
