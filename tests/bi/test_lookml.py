"""bi/looker: the LookML parses (lkml) and agrees with the dbt models it reads.

Every view reads one dbt model (sql_table_name @{analytics_dataset}.<model>), every ${TABLE}.column is an output
column of that model (so renaming a dbt column fails here), every ${field} resolves; the model caches the rt_*
explores for about a minute; explores join dims on existing fields and always filter on the partition column.
"""

from __future__ import annotations

import re
from fnmatch import fnmatch
from functools import cache
from pathlib import Path
from typing import Any

import lkml
import pytest
from bi_dbt_models import BI_DIR, REPO_ROOT, analytics_dataset, load_model, model_paths

LOOKER_DIR = BI_DIR / "looker"
MODEL_FILE = LOOKER_DIR / "olist_orders.model.lkml"
VIEW_FILES = sorted((LOOKER_DIR / "views").glob("*.view.lkml"))
LKML_FILES = sorted(LOOKER_DIR.rglob("*.lkml"))

# The models the BI layer exposes: the near-real-time views and the marts (dq_* stays a data-quality tool).
EXPOSED_PREFIXES = ("rt_", "dim_", "fct_", "kpi_")
TABLE_COLUMN = re.compile(r"\$\{TABLE\}\.([A-Za-z_][A-Za-z0-9_]*)")
FIELD_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)\}")
# A filter an rt_* model applies to the live table's partition column: `where col >= {{ timestamp_ago(...) }}`.
WINDOW_FILTER = re.compile(r"\b([a-z_][a-z0-9_]*)\s*>=\s*\{\{\s*timestamp_ago\(")
MAX_RT_CACHE_SECONDS = 120
JOIN_TYPES = {"left_outer", "inner", "full_outer", "cross"}
RELATIONSHIPS = {"many_to_one", "one_to_one", "one_to_many", "many_to_many"}


@cache
def parsed(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return lkml.load(handle)


def model() -> dict[str, Any]:
    return parsed(MODEL_FILE)


@cache
def views() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in VIEW_FILES:
        for view in parsed(path).get("views", []):
            assert view["name"] not in found, f"view {view['name']} is defined twice"
            found[view["name"]] = view
    return found


def constants() -> dict[str, str]:
    return {constant["name"]: constant["value"] for constant in parsed(LOOKER_DIR / "manifest.lkml")["constants"]}


def field_sql(view: dict[str, Any]) -> dict[str, str]:
    """Every field name a view defines (a time dimension_group gives <group>_<timeframe>) -> its SQL ('' if none)."""
    named: list[tuple[str, str]] = [
        (field["name"], field.get("sql", "")) for field in view.get("dimensions", []) + view.get("measures", [])
    ]
    for group in view.get("dimension_groups", []):
        assert group.get("type") == "time", f"{view['name']}.{group['name']}: only type: time groups are read here"
        named += [(f"{group['name']}_{timeframe}", group["sql"]) for timeframe in group["timeframes"]]
    fields = dict(named)
    assert len(fields) == len(named), f"view {view['name']} defines a field name twice"
    return fields


def view_model(view: dict[str, Any]) -> str:
    """The dbt model a view reads, from sql_table_name: @{analytics_dataset}.<model>."""
    match = re.fullmatch(r"@\{analytics_dataset\}\.([A-Za-z_][A-Za-z0-9_]*)", view.get("sql_table_name", "").strip())
    assert match, f"view {view['name']}: sql_table_name must be @{{analytics_dataset}}.<dbt model>"
    return match.group(1)


def explores() -> dict[str, dict[str, Any]]:
    return {explore["name"]: explore for explore in model().get("explores", [])}


def explore_views(explore: dict[str, Any]) -> dict[str, str]:
    """Names an explore's SQL may use (base view and joins) -> the view each one is."""
    names = {explore["name"]: explore.get("from") or explore.get("view_name") or explore["name"]}
    for join in explore.get("joins", []):
        names[join["name"]] = join.get("from") or join["name"]
    return names


def always_filter_fields(explore: dict[str, Any]) -> list[str]:
    always_filter = explore.get("always_filter") or {}
    return [name for group in always_filter.get("filters__all", []) for item in group for name in item]


def seconds(duration: str) -> int:
    """A LookML duration ('1 minute', '90 seconds', '24 hours') in seconds."""
    match = re.fullmatch(r"\s*(\d+)\s*(second|minute|hour|day)s?\s*", duration)
    assert match, f"not a LookML duration: {duration!r}"
    return int(match.group(1)) * {"second": 1, "minute": 60, "hour": 3600, "day": 86400}[match.group(2)]


def datagroups() -> dict[str, dict[str, Any]]:
    return {group["name"]: group for group in model().get("datagroups", [])}


def is_about_a_minute(datagroup: dict[str, Any]) -> bool:
    return "max_cache_age" in datagroup and seconds(datagroup["max_cache_age"]) <= MAX_RT_CACHE_SECONDS


def effective_persist_with(explore: dict[str, Any]) -> str | None:
    return explore.get("persist_with") or model().get("persist_with")


def required_filter_columns(model_name: str) -> set[str]:
    """Columns an explore on this model must always filter on: the BigQuery partition column (config
    partition_by) or, for a view over the live tables, the partition column it prunes on and exposes."""
    dbt_model = load_model(model_name)
    if dbt_model.partition_field:
        return {dbt_model.partition_field}
    window_columns = set(WINDOW_FILTER.findall(dbt_model.path.read_text()))
    return window_columns & set(dbt_model.columns)


# --------------------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", LKML_FILES, ids=lambda path: str(path.relative_to(LOOKER_DIR)))
def test_lkml_file_parses(path: Path) -> None:
    assert parsed(path), f"{path} is empty"


def test_manifest_dataset_is_the_dataset_dbt_builds_into() -> None:
    assert constants()["analytics_dataset"] == analytics_dataset()
    variables = (REPO_ROOT / "terraform" / "variables.tf").read_text()
    terraform_default = re.search(r'variable "analytics_dataset_id" \{.*?default\s*=\s*"([^"]+)"', variables, re.S)
    assert terraform_default and terraform_default.group(1) == analytics_dataset()


def test_model_includes_every_view_file() -> None:
    includes = model()["includes"]
    included = {
        path
        for pattern in includes
        for path in LOOKER_DIR.rglob("*.lkml")
        if fnmatch("/" + str(path.relative_to(LOOKER_DIR)), pattern)
    }
    assert included == set(VIEW_FILES), f"includes {includes} must match exactly the files in bi/looker/views"
    assert model().get("connection"), "the model names a Looker connection"


# --------------------------------------------------------------------------------------------------------------
# Views against the dbt models
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("view_name", sorted(views()))
def test_view_reads_a_dbt_model_and_only_its_columns(view_name: str) -> None:
    view = views()[view_name]
    model_name = view_model(view)
    assert model_name == view_name, "a view is named after the dbt model it reads"
    assert model_name in model_paths(), f"no dbt model {model_name} under dbt/models"
    columns = set(load_model(model_name).columns)
    for name, sql in field_sql(view).items():
        missing = set(TABLE_COLUMN.findall(sql)) - columns
        assert not missing, f"{view_name}.{name} reads {sorted(missing)}, not columns of dbt model {model_name}"


@pytest.mark.parametrize("view_name", sorted(views()))
def test_view_field_references_resolve(view_name: str) -> None:
    view = views()[view_name]
    fields = field_sql(view)
    for name, sql in fields.items():
        for reference in FIELD_REFERENCE.findall(sql):
            assert reference == "TABLE" or reference in fields, f"{view_name}.{name}: ${{{reference}}} is no field"
    for field in view.get("dimensions", []) + view.get("measures", []):
        named = [*field.get("drill_fields", []), field.get("order_by_field")]
        named += [key for item in field.get("filters__all", []) for entry in item for key in entry]
        for reference in filter(None, named):
            assert reference in fields, f"{view_name}.{field['name']} names {reference}, not a field of the view"
    primary_keys = [field["name"] for field in view.get("dimensions", []) if field.get("primary_key") == "yes"]
    assert len(primary_keys) == 1, f"{view_name}: one primary key dimension, got {primary_keys}"


def test_every_exposed_dbt_model_has_a_view() -> None:
    exposed = {name for name in model_paths() if name.startswith(EXPOSED_PREFIXES)}
    assert exposed - set(views()) == set(), "rt_*, dim_*, fct_* and kpi_* models each get a view in bi/looker/views"
    assert set(views()) <= exposed


def test_a_renamed_dbt_column_is_caught() -> None:
    """The check above is not vacuous: the rt views do read columns that only the model's SQL names."""
    view = views()["rt_live_orders"]
    read = {column for sql in field_sql(view).values() for column in TABLE_COLUMN.findall(sql)}
    model_columns = load_model("rt_live_orders")
    assert "order_value" in read and "order_value" in model_columns.columns
    assert "order_value" not in model_columns.yml_columns


def test_yml_columns_are_model_columns() -> None:
    """The SQL reader of conftest.py finds every column the models' .yml files document."""
    for name in sorted(model_paths()):
        dbt_model = load_model(name)
        missing = set(dbt_model.yml_columns) - set(dbt_model.columns)
        assert not missing, f"{name}: the .yml documents {sorted(missing)}, which the SQL reader does not find"


# --------------------------------------------------------------------------------------------------------------
# The model: caching, explores, joins, filters
# --------------------------------------------------------------------------------------------------------------


def test_model_caches_for_about_a_minute_by_default() -> None:
    default = model().get("persist_with")
    assert default in datagroups(), "the model persists with one of its datagroups"
    assert is_about_a_minute(datagroups()[default]), datagroups()[default]


@pytest.mark.parametrize("explore_name", sorted(explores()))
def test_explore_reads_a_view_and_persists_with_a_datagroup(explore_name: str) -> None:
    explore = explores()[explore_name]
    base_view = explore_views(explore)[explore_name]
    assert base_view in views(), f"explore {explore_name}: no view {base_view}"
    group = effective_persist_with(explore)
    assert group in datagroups(), f"explore {explore_name} persists with {group}, not a datagroup of the model"
    if base_view.startswith("rt_"):
        assert is_about_a_minute(datagroups()[group]), f"explore {explore_name}: rt_* results live about a minute"
    for datagroup in datagroups().values():
        assert "max_cache_age" in datagroup or "sql_trigger" in datagroup, datagroup


def test_every_rt_view_has_an_explore() -> None:
    rt_views = {name for name in views() if name.startswith("rt_")}
    explored = {explore_views(explore)[name] for name, explore in explores().items()}
    assert rt_views <= explored


@pytest.mark.parametrize("explore_name", sorted(explores()))
def test_explore_joins_are_valid(explore_name: str) -> None:
    explore = explores()[explore_name]
    names = explore_views(explore)
    for join in explore.get("joins", []):
        joined_view = names[join["name"]]
        assert joined_view in views(), f"{explore_name}: join {join['name']} reads no view"
        assert join.get("type", "left_outer") in JOIN_TYPES
        assert join.get("relationship") in RELATIONSHIPS, f"{explore_name}.{join['name']}: relationship"
        references = FIELD_REFERENCE.findall(join.get("sql_on", ""))
        assert references, f"{explore_name}.{join['name']}: sql_on references no field"
        used = set()
        for reference in references:
            view_name, _, field = reference.partition(".")
            assert field, f"{explore_name}.{join['name']}: qualify ${{{reference}}} with its view"
            assert view_name in names, f"{explore_name}.{join['name']}: {view_name} is not in the explore"
            assert field in field_sql(views()[names[view_name]]), f"{explore_name}: ${{{reference}}} is no field"
            used.add(view_name)
        assert join["name"] in used and len(used) >= 2, f"{explore_name}.{join['name']}: sql_on links two views"
    for name in always_filter_fields(explore):
        view_name, _, field = name.partition(".")
        assert view_name in names and field in field_sql(views()[names[view_name]]), f"{explore_name}: {name}"


def test_rt_explores_join_the_dims_their_keys_name() -> None:
    """An rt_* view that carries a dimension's key (customer_unique_id, product_id, ...) joins that dimension."""
    dim_keys = {
        name: next(field["sql"] for field in view["dimensions"] if field.get("primary_key") == "yes")
        for name, view in views().items()
        if name.startswith("dim_")
    }
    joined_any = False
    for explore_name, explore in explores().items():
        names = explore_views(explore)
        if not names[explore_name].startswith("rt_"):
            continue
        columns = set(load_model(names[explore_name]).columns)
        joined = {names[join["name"]] for join in explore.get("joins", [])}
        assert all(view.startswith("dim_") for view in joined), f"{explore_name} joins {joined}: only dims"
        for dim, key_sql in dim_keys.items():
            key_columns = set(TABLE_COLUMN.findall(key_sql))
            if key_columns and key_columns <= columns:
                assert dim in joined, f"{explore_name} carries {sorted(key_columns)}: join {dim}"
        joined_any |= bool(joined)
    assert joined_any, "at least one rt_* explore joins a dimension"


def test_explores_always_filter_on_the_partition_column() -> None:
    required_somewhere = []
    for explore_name, explore in explores().items():
        names = explore_views(explore)
        base_view = names[explore_name]
        required = required_filter_columns(view_model(views()[base_view]))
        if not required:
            continue
        required_somewhere.append(base_view)
        base_fields = field_sql(views()[base_view])
        filtered = {
            column
            for name in always_filter_fields(explore)
            if name.partition(".")[0] == explore_name
            for column in TABLE_COLUMN.findall(base_fields.get(name.partition(".")[2], ""))
        }
        assert required <= filtered, f"explore {explore_name}: always_filter on {sorted(required)}"
    # Not vacuous: the partitioned facts and the rt view that exposes its partition column are among them.
    assert {"fct_orders", "fct_order_items", "rt_live_orders"} <= set(required_somewhere)
