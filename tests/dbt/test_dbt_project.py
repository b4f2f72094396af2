"""The dbt project's lists of business values agree with the contract and the pipeline they describe."""

from __future__ import annotations

import json

import yaml

from beam_pipelines import dead_letters
from schemas import validation
from warehouse import dbt_runner

PROJECT_VARS = yaml.safe_load((dbt_runner.DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]


def test_order_statuses_are_the_contracts_in_lifecycle_order() -> None:
    """accepted_values, is_sale/is_open and the status funnel all read var order_statuses."""
    contract = json.loads((dbt_runner.REPO_ROOT / "schemas" / "order_event.v1.json").read_text())
    assert PROJECT_VARS["order_statuses"] == contract["properties"]["order"]["properties"]["order_status"]["enum"]
    assert set(PROJECT_VARS["order_exit_statuses"]) < set(PROJECT_VARS["order_statuses"])


def test_dead_letter_error_stages_are_the_pipelines() -> None:
    """A stage the pipeline writes but dbt does not list would fail accepted_values on real dead letters."""
    pipeline_stages = {
        validation.STAGE_PARSE,
        validation.STAGE_SCHEMA,
        validation.STAGE_BUSINESS_RULE,
        dead_letters.STAGE_ROWS,
        dead_letters.STAGE_SINK,
    }
    assert set(PROJECT_VARS["dead_letter_error_stages"]) == pipeline_stages
