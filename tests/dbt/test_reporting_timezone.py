"""The reporting-time macros (dbt/macros/time_functions.sql) give the same local day, month, hour, ISO weekday and
hour start on DuckDB and on BigQuery as Python's zoneinfo, around Brazil's daylight-saving changes.

One inline query of the macros is compiled for each target (`dbt compile --inline`; BigQuery offline through
tests/sql/offline_dbt_compile.py) and run on its engine: DuckDB itself, and ZetaSQL's reference implementation
for BigQuery's semantics (DATETIME(ts, zone), DATETIME_TRUNC ...).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest
from fixture_data import OLIST_ZONE

from warehouse import dbt_runner

OFFLINE_COMPILE = Path(__file__).resolve().parents[1] / "sql" / "offline_dbt_compile.py"

#: UTC instants around Brazil's DST changes: it began 2017-10-15 00:00 local (-03:00 -> -02:00, 00:00-00:59 did
#: not exist) and ended 2018-02-18 00:00 local (-02:00 -> -03:00, 23:00-23:59 of the 17th happened twice);
#: 2019-11-03 would have begun DST under the old rules (abolished in 2019); 2026 is plain -03:00.
INSTANTS = (
    "2017-10-15 02:30:00",
    "2017-10-15 02:59:59",
    "2017-10-15 03:00:00",
    "2017-11-01 01:00:00",
    "2017-11-01 02:00:00",
    "2018-02-18 01:30:00",
    "2018-02-18 02:30:00",
    "2018-02-18 03:00:00",
    "2019-11-03 03:30:00",
    "2026-01-01 02:59:00",
    "2026-01-01 03:00:00",
)
MEASURES = ("day", "month", "hour", "weekday", "hour_start")


def inline_query() -> str:
    """One row: for each instant, its local day, month (as text), hour, ISO weekday and hour start (as text)."""
    columns = []
    for n, instant in enumerate(INSTANTS):
        ts = f"literal ~ \" '{instant}+00'\""
        columns += [
            f"cast({{{{ local_date({ts}) }}}} as {{{{ dbt.type_string() }}}}) as day_{n}",
            f"cast({{{{ local_month({ts}) }}}} as {{{{ dbt.type_string() }}}}) as month_{n}",
            f"{{{{ local_hour({ts}) }}}} as hour_{n}",
            f"{{{{ iso_day_of_week(local_date({ts})) }}}} as weekday_{n}",
            f"cast({{{{ local_hour_start({ts}) }}}} as {{{{ dbt.type_string() }}}}) as hour_start_{n}",
        ]
    # the columns' type on each engine: TIMESTAMP on BigQuery, TIMESTAMPTZ on DuckDB
    literal = "{% set literal = 'timestamp' if target.type == 'bigquery' else 'timestamptz' %}"
    return literal + "select " + ", ".join(columns)


def expected() -> dict[str, object]:
    row: dict[str, object] = {}
    for n, instant in enumerate(INSTANTS):
        local = datetime.fromisoformat(instant).replace(tzinfo=timezone.utc).astimezone(OLIST_ZONE)
        row |= {
            f"day_{n}": local.date().isoformat(),
            f"month_{n}": local.date().replace(day=1).isoformat(),
            f"hour_{n}": local.hour,
            f"weekday_{n}": local.isoweekday(),
            f"hour_start_{n}": local.replace(minute=0, second=0, tzinfo=None).isoformat(sep=" "),
        }
    return row


def compiled(command: list[str], env: dict[str, str], work: Path) -> str:
    args = ["compile", "--inline", inline_query(), "--output", "json", "--quiet", "--no-populate-cache"]
    args += ["--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    result = subprocess.run(
        [*command, *args],
        cwd=dbt_runner.DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return json.loads(result.stdout[result.stdout.index("{") :])["compiled"]


def dbt_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DBT_")}
    return (
        env | {"DBT_PROFILES_DIR": str(dbt_runner.DBT_PROJECT_DIR), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"} | extra
    )


def test_the_expected_values_cross_the_changes() -> None:
    """The cases are what their comments say: the same local day from two offsets, a skipped and a repeated hour."""
    row = expected()
    assert row["day_0"] == "2017-10-14" and row["hour_start_2"] == "2017-10-15 01:00:00"
    assert row["month_3"] == "2017-10-01" and row["month_4"] == "2017-11-01"
    assert row["hour_start_5"] == row["hour_start_6"] == "2018-02-17 23:00:00"
    assert row["hour_9"] == 23 and row["day_10"] == "2026-01-01"


def test_duckdb_macros_match_zoneinfo(tmp_path: Path) -> None:
    env = dbt_env(DBT_TARGET="local", DBT_DUCKDB_PATH=str(tmp_path / "scratch.duckdb"))
    sql = compiled([sys.executable, "-m", "dbt.cli.main"], env, tmp_path)
    assert "timezone('America/Sao_Paulo'" in sql
    connection = duckdb.connect()
    try:
        # the macros do not depend on the session's zone (the profile sets UTC; a stray setting changes nothing)
        connection.execute("SET TimeZone = 'Asia/Tokyo'")
        cursor = connection.execute(sql)
        row = dict(zip([column[0] for column in cursor.description], cursor.fetchone(), strict=True))
    finally:
        connection.close()
    assert row == expected()


def test_bigquery_macros_match_zoneinfo(tmp_path: Path) -> None:
    pytest.importorskip("zetasql")
    env = dbt_env(
        DBT_TARGET="bigquery",
        DBT_BIGQUERY_PROJECT="offline-project",
        DBT_BIGQUERY_DATASET="orders_analytics",
        DBT_BIGQUERY_METHOD="oauth",
    )
    sql = compiled([sys.executable, str(OFFLINE_COMPILE)], env, tmp_path)
    assert "datetime(timestamp '2017-10-15 02:30:00+00', 'America/Sao_Paulo')" in sql
    spec = importlib.util.spec_from_file_location("offline_dbt_compile", OFFLINE_COMPILE)
    assert spec is not None and spec.loader is not None
    offline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(offline)
    names, rows = offline.evaluate(sql)
    assert dict(zip(names, rows[0], strict=True)) == expected()
