"""The dbt models the BI artefacts (bi/looker, bi/tableau) read: names, output columns, BigQuery partitioning.

Not named dbt_*: dbt imports every top-level dbt_* module it can find as a plugin.

Offline and fast: no dbt run, no dbt parse. A model's columns are read from its own SQL, so that renaming a
column in dbt fails the BI tests even where the model's .yml documents only some columns:

1. the model is rendered with Jinja, the project's macros loaded and every dbt context member it uses stubbed
   (``var`` returns dbt_project.yml's vars, ``ref`` the model's name, ``target.type`` is ``bigquery``,
   ``config`` records its arguments, ``is_incremental()`` is false, anything else renders as an expression);
2. the output columns are those of the statement's final SELECT list: an alias (``... as name``) or a plain
   column reference (``table.name``); ``select *`` is expanded from the CTE or model it reads, recursively.

A column the .yml documents that the SQL does not output fails (test_lookml.py::test_yml_columns_are_model_columns),
so the reader stays honest about what it reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_DIR = REPO_ROOT / "dbt"
BI_DIR = REPO_ROOT / "bi"


class _Expression(str):
    """Any dbt context member the stubs do not model: renders as an opaque SQL expression, whatever is done to it."""

    def __new__(cls, text: str = "expr") -> _Expression:
        return super().__new__(cls, text)

    def __call__(self, *args: Any, **kwargs: Any) -> _Expression:
        return _Expression()

    def __getattr__(self, name: str) -> _Expression:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Expression()


class _Target:
    type = "bigquery"
    name = "bigquery"


class _Adapter(_Expression):
    @staticmethod
    def dispatch(macro_name: str, macro_namespace: str | None = None) -> _Expression:
        return _Expression()


@dataclass
class Model:
    name: str
    path: Path
    columns: tuple[str, ...]
    yml_columns: tuple[str, ...]
    materialized: str
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def partition_field(self) -> str | None:
        """The BigQuery partition column (dbt config partition_by), or None."""
        partition_by = self.config.get("partition_by")
        return partition_by["field"] if isinstance(partition_by, dict) else None


@cache
def _project() -> dict[str, Any]:
    return yaml.safe_load((DBT_DIR / "dbt_project.yml").read_text())


@cache
def _macros_source() -> str:
    return "\n".join(path.read_text() for path in sorted((DBT_DIR / "macros").glob("*.sql")))


@cache
def model_paths() -> dict[str, Path]:
    return {path.stem: path for path in sorted((DBT_DIR / "models").rglob("*.sql"))}


@cache
def _yml_models() -> dict[str, dict[str, Any]]:
    models: dict[str, dict[str, Any]] = {}
    for path in sorted((DBT_DIR / "models").rglob("*.yml")):
        for entry in yaml.safe_load(path.read_text()).get("models") or []:
            models[entry["name"]] = entry
    return models


def _folder_materialization(path: Path) -> str:
    """+materialized of the model's folder in dbt_project.yml (the nearest folder that sets it)."""
    config = _project()["models"][_project()["name"]]
    materialized = "view"
    for part in path.relative_to(DBT_DIR / "models").parts[:-1]:
        config = config.get(part) or {}
        materialized = config.get("+materialized", materialized)
    return materialized


def _var(var_name: str, default: Any = None) -> Any:
    variables = _project()["vars"]
    if var_name not in variables and default is None:
        raise KeyError(f"var {var_name!r} is not in dbt_project.yml")
    return variables.get(var_name, default)


@cache
def _environment() -> tuple[jinja2.Environment, dict[str, Any]]:
    """A Jinja environment with the dbt stubs and the project's macros (compiled once), and the dict that
    config() records into (cleared before each model: models render one at a time)."""
    recorded: dict[str, Any] = {}

    def record_config(**kwargs: Any) -> str:
        recorded.update(kwargs)
        return ""

    environment = jinja2.Environment(extensions=["jinja2.ext.do"], undefined=jinja2.StrictUndefined)
    environment.globals.update(
        var=_var,
        ref=lambda model_name, *_: model_name,
        source=lambda source_name, table_name: f"{source_name}.{table_name}",
        config=record_config,
        is_incremental=lambda: False,
        target=_Target(),
        adapter=_Adapter(),
        dbt=_Expression(),
        exceptions=_Expression(),
        this=_Expression("this"),
        **{"return": lambda value: value},  # dbt's return(): the macro's value, here rendered as text
    )
    macros = environment.from_string(_macros_source()).module
    environment.globals.update({name: getattr(macros, name) for name in dir(macros) if not name.startswith("_")})
    return environment, recorded


@cache
def _render(name: str) -> tuple[str, dict[str, Any]]:
    """The model's SQL rendered for BigQuery with stubbed dbt context members, and the config() it called."""
    environment, recorded = _environment()
    recorded.clear()
    sql = environment.from_string(model_paths()[name].read_text()).render()
    return sql, dict(recorded)


# A string literal, or a comment (whose apostrophes are no quotes), read left to right.
_STRING_OR_COMMENT = re.compile(r"'(?:[^'\\]|\\.)*'|--[^\n]*|/\*.*?\*/", re.DOTALL)
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"


def _top_level(sql: str) -> str:
    """The SQL with everything inside parentheses blanked (same length): keywords found in it are top-level."""
    out, depth = [], 0
    for char in sql:
        if char == "(":
            depth += 1
            out.append(" ")
        elif char == ")":
            depth -= 1
            out.append(" ")
        else:
            out.append(char if depth == 0 else " ")
    return "".join(out)


def _split_top_level(text: str, separator: str = ",") -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if char == separator and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def _ctes_and_body(sql: str) -> tuple[dict[str, str], str]:
    """`with a as (...), b as (...) select ...` -> ({a: ..., b: ...}, 'select ...')."""
    ctes: dict[str, str] = {}
    rest = sql.strip()
    match = re.match(r"with\s+", rest, re.IGNORECASE)
    if not match:
        return ctes, rest
    rest = rest[match.end() :]
    while True:
        match = re.match(rf"({_IDENTIFIER})\s+as\s*\(", rest, re.IGNORECASE)
        if not match:
            raise ValueError(f"cannot read the CTE at: {rest[:80]!r}")
        depth, index = 1, match.end()
        while depth:
            depth += rest[index] == "("
            depth -= rest[index] == ")"
            index += 1
        ctes[match.group(1).lower()] = rest[match.end() : index - 1].strip()
        rest = rest[index:].lstrip()
        if not rest.startswith(","):
            return ctes, rest
        rest = rest[1:].lstrip()


def _select_columns(select: str, ctes: dict[str, str], model: str) -> list[str]:
    """Output column names of one SELECT (its first UNION branch), `*` expanded from what it reads."""
    top = _top_level(select)
    union = re.search(r"\bunion\b", top, re.IGNORECASE)
    if union:
        select, top = select[: union.start()], top[: union.start()]
    head = re.match(r"\s*select\s+(distinct\s+)?", select, re.IGNORECASE)
    from_ = re.search(r"\bfrom\b", top, re.IGNORECASE)
    if not head or not from_:
        raise ValueError(f"{model}: not a SELECT ... FROM: {select[:80]!r}")
    source = re.match(rf"\s*({_IDENTIFIER}(?:\.{_IDENTIFIER})*)", select[from_.end() :])
    columns: list[str] = []
    for item in _split_top_level(select[head.end() : from_.start()]):
        alias = re.search(rf"\bas\s+({_IDENTIFIER})\s*$", item, re.IGNORECASE)
        plain = re.fullmatch(rf"(?:{_IDENTIFIER}\.)*({_IDENTIFIER})", item)
        if item == "*":
            if not source:
                raise ValueError(f"{model}: cannot tell what `select *` reads in {select[:80]!r}")
            columns += _relation_columns(source.group(1), ctes, model)
        elif alias:
            columns.append(alias.group(1))
        elif plain:
            columns.append(plain.group(1))
        else:
            raise ValueError(f"{model}: a select item without a name: {item!r}")
    return [column.lower() for column in columns]


def _relation_columns(relation: str, ctes: dict[str, str], model: str) -> list[str]:
    relation = relation.lower()
    if relation in ctes:
        inner_ctes, body = _ctes_and_body(ctes[relation])
        return _select_columns(body, {**ctes, **inner_ctes}, model)
    if relation in model_paths():
        return list(_model_columns(relation))
    raise ValueError(f"{model}: `select *` from {relation!r}, neither a CTE nor a dbt model")


@cache
def _model_columns(name: str) -> tuple[str, ...]:
    sql, _ = _render(name)
    sql = _STRING_OR_COMMENT.sub(lambda match: "''" if match.group().startswith("'") else " ", sql)
    ctes, body = _ctes_and_body(sql)
    columns = _select_columns(body, ctes, name)
    duplicates = {column for column in columns if columns.count(column) > 1}
    if duplicates:
        raise ValueError(f"{name}: columns named twice: {sorted(duplicates)}")
    return tuple(columns)


@cache
def load_model(name: str) -> Model:
    if name not in model_paths():
        raise KeyError(f"no dbt model {name!r} under dbt/models")
    _, config = _render(name)
    yml = _yml_models().get(name, {})
    return Model(
        name=name,
        path=model_paths()[name],
        columns=_model_columns(name),
        yml_columns=tuple(column["name"].lower() for column in yml.get("columns") or []),
        materialized=config.get("materialized") or _folder_materialization(model_paths()[name]),
        config=config,
    )


@cache
def analytics_dataset() -> str:
    """The dataset dbt builds into on BigQuery: the default of DBT_BIGQUERY_DATASET in dbt/profiles.yml."""
    profiles = (DBT_DIR / "profiles.yml").read_text()
    match = re.search(r"env_var\('DBT_BIGQUERY_DATASET',\s*'([^']+)'\)", profiles)
    assert match, "dbt/profiles.yml no longer reads DBT_BIGQUERY_DATASET with a default"
    return match.group(1)
