"""What dbt puts in a model's Jinja context, for sqlfluff's jinja templater (dbt/.sqlfluff: library_path).

sqlfluff renders the models without dbt: its dbt builtins stand in for ref, source, config, this,
is_incremental and return; this package adds the rest the models use. `var` reads dbt_project.yml, so loops
over the status and stage lists render as in dbt. `dbt.*` and `adapter.dispatch` render short DuckDB-like
expressions: what sqlfluff checks is the model's own SQL around them, not the macros' output (dbt builds
and tests that on both engines).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_PROJECT_VARS: dict[str, Any] = yaml.safe_load((Path(__file__).parent.parent / "dbt_project.yml").read_text())["vars"]


def var(name: str, default: Any = None) -> Any:
    """dbt's var(): the project's value, else the default (as dbt, which fails on neither)."""
    return _PROJECT_VARS.get(name, default)


class _Target:
    type = "duckdb"
    name = "local"


class _Adapter:
    @staticmethod
    def dispatch(macro_name: str, macro_namespace: str | None = None) -> Any:
        """A dispatched macro renders as a call of a function of its name."""
        return lambda *args: f"{macro_name}({', '.join(str(arg) for arg in args)})"

    @staticmethod
    def quote(identifier: str) -> str:
        return f'"{identifier}"'


class _DbtMacros:
    """dbt's cross-database macros, as DuckDB renders them (single-line, so they add no layout of their own)."""

    @staticmethod
    def concat(fields: list[str]) -> str:
        return " || ".join(fields)

    @staticmethod
    def type_string() -> str:
        return "varchar"

    @staticmethod
    def type_int() -> str:
        return "integer"

    @staticmethod
    def safe_cast(field: str, type_: str) -> str:
        return f"try_cast({field} as {type_})"

    @staticmethod
    def current_timestamp() -> str:
        return "now()"

    @staticmethod
    def date_trunc(datepart: str, date: str) -> str:
        return f"date_trunc('{datepart}', {date})"

    @staticmethod
    def datediff(first_date: str, second_date: str, datepart: str) -> str:
        return f"date_diff('{datepart}', {first_date}, {second_date})"

    @staticmethod
    def dateadd(datepart: str, interval: int, from_date_or_timestamp: str) -> str:
        return f"({from_date_or_timestamp} + interval {interval} {datepart})"

    @staticmethod
    def date_spine(datepart: str, start_date: str, end_date: str) -> str:
        return f"select unnest(generate_series({start_date}, {end_date}, interval 1 {datepart})) as date_{datepart}"


target = _Target()
adapter = _Adapter()
dbt = _DbtMacros()
