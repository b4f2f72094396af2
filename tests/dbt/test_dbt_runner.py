"""warehouse.dbt_runner: the snapshot it builds on, and what it publishes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from schemas import table_schema
from warehouse import connection as connection_module
from warehouse import dbt_runner
from warehouse.duckdb_schema import create_table_sql

ROOT = Path(__file__).resolve().parents[2]


def table_counts(path: Path, schema: str = "orders_rt") -> dict[str, int]:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [schema]
        ).fetchall()
        return {name: connection.execute(f'SELECT count(*) FROM {schema}."{name}"').fetchone()[0] for (name,) in tables}
    finally:
        connection.close()


def test_snapshot_copies_every_raw_table_and_leaves_the_raw_file_alone(warehouse_path: Path, tmp_path: Path) -> None:
    before = warehouse_path.read_bytes()
    snapshot = tmp_path / "snapshot.duckdb"
    copied = dbt_runner.snapshot_warehouse(warehouse_path, snapshot)
    assert copied == table_counts(warehouse_path)
    assert table_counts(snapshot) == copied
    assert copied["orders"] > 0 and copied["products"] > 0
    assert warehouse_path.read_bytes() == before
    # the lock is released: another connection may write the raw file right away
    duckdb.connect(str(warehouse_path)).close()


def test_snapshot_replaces_the_last_builds_raw_tables_and_keeps_its_models(
    warehouse_path: Path, tmp_path: Path
) -> None:
    base = tmp_path / "warehouse_analytics.duckdb"
    dbt_runner.snapshot_warehouse(warehouse_path, base)
    last_build = duckdb.connect(str(base))
    last_build.execute(
        "INSERT INTO orders_rt.orders SELECT * REPLACE ('stale-' || order_id AS order_id) FROM orders_rt.orders"
    )
    last_build.execute("CREATE TABLE orders_rt.dead_letter_replays_old AS SELECT 1 AS x")  # gone from the raw file
    last_build.execute("CREATE SCHEMA analytics")
    last_build.execute("CREATE TABLE analytics.fct_orders AS SELECT 42 AS order_count")
    last_build.close()
    snapshot = tmp_path / "build" / base.name
    copied = dbt_runner.snapshot_warehouse(warehouse_path, snapshot, base=base)
    assert copied == table_counts(warehouse_path)
    assert table_counts(snapshot) == copied  # no stale row, no table the raw file does not have
    check = duckdb.connect(str(snapshot), read_only=True)
    try:  # a partial build still finds the models of the last one
        assert check.execute("SELECT order_count FROM analytics.fct_orders").fetchall() == [(42,)]
    finally:
        check.close()


def test_snapshot_of_a_missing_warehouse_has_the_empty_tables(tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot.duckdb"
    assert dbt_runner.snapshot_warehouse(tmp_path / "absent.duckdb", snapshot) == {}
    counts = table_counts(snapshot)
    assert set(counts) >= {"orders", "order_items", "order_payments", "order_events_dead_letter", "products"}
    assert set(counts.values()) == {0}
    assert not (tmp_path / "absent.duckdb").exists()


def test_a_failed_build_leaves_the_published_file_and_no_build_files(warehouse_path: Path, tmp_path: Path) -> None:
    analytics = tmp_path / "warehouse_analytics.duckdb"
    analytics.write_bytes(b"previous build")
    exit_code = dbt_runner.run("build", ["--no-such-dbt-flag"], duckdb_path=warehouse_path, analytics_path=analytics)
    assert exit_code != 0
    assert analytics.read_bytes() == b"previous build"
    # only the (empty) lock that makes builds of this file take turns is left beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == [".dbt-build.lock", "warehouse_analytics.duckdb"]
    assert (tmp_path / ".dbt-build.lock").stat().st_size == 0


def test_every_build_gets_the_same_path_and_builds_of_one_file_take_turns(tmp_path: Path) -> None:
    analytics = tmp_path / "warehouse_analytics.duckdb"
    with dbt_runner.private_build_file(analytics) as first:
        first.write_bytes(b"build")
    assert not first.exists()
    with dbt_runner.private_build_file(analytics) as second:
        assert second == first  # dbt's profile names it: a stable path keeps dbt's partial parsing
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_A_BUILD, str(analytics)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout.readline().strip() == "building"
        with open(tmp_path / ".dbt-build.lock", "a+") as lock:
            assert dbt_runner._try_lock(lock) is False  # another process builds: this one would wait
        holder.communicate("done\n", timeout=60)
        with open(tmp_path / ".dbt-build.lock", "a+") as lock:
            assert dbt_runner._try_lock(lock) is True
    finally:
        if holder.poll() is None:
            holder.kill()


HOLD_A_BUILD = (
    "import sys; from pathlib import Path; from warehouse import dbt_runner\n"
    "with dbt_runner.private_build_file(Path(sys.argv[1])):\n"
    "    print('building', flush=True); sys.stdin.readline()\n"
)


def test_publish_replaces_the_analytics_file_and_drops_its_stale_wal(tmp_path: Path) -> None:
    analytics = tmp_path / "warehouse_analytics.duckdb"
    analytics.write_bytes(b"old")
    (tmp_path / "warehouse_analytics.duckdb.wal").write_bytes(b"old wal")
    build = tmp_path / "build" / "warehouse_analytics.duckdb"
    build.parent.mkdir()
    build.write_bytes(b"new")
    dbt_runner.publish(build, analytics)
    assert analytics.read_bytes() == b"new"
    assert not build.exists()
    assert not (tmp_path / "warehouse_analytics.duckdb.wal").exists()


def test_analytics_file_named_like_the_dbt_schema_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ambiguous"):
        dbt_runner.run("build", duckdb_path=tmp_path / "w.duckdb", analytics_path=tmp_path / "analytics.duckdb")


def test_default_paths() -> None:
    raw = Path("/data/warehouse.duckdb")
    assert dbt_runner.default_analytics_path(raw) == Path("/data/warehouse_analytics.duckdb")


def test_help_names_the_commands_and_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        dbt_runner.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--target", "--duckdb-path", "--analytics-path", "--raw-schema", "build"):
        assert flag in text


def test_extra_arguments_go_to_dbt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[tuple] = []
    monkeypatch.setattr(dbt_runner.DbtInvocation, "run", lambda self: calls.append((self.args, self.env)) or 0)
    exit_code = dbt_runner.main(
        [
            "docs",
            "generate",
            "--analytics-path",
            str(tmp_path / "a_analytics.duckdb"),
            "--select",
            "fct_orders",
        ]
    )
    assert exit_code == 0
    ((args, env),) = calls
    assert args == ("docs", "generate", "--select", "fct_orders", "--target", "local")
    assert env["DBT_PROFILES_DIR"] == str(dbt_runner.DBT_PROJECT_DIR)
    assert env["DBT_DUCKDB_PATH"] == str((tmp_path / "a_analytics.duckdb").resolve())


HOLD_LOCK = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1])
print("locked", flush=True)
sys.stdin.readline()
connection.close()
"""


def test_snapshot_waits_for_another_process_to_release_the_raw_file(
    warehouse_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = tmp_path / "warehouse.duckdb"
    raw.write_bytes(warehouse_path.read_bytes())
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(raw)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        backoffs: list[float] = []
        real_sleep = connection_module.time.sleep

        def release_on_first_backoff(seconds: float) -> None:
            # the snapshot found the file locked and backs off: now let the other process finish
            backoffs.append(seconds)
            if len(backoffs) == 1:
                holder.stdin.write("done\n")
                holder.stdin.flush()
                holder.wait(timeout=30)
            real_sleep(seconds)

        monkeypatch.setattr(connection_module.time, "sleep", release_on_first_backoff)
        copied = dbt_runner.snapshot_warehouse(raw, tmp_path / "snapshot.duckdb", lock_timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert backoffs, "the raw file was never seen locked"
    assert copied == table_counts(warehouse_path)


WRITE_RAW = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1])
connection.execute("UPDATE orders_rt.orders SET _sequence = _sequence + 1 WHERE order_id = 'late_delivery'")
connection.close()
"""


def test_the_pipeline_can_write_the_raw_file_while_dbt_builds(
    warehouse_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = tmp_path / "warehouse.duckdb"
    raw.write_bytes(warehouse_path.read_bytes())
    seen: list[str] = []

    def dbt_while_the_pipeline_writes(invocation: dbt_runner.DbtInvocation) -> int:
        seen.append(invocation.env["DBT_DUCKDB_PATH"])
        # another process (the pipeline) writes the raw file during the build
        return subprocess.run([sys.executable, "-c", WRITE_RAW, str(raw)], check=False).returncode

    monkeypatch.setattr(dbt_runner.DbtInvocation, "run", dbt_while_the_pipeline_writes)
    analytics = tmp_path / "warehouse_analytics.duckdb"
    assert dbt_runner.run("build", duckdb_path=raw, analytics_path=analytics) == 0
    (built_on,) = seen
    assert Path(built_on) != raw.resolve()
    assert Path(built_on).name == analytics.name
    assert analytics.is_file()


def test_a_partial_build_after_a_full_one_finds_every_other_model(dbt_build, tmp_path: Path) -> None:
    analytics = tmp_path / "warehouse_analytics.duckdb"
    analytics.write_bytes(dbt_build.analytics_path.read_bytes())
    exit_code = dbt_runner.run(
        "build", ["--select", "fct_orders"], duckdb_path=dbt_build.raw_path, analytics_path=analytics
    )
    assert exit_code == 0
    connection = duckdb.connect(str(analytics), read_only=True)
    try:  # the model it built and one it did not are both there
        assert connection.execute("SELECT count(*) FROM analytics.fct_orders").fetchone()[0] > 0
        assert connection.execute("SELECT count(*) FROM analytics.dim_products").fetchone()[0] > 0
    finally:
        connection.close()


def test_a_last_build_from_before_schema_version_2_gets_the_new_columns_in_the_snapshot(tmp_path: Path) -> None:
    raw = tmp_path / "raw.duckdb"
    connection_module.ensure_tables(raw)
    base = tmp_path / "analytics.duckdb"
    old = duckdb.connect(str(base))
    orders = table_schema("orders")
    version_1 = replace(orders, columns=tuple(c for c in orders.columns if "schema version 2" not in c.description))
    old.execute("CREATE SCHEMA orders_rt")
    old.execute(create_table_sql(version_1))  # the raw orders of a build from before schema version 2
    old.close()
    snapshot = tmp_path / "snapshot.duckdb"
    dbt_runner.snapshot_warehouse(raw, snapshot, base=base)
    check = duckdb.connect(str(snapshot), read_only=True)
    try:
        query = "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?"
        columns = {row[0] for row in check.execute(query, ["orders_rt", "orders"]).fetchall()}
    finally:
        check.close()
    assert {"channel", "review_score", "_schema_version"} <= columns


def test_build_leaves_the_unit_tests_out_unless_asked(
    dbt_build, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What dbt ran (its run_results.json) for one model with unit tests, built by the command line as the
    demo runs it, then with --unit-tests."""
    monkeypatch.delenv(dbt_runner.EXCLUDE_RESOURCE_TYPES_ENV, raising=False)
    analytics = tmp_path / dbt_build.analytics_path.name
    shutil.copyfile(dbt_build.analytics_path, analytics)

    def ran(*flags: str) -> Counter:
        artifacts = tmp_path / ("with" if flags else "without")
        paths = ["--duckdb-path", str(dbt_build.raw_path), "--analytics-path", str(analytics)]
        artifact_paths = ["--target-path", str(artifacts / "target"), "--log-path", str(artifacts / "logs")]
        exit_code = dbt_runner.main(
            ["build", *flags, *paths, "--select", "stg_orders_rt__dead_letters", *artifact_paths]
        )
        assert exit_code == 0
        results = json.loads((artifacts / "target" / "run_results.json").read_text())["results"]
        assert {r["status"] for r in results} <= {"success", "pass"}
        return Counter(r["unique_id"].split(".", 1)[0] for r in results)

    default = ran()
    assert default["model"] == 1 and default["test"] > 0
    assert default["unit_test"] == 0
    with_unit_tests = ran("--unit-tests")
    assert with_unit_tests["unit_test"] >= 2  # the model's two unit tests (dbt/models/staging/orders_rt)
    assert with_unit_tests - Counter(unit_test=with_unit_tests["unit_test"]) == default
