"""The BigQuery SQL that dbt's models and data tests compile to, analyzed by ZetaSQL against the raw tables.

`dbt compile --target bigquery` needs BigQuery: credentials to open a client, a lookup of each incremental
model's table (``is_incremental()``), and the queries some macros run while rendering (dbt.date_spine). It runs
here offline through tests/sql/offline_dbt_compile.py (dbt-bigquery's client replaced, see there), twice: every
node with no table existing yet (full-refresh SQL), then the incremental models as if their table existed (the
``is_incremental()`` branch). The committed dbt/profiles.yml is used as is (DBT_BIGQUERY_* variables).

The catalog starts with the raw dataset as the pipeline leaves it: every table of schemas/bigquery/*.json, and the
``*_current`` views, created by analyzing their CREATE VIEW statements (beam_pipelines/sinks/compaction_sql.py),
so each view has the columns its query returns. On BigQuery dbt's sources read orders, order_items and
order_payments through those views (the compacted tables lag the changelog by up to an hour); on DuckDB, where
the pipeline upserts the tables, they read the tables (checked by a parse of the local target). Each model,
analyzed in dependency order, adds its output columns under its own relation name, so the next model resolves
it. Not analyzed: the statements dbt-bigquery's materializations wrap around a model at run time
(CREATE OR REPLACE TABLE/VIEW ... AS, the incremental MERGE), and dbt's unit tests (fixtures rendered only by
`dbt test`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from pathlib import Path

import pytest
from zetasql.core.local_service import ZetaSqlLocalService
from zetasql_catalog import BigQueryCatalog, SqlAnalysisError, output_columns, table_columns, type_name

from beam_pipelines.sinks.compaction_sql import CompactionSql, bigquery_dialect
from schemas import CURRENT_VIEWS, UPSERTED_TABLES, table_names, table_schema
from warehouse.dbt_runner import DBT_PROJECT_DIR

OFFLINE_COMPILE = Path(__file__).resolve().parent / "offline_dbt_compile.py"
PROJECT, DATASET, RAW_DATASET = "offline-project", "orders_analytics", "orders_rt"


def offline_compile(
    work: Path,
    *dbt_args: str,
    existing_relations: bool = False,
    target_name: str = "bigquery",
    command: str = "compile",
) -> dict:
    """Run the offline compile (or another dbt command) from dbt/ with the committed profile; its manifest."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DBT_", "ORDERS_RT_"))}
    env.update(
        DBT_TARGET=target_name,
        DBT_BIGQUERY_PROJECT=PROJECT,
        DBT_BIGQUERY_DATASET=DATASET,
        # The local target's file: never opened by a parse.
        DBT_DUCKDB_PATH=str(work / "not-opened.duckdb"),
        ORDERS_RT_SCHEMA=RAW_DATASET,
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DO_NOT_TRACK="1",
    )
    target = work / "target"
    arguments = [sys.executable, str(OFFLINE_COMPILE), *(["--existing-relations"] if existing_relations else [])]
    arguments += [command, "--profiles-dir", ".", "--target", target_name]
    arguments += ["--no-populate-cache"] if command == "compile" else []
    arguments += ["--target-path", str(target), "--log-path", str(work / "logs"), *dbt_args]
    result = subprocess.run(
        arguments, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    if result.returncode != 0:
        pytest.fail(f"offline dbt {command} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return json.loads((target / "manifest.json").read_text())


@dataclass
class DbtAnalysis:
    manifest: dict
    incremental_manifest: dict
    catalog: BigQueryCatalog = field(default_factory=BigQueryCatalog)
    analyzed: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)

    def nodes(self, resource_type: str) -> dict[str, dict]:
        return {key: n for key, n in self.manifest["nodes"].items() if n["resource_type"] == resource_type}

    def analyze(self, key: str, sql: str) -> object | None:
        try:
            resolved = self.catalog.analyze(sql)
        except SqlAnalysisError as error:
            self.failures[key] = error.message
            return None
        self.analyzed.append(key)
        return resolved


@pytest.fixture(scope="session")
def dbt_bigquery_sql(tmp_path_factory: pytest.TempPathFactory, zetasql: ZetaSqlLocalService) -> DbtAnalysis:
    """Both offline compiles (same target dir: the second reuses the first's parse), then every model in
    dependency order (one level at a time: the catalog is re-registered once per level), then every data test."""
    work = tmp_path_factory.mktemp("dbt-bigquery-compile")
    manifest = offline_compile(work)
    incremental = offline_compile(work, "--select", "config.materialized:incremental", existing_relations=True)
    result = DbtAnalysis(manifest, incremental)
    result.catalog.add_schema_tables(PROJECT, RAW_DATASET, [table_schema(name) for name in table_names()])
    views = CompactionSql(bigquery_dialect(PROJECT, RAW_DATASET)).views()
    result.catalog.analyze_script(";\n".join(views.values()))  # CREATE VIEW: each view joins the catalog

    models = result.nodes("model")
    order = TopologicalSorter({key: [d for d in n["depends_on"]["nodes"] if d in models] for key, n in models.items()})
    order.prepare()
    while order.is_active():
        level = order.get_ready()
        outputs = {key: result.analyze(key, models[key]["compiled_code"]) for key in level}
        for key, resolved in outputs.items():
            if resolved is not None:
                node = models[key]
                result.catalog.add_table([node["database"], node["schema"], node["alias"]], output_columns(resolved))
        order.done(*level)
    for key, node in result.nodes("test").items():
        result.analyze(key, node["compiled_code"])
    for key, node in incremental["nodes"].items():
        if node["resource_type"] == "model" and node.get("compiled_code"):
            result.analyze(f"{key} (incremental)", node["compiled_code"])
    return result


def test_every_model_compiles_to_bigquery_sql_that_analyzes(dbt_bigquery_sql: DbtAnalysis) -> None:
    models = dbt_bigquery_sql.nodes("model")
    assert len(models) == len(list((DBT_PROJECT_DIR / "models").rglob("*.sql")))
    assert {key: message for key, message in dbt_bigquery_sql.failures.items() if key in models} == {}
    assert set(models) <= set(dbt_bigquery_sql.analyzed)


def test_the_incremental_branch_analyzes(dbt_bigquery_sql: DbtAnalysis) -> None:
    incremental = [key for key in dbt_bigquery_sql.analyzed if key.endswith(" (incremental)")]
    assert incremental == ["model.olist_orders.fct_orders (incremental)"]
    (node,) = [n for n in dbt_bigquery_sql.incremental_manifest["nodes"].values() if n["name"] == "fct_orders"]
    assert f"from `{PROJECT}`.`{DATASET}`.`fct_orders`" in node["compiled_code"]  # {{ this }}: it reads itself


def test_every_data_test_analyzes(dbt_bigquery_sql: DbtAnalysis) -> None:
    tests = dbt_bigquery_sql.nodes("test")
    assert len(tests) > 75  # the project's own generic and singular tests: each model's not-null columns in one
    generic = {node["test_metadata"]["name"] for node in tests.values() if node.get("test_metadata")}
    assert generic >= {"not_null_columns", "primary_key", "unique", "relationships", "accepted_values"}
    assert {key: message for key, message in dbt_bigquery_sql.failures.items() if key in tests} == {}
    assert set(tests) <= set(dbt_bigquery_sql.analyzed)


def test_sources_read_the_current_views_on_bigquery(dbt_bigquery_sql: DbtAnalysis) -> None:
    sources = {s["name"]: s for s in dbt_bigquery_sql.manifest["sources"].values()}
    assert len(sources) == 8  # orders_rt (orders, items, payments, dead letters, pipeline_metrics) + olist (3)
    catalog = dbt_bigquery_sql.catalog
    for name, source in sources.items():
        identifier = CURRENT_VIEWS.get(name, name)  # the upserted tables through their views, the others as is
        assert source["relation_name"] == f"`{PROJECT}`.`{RAW_DATASET}`.`{identifier}`"
        # The relation exists in the raw dataset with the columns of the source's table.
        columns = catalog.table_columns(f"{PROJECT}.{RAW_DATASET}.{identifier}")
        assert columns is not None, source["relation_name"]
        assert typed_columns(columns) == typed_columns(table_columns(table_schema(name)))


def test_a_model_reading_a_view_resolves_it(dbt_bigquery_sql: DbtAnalysis) -> None:
    models = {n["name"]: (key, n) for key, n in dbt_bigquery_sql.nodes("model").items()}
    for table in UPSERTED_TABLES:
        key, node = models[f"stg_orders_rt__{table}"]
        assert f"`{PROJECT}`.`{RAW_DATASET}`.`{CURRENT_VIEWS[table]}`" in node["compiled_code"]
        assert f"`{RAW_DATASET}`.`{table}`" not in node["compiled_code"]
        assert key in dbt_bigquery_sql.analyzed


@pytest.mark.dbt  # runs dbt parse: not a unit test (the other Pythons' venvs have no dbt)
def test_sources_read_the_tables_on_duckdb(tmp_path: Path) -> None:
    """The local target has no changelog (the pipeline upserts the tables): its sources are the tables."""
    manifest = offline_compile(tmp_path, target_name="local", command="parse")
    names = {s["name"]: s["relation_name"] for s in manifest["sources"].values()}
    for table in UPSERTED_TABLES:
        assert names[table].endswith(f'."{RAW_DATASET}"."{table}"'), names[table]
    assert not any("_current" in relation for relation in names.values())


def typed_columns(columns) -> list[tuple[str, str]]:
    return [(name, type_name(type_)) for name, type_ in columns]


def test_a_model_reading_a_wrong_column_fails_the_analysis(dbt_bigquery_sql: DbtAnalysis) -> None:
    (node,) = [n for n in dbt_bigquery_sql.nodes("model").values() if n["name"] == "stg_orders_rt__orders"]
    assert "_sequence as snapshot_sequence" in node["compiled_code"]
    wrong = node["compiled_code"].replace("_sequence as snapshot_sequence", "_sequenc as snapshot_sequence")
    with pytest.raises(SqlAnalysisError, match="Unrecognized name: _sequenc"):
        dbt_bigquery_sql.catalog.analyze(wrong)
