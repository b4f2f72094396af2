"""One SQL for both engines: BigQuery parses offline, and no BigQuery-only SQL reaches DuckDB."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fixture_data import DbtBuild

from warehouse import dbt_runner

MODELS_DIR = dbt_runner.DBT_PROJECT_DIR / "models"
TESTS_DIR = dbt_runner.DBT_PROJECT_DIR / "tests"

#: BigQuery functions and syntax that DuckDB lacks or reads differently. Models reach them only through
#: macros/ (adapter.dispatch) or a target.type branch.
BIGQUERY_ONLY = {
    "SAFE_CAST": r"\bsafe_cast\s*\(",
    "SAFE_DIVIDE": r"\bsafe_divide\s*\(",
    "FORMAT_TIMESTAMP/DATE/DATETIME": r"\bformat_(timestamp|date|datetime)\s*\(",
    "PARSE_TIMESTAMP/DATE": r"\bparse_(timestamp|date|datetime)\s*\(",
    "TIMESTAMP_DIFF/ADD/SUB/TRUNC": r"\btimestamp_(diff|add|sub|trunc)\s*\(",
    "DATETIME_DIFF/ADD/SUB/TRUNC": r"\bdatetime_(diff|add|sub|trunc)\s*\(",
    "DATE_ADD/DATE_SUB": r"\bdate_(add|sub)\s*\(",
    # DuckDB's own date_diff takes the part first, as a string: date_diff('day', a, b)
    "BigQuery DATE_DIFF(a, b, part)": r"\bdate_diff\s*\(\s*[^'\s]",
    "GENERATE_DATE/TIMESTAMP_ARRAY": r"\bgenerate_(date|timestamp)_array\s*\(",
    "_PARTITIONTIME/_PARTITIONDATE": r"\b_partition(time|date)\b",
    "EXTRACT(DAYOFWEEK)": r"\bextract\s*\(\s*dayofweek\b",
    "COUNTIF": r"\bcountif\s*\(",
    "APPROX_QUANTILES": r"\bapprox_quantiles\s*\(",
    "CURRENT_DATETIME": r"\bcurrent_datetime\b",
    "INT64/FLOAT64 types": r"\b(int64|float64)\b",
    "backtick identifiers": r"`",
}

_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
_SQL_COMMENT = re.compile(r"--[^\n]*")
# Macro calls and target.type branches are the allowed way to BigQuery SQL: the raw files are checked
# without their Jinja, the compiled local SQL with everything rendered.
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)


def offenders(sql: str) -> list[str]:
    code = _SQL_COMMENT.sub("", _JINJA_COMMENT.sub("", sql))
    return [name for name, pattern in BIGQUERY_ONLY.items() if re.search(pattern, code, re.IGNORECASE)]


def test_the_check_finds_bigquery_only_sql() -> None:
    sample = (
        "select safe_divide(a, b), timestamp_diff(x, y, day), date_diff(d1, d2, day), "
        "extract(dayofweek from d), `p.d.t` from t where _PARTITIONTIME > x"
    )
    assert {
        "SAFE_DIVIDE",
        "TIMESTAMP_DIFF/ADD/SUB/TRUNC",
        "BigQuery DATE_DIFF(a, b, part)",
        "EXTRACT(DAYOFWEEK)",
        "backtick identifiers",
        "_PARTITIONTIME/_PARTITIONDATE",
    } <= set(offenders(sample))
    assert offenders("select date_diff('second', a::timestamp, b::timestamp) -- safe_divide(") == []


@pytest.mark.parametrize(
    "sql_file",
    sorted([*MODELS_DIR.rglob("*.sql"), *TESTS_DIR.rglob("*.sql")]),
    ids=lambda path: path.name,
)
def test_model_files_use_no_bigquery_only_sql(sql_file: Path) -> None:
    assert offenders(_JINJA.sub("", sql_file.read_text())) == []


def test_compiled_local_sql_uses_no_bigquery_only_sql(dbt_build: DbtBuild) -> None:
    compiled = sorted((dbt_build.target_dir / "compiled").rglob("*.sql"))
    assert len(compiled) > 50
    found = {str(path.relative_to(dbt_build.target_dir)): offenders(path.read_text()) for path in compiled}
    assert {path: names for path, names in found.items() if names} == {}


def test_safe_cast_compiles_to_try_cast_on_duckdb(dbt_build: DbtBuild) -> None:
    (compiled,) = (dbt_build.target_dir / "compiled").rglob("stg_orders_rt__dead_letters.sql")
    assert "try_cast(schema_version as integer)" in compiled.read_text()


@pytest.fixture
def bigquery_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBT_BIGQUERY_PROJECT", "offline-project")
    monkeypatch.setenv("DBT_BIGQUERY_METHOD", "oauth")
    monkeypatch.setenv("DBT_BIGQUERY_DATASET", "orders_analytics")
    monkeypatch.setenv("DBT_BIGQUERY_LOCATION", "EU")


def parse_manifest(target: str, artifacts: Path) -> dict:
    exit_code = dbt_runner.run(
        "parse",
        ["--target-path", str(artifacts / "target"), "--log-path", str(artifacts / "logs")],
        target=target,
        analytics_path=artifacts / "parse_analytics.duckdb",
    )
    assert exit_code == 0
    return json.loads((artifacts / "target" / "manifest.json").read_text())


def test_dbt_parse_bigquery_offline(bigquery_env: None, tmp_path: Path) -> None:
    manifest = parse_manifest("bigquery", tmp_path)
    fct_orders = manifest["nodes"]["model.olist_orders.fct_orders"]["config"]
    assert fct_orders["materialized"] == "incremental"
    assert fct_orders["incremental_strategy"] == "merge"
    assert fct_orders["partition_by"] == {"field": "purchase_date", "data_type": "date", "granularity": "day"}
    assert fct_orders["cluster_by"] == ["order_id"]
    source = manifest["sources"]["source.olist_orders.orders_rt.orders"]
    assert (source["database"], source["schema"]) == ("offline-project", "orders_rt")


def test_bigquery_configs_stay_off_duckdb(tmp_path: Path) -> None:
    manifest = parse_manifest("local", tmp_path)
    fct_orders = manifest["nodes"]["model.olist_orders.fct_orders"]["config"]
    assert fct_orders["materialized"] == "table"
    assert fct_orders.get("partition_by") is None
    assert fct_orders.get("cluster_by") is None


def test_every_model_has_a_yml_stating_its_grain() -> None:
    for sql_file in MODELS_DIR.rglob("*.sql"):
        yml = sql_file.with_suffix(".yml")
        assert yml.is_file(), f"{sql_file.name} has no {yml.name}"
        assert "grain" in yml.read_text().lower(), f"{yml.name} does not state the grain"


@pytest.mark.parametrize("rt_model", sorted((MODELS_DIR / "realtime").glob("rt_*.sql")), ids=lambda p: p.name)
def test_realtime_views_filter_on_the_partition_columns(rt_model: Path) -> None:
    """BigQuery prunes partitions only when the view filters the partition column with a constant bound."""
    sql = rt_model.read_text()
    partition_filters = {
        "stg_orders_rt__orders": r"where purchased_at >= \{\{ timestamp_ago\(",
        "stg_orders_rt__dead_letters": r"where dead_lettered_at >= \{\{ timestamp_ago\(",
        "stg_orders_rt__pipeline_metrics": r"where minute_start >= \{\{ timestamp_ago\(",
    }
    used = [model for model in partition_filters if f"ref('{model}')" in sql]
    assert used
    for model in used:
        assert re.search(partition_filters[model], sql), f"{rt_model.name} reads {model} without a partition filter"
