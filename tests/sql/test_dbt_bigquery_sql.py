"""The BigQuery SQL that dbt's models and data tests compile to, analyzed by ZetaSQL against the raw tables.

`dbt compile --target bigquery` needs BigQuery: credentials to open a client, a lookup of each incremental
model's table (``is_incremental()``), and the queries some macros run while rendering (dbt.date_spine). It runs
here offline through tests/sql/offline_dbt_compile.py (dbt-bigquery's client replaced, see there), twice: every
node with no table existing yet (full-refresh SQL), then the incremental models as if their table existed (the
``is_incremental()`` branch). The committed dbt/profiles.yml is used as is (DBT_BIGQUERY_* variables).

The catalog starts with the sources (schemas/bigquery/*.json under the names dbt's sources compile to); each
model, analyzed in dependency order, adds its output columns under its own relation name, so the next model
resolves it. Not analyzed: the statements dbt-bigquery's materializations wrap around a model at run time
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
from zetasql_catalog import BigQueryCatalog, SqlAnalysisError, output_columns, table_columns

from schemas import table_schema
from warehouse.dbt_runner import DBT_PROJECT_DIR

OFFLINE_COMPILE = Path(__file__).resolve().parent / "offline_dbt_compile.py"
PROJECT, DATASET, RAW_DATASET = "offline-project", "orders_analytics", "orders_rt"


def offline_compile(work: Path, *dbt_args: str, existing_relations: bool = False) -> dict:
    """Run the offline compile from dbt/ with the committed profile; its manifest."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DBT_", "ORDERS_RT_"))}
    env.update(
        DBT_TARGET="bigquery",
        DBT_BIGQUERY_PROJECT=PROJECT,
        DBT_BIGQUERY_DATASET=DATASET,
        ORDERS_RT_SCHEMA=RAW_DATASET,
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DO_NOT_TRACK="1",
    )
    target = work / "target"
    command = [sys.executable, str(OFFLINE_COMPILE), *(["--existing-relations"] if existing_relations else [])]
    command += ["compile", "--profiles-dir", ".", "--target", "bigquery", "--no-populate-cache"]
    command += ["--target-path", str(target), "--log-path", str(work / "logs"), *dbt_args]
    result = subprocess.run(
        command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    if result.returncode != 0:
        pytest.fail(f"offline dbt compile failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
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
    for source in manifest["sources"].values():
        parts = [source["database"], source["schema"], source["identifier"]]
        result.catalog.add_table(parts, table_columns(table_schema(source["name"])))

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
    assert len(tests) > 100
    assert {key: message for key, message in dbt_bigquery_sql.failures.items() if key in tests} == {}


def test_sources_compile_to_the_pipeline_tables(dbt_bigquery_sql: DbtAnalysis) -> None:
    names = {s["relation_name"] for s in dbt_bigquery_sql.manifest["sources"].values()}
    assert f"`{PROJECT}`.`{RAW_DATASET}`.`orders`" in names and len(names) == 7


def test_a_model_reading_a_wrong_column_fails_the_analysis(dbt_bigquery_sql: DbtAnalysis) -> None:
    (node,) = [n for n in dbt_bigquery_sql.nodes("model").values() if n["name"] == "stg_orders_rt__orders"]
    assert "_sequence as snapshot_sequence" in node["compiled_code"]
    wrong = node["compiled_code"].replace("_sequence as snapshot_sequence", "_sequenc as snapshot_sequence")
    with pytest.raises(SqlAnalysisError, match="Unrecognized name: _sequenc"):
        dbt_bigquery_sql.catalog.analyze(wrong)
