"""bi/README.md: the Looker Studio linking-API URL adds every rt_* view as a BigQuery data source.

The parameters follow https://developers.google.com/looker-studio/integrate/linking-api (BigQuery connector,
type TABLE): a renamed or new rt_* model, or another dataset, fails here until the link follows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from urllib.parse import parse_qsl, urlsplit

from bi_dbt_models import BI_DIR, analytics_dataset, model_paths

LINK = re.compile(r"https://lookerstudio\.google\.com/reporting/create\?\S+")
BIGQUERY_TABLE_PARAMETERS = {"connector", "type", "projectId", "billingProjectId", "datasetId", "tableId"}
OPTIONAL_PARAMETERS = {"datasourceName", "refreshFields", "keepDatasourceName"}


def linking_url() -> str:
    (url,) = LINK.findall((BI_DIR / "README.md").read_text())
    return url


def test_link_adds_every_rt_view_as_a_bigquery_table() -> None:
    parts = urlsplit(linking_url())
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "lookerstudio.google.com", "/reporting/create")
    data_sources: dict[str, dict[str, str]] = defaultdict(dict)
    for key, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True):
        if key.startswith("ds."):
            _, alias, parameter = key.split(".", 2)
            assert parameter not in data_sources[alias], f"{key} given twice"
            data_sources[alias][parameter] = value
        else:
            assert key in {"r.reportName", "c.reportId", "c.mode"}, f"unexpected parameter {key}"
    tables = set()
    for alias, parameters in data_sources.items():
        assert set(parameters) - OPTIONAL_PARAMETERS == BIGQUERY_TABLE_PARAMETERS, f"ds.{alias}"
        assert parameters["connector"] == "bigQuery" and parameters["type"] == "TABLE", f"ds.{alias}"
        assert parameters["projectId"] == "YOUR_GCP_PROJECT"
        assert parameters["billingProjectId"] == "YOUR_BILLING_PROJECT"
        assert parameters["datasetId"] == analytics_dataset()
        tables.add(parameters["tableId"])
    assert tables == {name for name in model_paths() if name.startswith("rt_")}
