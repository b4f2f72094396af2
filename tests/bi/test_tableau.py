"""bi/tableau: each .tds opens with Tableau's Document API and is a live BigQuery connection to a dbt rt_* view.

Checked: the connection class is bigquery (standard SQL), project and billing project are the placeholders
bi/README.md tells users to replace, the dataset is the one dbt builds into, the relation is a table
[dataset].[rt_* model] of a model that exists, every column listed in the metadata is an output column of
that model, and there is no extract (live).
"""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from bi_dbt_models import BI_DIR, analytics_dataset, load_model, model_paths

with warnings.catch_warnings():
    # tableaudocumentapi 0.11 compares file versions with distutils' LooseVersion, deprecated but working
    warnings.simplefilter("ignore", DeprecationWarning)
    from tableaudocumentapi import Datasource

pytestmark = pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning")

TABLEAU_DIR = BI_DIR / "tableau"
TDS_FILES = sorted(TABLEAU_DIR.glob("*.tds"))
PROJECT_PLACEHOLDER = "YOUR_GCP_PROJECT"
BILLING_PROJECT_PLACEHOLDER = "YOUR_BILLING_PROJECT"
TABLEAU_TYPES = {"string", "integer", "real", "boolean", "date", "datetime"}


def xml(path: Path) -> ElementTree.Element:
    """The file's XML, for what the Document API does not read (relations, named connections, extracts)."""
    return ElementTree.parse(path).getroot()


def test_every_rt_view_has_a_data_source() -> None:
    rt_models = {name for name in model_paths() if name.startswith("rt_")}
    assert {path.stem for path in TDS_FILES} == rt_models


@pytest.mark.parametrize("path", TDS_FILES, ids=lambda path: path.name)
def test_data_source_is_a_live_bigquery_connection(path: Path) -> None:
    datasource = Datasource.from_file(str(path))
    assert datasource.connections, f"{path.name}: no connection"
    for connection in datasource.connections:
        attributes = connection._connectionXML.attrib  # the Document API exposes the common ones only
        assert connection.dbclass == "bigquery"
        assert connection.schema == analytics_dataset(), "schema is the BigQuery dataset dbt builds into"
        assert attributes["project"] == attributes["CATALOG"] == PROJECT_PLACEHOLDER
        assert attributes["EXECCATALOG"] == BILLING_PROJECT_PLACEHOLDER
        assert attributes["connection-dialect"] == "google-sql", "standard SQL, not legacy SQL"
    assert xml(path).find(".//extract") is None, f"{path.name}: a live connection has no extract"


@pytest.mark.parametrize("path", TDS_FILES, ids=lambda path: path.name)
def test_relation_is_the_rt_view_and_columns_are_its_columns(path: Path) -> None:
    datasource = Datasource.from_file(str(path))
    connection_names = {named.get("name") for named in xml(path).iter("named-connection")}
    (relation,) = xml(path).iter("relation")
    model_name = relation.get("name")
    assert model_name == path.stem and model_name.startswith("rt_"), "one rt_* view per data source, named after it"
    assert model_name in model_paths(), f"no dbt model {model_name}"
    assert relation.get("type") == "table"
    assert relation.get("table") == f"[{analytics_dataset()}].[{model_name}]"
    assert relation.get("connection") in connection_names

    columns = set(load_model(model_name).columns)
    assert datasource.fields, f"{path.name} lists no columns"
    for field_id, field in datasource.fields.items():
        assert field_id == f"[{field.alias}]", f"{path.name}: {field_id} is named as its column"
        assert field.alias in columns, f"{path.name}: {field.alias} is not a column of dbt model {model_name}"
        assert field.datatype in TABLEAU_TYPES, f"{path.name}: {field_id} has datatype {field.datatype}"
    for record in xml(path).iter("metadata-record"):
        assert record.findtext("parent-name") == f"[{model_name}]"
        assert record.findtext("remote-name") in columns
