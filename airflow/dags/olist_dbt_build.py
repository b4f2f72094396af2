"""
### olist_dbt_build: the dbt project on BigQuery, every few minutes

Two tasks, one after the other:

1. **dbt_source_freshness**: `dbt source freshness --target bigquery`. The streaming sources (`orders_rt`)
   warn after 15 minutes without a write and fail after 60 (dbt/models/staging/orders_rt/_orders_rt__sources.yml);
   a failure here means the pipeline has stopped writing, and the build is skipped (`upstream_failed`).
2. **dbt_build**: `dbt build --target bigquery --exclude-resource-type unit_test`: models, snapshots and data
   tests, in dependency order. dbt's unit tests are left out, as dbt Labs advises for production: they check the
   models' logic on static inputs, which CI does on every change (tests/dbt, `make test`).

**Where dbt runs from.** The repository's `dbt/` folder, uploaded to the environment bucket's `data/dbt/`
(airflow/README.md), which Cloud Composer mounts on every worker at `/home/airflow/gcs/data/dbt`. Another
path: the Airflow Variable `olist_dbt_project_dir` (read when the task runs), else the environment variable
`OLIST_DBT_PROJECT_DIR` (read when the DAG is parsed). dbt's `target/` and `logs/` go to a temporary folder
on the worker, never to the mounted bucket.

**Connection.** dbt/profiles.yml (uploaded with the project) reads the environment variables
`DBT_BIGQUERY_PROJECT` (required; `GCP_PROJECT` when unset), `DBT_BIGQUERY_DATASET`, `DBT_BIGQUERY_LOCATION`
and `ORDERS_RT_SCHEMA` (the raw dataset); it authenticates as the environment's service account
(`DBT_BIGQUERY_METHOD=oauth`, the default).

**Schedule.** Every 5 minutes (cron `OLIST_DBT_SCHEDULE` to change it), one run at a time
(`max_active_runs=1`: a slow build delays the next run, never overlaps it), no catchup. Each task retries
twice after 30 seconds and is killed after its execution timeout.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

# Airflow 3 moved BashOperator to the standard provider and DAG to the Task SDK; Airflow 2 has them in core
# (and the provider only if it was installed). Try the new homes first: on 3.x the old ones are deprecated.
try:
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2 without apache-airflow-providers-standard
    from airflow.operators.bash import BashOperator
try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

DAG_ID = "olist_dbt_build"
#: Where Cloud Composer mounts the bucket's data/ folder, with the repository's dbt/ uploaded under it.
DEFAULT_PROJECT_DIR = os.environ.get("OLIST_DBT_PROJECT_DIR", "/home/airflow/gcs/data/dbt")
#: An Airflow Variable, if set, wins; read at run time (a template), so parsing the DAG never hits the database.
PROJECT_DIR = "{{ var.value.get('olist_dbt_project_dir', " + repr(DEFAULT_PROJECT_DIR) + ") }}"
SCHEDULE = os.environ.get("OLIST_DBT_SCHEDULE", "*/5 * * * *")
DBT_TARGET = "bigquery"
#: Production builds leave dbt's unit tests to CI (see the module's docstring).
BUILD_ARGS = "--exclude-resource-type unit_test"


def dbt_command(subcommand: str, extra_args: str = "") -> str:
    """A bash script running `dbt <subcommand> --target bigquery [extra_args]` from the project folder.

    dbt writes its artifacts (target/) and logs to a temporary folder removed afterwards: the project folder
    is the bucket's FUSE mount, shared by every worker. Its log lines still reach the task log (stdout).
    """
    return (
        "set -euo pipefail\n"
        'export DBT_BIGQUERY_PROJECT="${DBT_BIGQUERY_PROJECT:-${GCP_PROJECT:-}}"\n'
        'cd "$OLIST_DBT_PROJECT_DIR"\n'
        'work="$(mktemp -d)"\n'
        "trap 'rm -rf \"$work\"' EXIT\n"
        f'"${{OLIST_DBT_BIN:-dbt}}" {subcommand} --target {DBT_TARGET} --profiles-dir "$OLIST_DBT_PROJECT_DIR" '
        '--project-dir "$OLIST_DBT_PROJECT_DIR" --target-path "$work/target" --log-path "$work/logs"'
        f"{' ' + extra_args if extra_args else ''}\n"
    )


# Templated (BashOperator's env is a template field), added to the worker's own environment (append_env).
DBT_ENV = {"OLIST_DBT_PROJECT_DIR": PROJECT_DIR, "DBT_TARGET": DBT_TARGET}

default_args = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
}

with DAG(
    dag_id=DAG_ID,
    description="dbt source freshness, then dbt build, on BigQuery every few minutes",
    doc_md=__doc__,
    schedule=SCHEDULE,
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=45),
    default_args=default_args,
    tags=["olist", "dbt", "bigquery"],
) as dag:
    source_freshness = BashOperator(
        task_id="dbt_source_freshness",
        bash_command=dbt_command("source freshness"),
        env=DBT_ENV,
        append_env=True,
        execution_timeout=timedelta(minutes=5),
    )
    build = BashOperator(
        task_id="dbt_build",
        bash_command=dbt_command("build", BUILD_ARGS),
        env=DBT_ENV,
        append_env=True,
        execution_timeout=timedelta(minutes=20),
    )

    source_freshness >> build
