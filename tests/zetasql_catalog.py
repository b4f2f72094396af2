"""Google's ZetaSQL analyzer, set up as BigQuery, for checking the SQL the project sends to BigQuery offline.

PyPI ``zetasql`` runs ZetaSQL (the analyzer BigQuery's GoogleSQL is built on) as WebAssembly in ``wasmtime``.
Compiling its 28 MB module takes ~26 s, so the compiled module is kept in a per-user cache outside the clone
(``$ZETASQL_WASMTIME_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/olist-realtime-orders/wasmtime``), keyed by the
zetasql and wasmtime versions, the module's size and the CPU architecture; later processes load it in ~0.1 s.

:class:`BigQueryCatalog` holds tables named as BigQuery names them (``my-proj.orders_rt.orders``, whether the
SQL writes `` `my-proj.orders_rt.orders` `` or `` `my-proj`.`orders_rt`.`orders` ``), built from
schemas/bigquery/*.json (RECORD columns as STRUCT, REPEATED as ARRAY), and typed query parameters read from what
google-cloud-bigquery sends (``QueryJobConfig.to_api_repr()``). :meth:`BigQueryCatalog.analyze_script` analyzes
a multi-statement script (BigQuery's procedural language) statement by statement, as BigQuery runs it: each
``CREATE TEMP TABLE ... AS SELECT`` and ``CREATE VIEW`` adds its output to the catalog so that later statements
resolve it, and each ``DECLARE``d variable becomes a typed named constant of the catalog, which later statements
read by its bare name, as they read a BigQuery script variable (a column of the same name wins, in both).
ZetaSQL parses but does not resolve procedural statements: ``DECLARE`` and ``SET`` are checked here (see
:class:`VariableDeclaration`).

What the analysis is: ZetaSQL's resolver in PRODUCT_EXTERNAL mode (BigQuery's type names, no INT32/UINT64/...)
with every released language feature except the few below that BigQuery lacks, and QUALIFY a reserved keyword
as in BigQuery. It checks names (tables,
columns, functions), types (assignments, comparisons, function signatures, parameter fields) and syntax. It is
not BigQuery itself: a few things it accepts BigQuery refuses (``INSERT OR REPLACE``, which
:func:`bigquery_restrictions` refuses after analysis, and double-quoted names, which both read as string
literals), and quotas, permissions, partition filters and data-dependent errors are out of its reach.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import platform
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

from wasmtime import Config, Engine, Linker, Module, Store, WasiConfig
from zetasql.api import TypeFactory
from zetasql.core.exceptions import ServerError
from zetasql.core.local_service import ZetaSqlLocalService
from zetasql.core.wasm_client import WasmClient, get_tzinfo_dir
from zetasql.types import (
    AnalyzeResponse,
    AnalyzerOptions,
    LanguageOptions,
    SimpleColumn,
    SimpleTable,
    Type,
    TypeKind,
    ZetaSQLBuiltinFunctionOptions,
)
from zetasql.types.proto_model import (
    ErrorMessageMode,
    LanguageFeature,
    ProductMode,
    ResolvedInsertStmtEnums,
    parse_proto,
)
from zetasql.wasi import get_wasm_path
from zetasql.wasi._pb2.zetasql.local_service import local_service_pb2
from zetasql.wasi._pb2.zetasql.proto import simple_catalog_pb2
from zetasql.wasi._pb2.zetasql.public import simple_constant_pb2

from schemas import TableSchema

CACHE_ENV = "ZETASQL_WASMTIME_CACHE"

#: BigQuery's type names (standard and legacy, as schema files and query parameters write them) -> ZetaSQL's.
TYPE_KINDS: dict[str, TypeKind] = {
    "STRING": TypeKind.TYPE_STRING,
    "BYTES": TypeKind.TYPE_BYTES,
    "INT64": TypeKind.TYPE_INT64,
    "INTEGER": TypeKind.TYPE_INT64,
    "FLOAT64": TypeKind.TYPE_DOUBLE,
    "FLOAT": TypeKind.TYPE_DOUBLE,
    "NUMERIC": TypeKind.TYPE_NUMERIC,
    "DECIMAL": TypeKind.TYPE_NUMERIC,
    "BIGNUMERIC": TypeKind.TYPE_BIGNUMERIC,
    "BIGDECIMAL": TypeKind.TYPE_BIGNUMERIC,
    "BOOL": TypeKind.TYPE_BOOL,
    "BOOLEAN": TypeKind.TYPE_BOOL,
    "TIMESTAMP": TypeKind.TYPE_TIMESTAMP,
    "DATE": TypeKind.TYPE_DATE,
    "TIME": TypeKind.TYPE_TIME,
    "DATETIME": TypeKind.TYPE_DATETIME,
    "INTERVAL": TypeKind.TYPE_INTERVAL,
    "GEOGRAPHY": TypeKind.TYPE_GEOGRAPHY,
    "JSON": TypeKind.TYPE_JSON,
}

#: Released ZetaSQL features that BigQuery does not have, and that SQL written for DuckDB (or PostgreSQL) could
#: otherwise slip through with: ON CONFLICT, RETURNING, FOR UPDATE, a UUID type, sub-microsecond timestamps.
NOT_IN_BIGQUERY = frozenset(
    {
        LanguageFeature.FEATURE_INSERT_ON_CONFLICT_CLAUSE,
        LanguageFeature.FEATURE_DML_RETURNING,
        LanguageFeature.FEATURE_FOR_UPDATE,
        LanguageFeature.FEATURE_UUID_TYPE,
        LanguageFeature.FEATURE_TIMESTAMP_NANOS,
        LanguageFeature.FEATURE_TIMESTAMP_PICOS,
        LanguageFeature.FEATURE_TIMESTAMP_PRECISION,
    }
)


#: Keywords that ZetaSQL can leave unreserved and BigQuery reserves.
BIGQUERY_RESERVED_KEYWORDS = ("QUALIFY",)


class SqlAnalysisError(AssertionError):
    """ZetaSQL refused a statement (or BigQuery would, see bigquery_restrictions)."""

    def __init__(self, statement: str, message: str, index: int | None = None) -> None:
        self.statement = statement
        self.message = message
        self.index = index
        where = f"statement {index}" if index is not None else "statement"
        super().__init__(f"{where}: {message}\n--- SQL\n{statement}")


@dataclass(frozen=True)
class AnalyzedStatement:
    """One statement of a script and its resolved tree (zetasql.types.Resolved*Stmt)."""

    index: int
    sql: str
    resolved: Any

    @property
    def kind(self) -> str:
        return type(self.resolved).__name__


@dataclass(frozen=True)
class VariableDeclaration:
    """``DECLARE name[, ...] [type] [DEFAULT expression]``, checked as BigQuery runs it: the type is resolved by
    ZetaSQL (``CAST(NULL AS type)``); the default must be coercible to it, which ZetaSQL checks by resolving
    ``STRUCT<type>((expression))`` (a typed constructor coerces its fields as an assignment does: NULL and
    literals to the type, a value of another type is an error); without a type, the variable takes the
    default's. ``default`` is that resolved query, None without a DEFAULT."""

    names: tuple[str, ...]
    type: Type
    default: Any | None


@dataclass(frozen=True)
class VariableAssignment:
    """``SET name = expression``: the variable must be declared, and the value coercible to its type (checked as
    a DECLARE's default is). ``value`` is the resolved query of that check."""

    name: str
    type: Type
    value: Any


# --- The WebAssembly module, compiled once per machine --------------------------------------------------------


def cache_dir() -> Path:
    if configured := os.environ.get(CACHE_ENV):
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "olist-realtime-orders" / "wasmtime"


def _compiled_module(engine: Engine, wasm: Path, directory: Path) -> Module:
    """The module, from the cache when an identical build compiled it before; compiled (and cached) otherwise."""
    key = f"zetasql {version('zetasql')} wasmtime {version('wasmtime')} {platform.machine()} {wasm.stat().st_size}"
    cached = directory / f"zetasql-{hashlib.sha256(key.encode()).hexdigest()[:16]}.cwasm"
    if cached.is_file():
        try:
            module = Module.deserialize_file(engine, str(cached))
        except Exception:  # truncated, or for another CPU or engine configuration: compile again
            cached.unlink(missing_ok=True)
        else:
            with contextlib.suppress(OSError):
                os.utime(cached)  # in use: kept by the clean-up below
            return module
    module = Module.from_file(engine, str(wasm))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f"{cached.name}.{os.getpid()}.partial")
        partial.write_bytes(module.serialize())
        os.replace(partial, cached)  # atomic: a concurrent process reads the old file or the whole new one
        for stale in directory.glob("zetasql-*"):  # other versions' modules (76 MB each), unused for a day
            if stale != cached and time.time() - stale.stat().st_mtime > 86400:
                stale.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only cache only costs the next process the compile
    return module


class _CachedWasmClient(WasmClient):
    """zetasql's WasmClient (same WASI setup and exports), with the compiled module cached on disk and memory
    copied with memmove instead of byte by byte in Python."""

    def __init__(self, wasm_path: Path, directory: Path) -> None:
        wasi = WasiConfig()
        wasi.inherit_stdout()
        wasi.inherit_stderr()
        if tzinfo_dir := get_tzinfo_dir():
            wasi.preopen_dir(tzinfo_dir, "/usr/share/zoneinfo")
        config = Config()
        config.shared_memory = True
        engine = Engine(config)
        self.store = Store(engine)
        self.store.set_wasi(wasi)
        self.module = _compiled_module(engine, wasm_path, directory)
        linker = Linker(engine)
        linker.define_wasi()
        self.instance = linker.instantiate(self.store, self.module)
        self.exports = self.instance.exports(self.store)
        if "_initialize" in self.exports:
            self.exports["_initialize"](self.store)
        self.memory = self.exports["memory"]

    def _address(self, pointer: int) -> int:
        return ctypes.addressof(self.memory.data_ptr().contents) + pointer

    def write_bytes(self, ptr: int, data: bytes) -> None:
        ctypes.memmove(self._address(ptr), data, len(data))

    def read_bytes(self, ptr: int, size: int) -> bytes:
        return ctypes.string_at(self._address(ptr), size)


@cache
def local_service() -> ZetaSqlLocalService:
    """The process's ZetaSQL (also installed as zetasql's own singleton, which its helpers use)."""
    service = ZetaSqlLocalService.__new__(ZetaSqlLocalService)
    service.wasm_client = _CachedWasmClient(get_wasm_path(), cache_dir())
    ZetaSqlLocalService._instance = service
    return service


@cache
def bigquery_language() -> LanguageOptions:
    local_service()
    language = LanguageOptions.maximum_features()
    language.product_mode = ProductMode.PRODUCT_EXTERNAL
    language.enabled_language_features = [
        feature for feature in language.enabled_language_features if feature not in NOT_IN_BIGQUERY
    ]
    # BigQuery reserves QUALIFY (GoogleSQL's lexical reference lists it among the reserved keywords), so that
    # ``FROM t QUALIFY ...`` needs no WHERE, GROUP BY or HAVING first. ZetaSQL's default keeps it unreserved, and
    # then its parser requires one of those to tell QUALIFY from a table alias.
    language.reserved_keywords = sorted({*language.reserved_keywords, *BIGQUERY_RESERVED_KEYWORDS})
    return language


# --- Types --------------------------------------------------------------------------------------------------


def scalar_type(bigquery_type: str) -> Type:
    try:
        return TypeFactory.create_simple_type(TYPE_KINDS[bigquery_type.upper()])
    except KeyError:
        raise ValueError(f"no ZetaSQL type for BigQuery type {bigquery_type!r}") from None


def parameter_type(api_type: Mapping[str, Any]) -> Type:
    """A query parameter's type as the BigQuery API receives it (``parameterType``: type, arrayType,
    structTypes) -> ZetaSQL."""
    kind = api_type["type"]
    if kind == "ARRAY":
        return TypeFactory.create_array_type(parameter_type(api_type["arrayType"]))
    if kind in ("STRUCT", "RECORD"):
        return TypeFactory.create_struct_type(
            [(field.get("name", ""), parameter_type(field["type"])) for field in api_type["structTypes"]]
        )
    return scalar_type(kind)


def column_type(field: Mapping[str, Any]) -> Type:
    """A column in BigQuery schema format (name, type, mode, fields) -> ZetaSQL."""
    if field["type"].upper() in ("RECORD", "STRUCT"):
        base = TypeFactory.create_struct_type([(f["name"], column_type(f)) for f in field["fields"]])
    else:
        base = scalar_type(field["type"])
    return TypeFactory.create_array_type(base) if field.get("mode", "NULLABLE").upper() == "REPEATED" else base


def table_columns(table: TableSchema) -> list[tuple[str, Type]]:
    """A table's columns as ZetaSQL types, nested RECORD fields included (``Column.to_json`` holds them)."""
    return [(c.name, column_type(c.to_json())) for c in table.columns]


def type_name(type_: Type) -> str:
    """GoogleSQL spelling of a ZetaSQL type (for messages and comparisons in tests)."""
    if type_.type_kind == TypeKind.TYPE_ARRAY:
        return f"ARRAY<{type_name(type_.array_type.element_type)}>"
    if type_.type_kind == TypeKind.TYPE_STRUCT:
        fields = ", ".join(f"{f.field_name} {type_name(f.field_type)}" for f in type_.struct_type.field)
        return f"STRUCT<{fields}>"
    names = {TypeKind.TYPE_DOUBLE: "FLOAT64"}
    return names.get(type_.type_kind, TypeKind(type_.type_kind).name.removeprefix("TYPE_"))


# --- The catalog ----------------------------------------------------------------------------------------------


def _simple_table(name: str, columns: Iterable[tuple[str, Type]]) -> SimpleTable:
    return SimpleTable(
        name=name,
        column=[SimpleColumn(name=n, type=t, is_writable_column=True) for n, t in columns],
    )


def bigquery_restrictions(resolved: Any) -> list[str]:
    """What ZetaSQL resolves but BigQuery refuses, found in a resolved statement."""
    problems = []
    insert_mode = getattr(resolved, "insert_mode", None)
    if insert_mode not in (None, ResolvedInsertStmtEnums.InsertMode.OR_ERROR):
        mode = ResolvedInsertStmtEnums.InsertMode(insert_mode).name.replace("_", " ")
        problems.append(f"INSERT {mode} is not BigQuery SQL (use MERGE)")
    return problems


@cache
def _builtin_functions() -> Any:
    return ZetaSQLBuiltinFunctionOptions(language_options=bigquery_language()).to_proto()


@dataclass
class BigQueryCatalog:
    """Tables and query parameters as a BigQuery job sees them, and ZetaSQL's analysis against them."""

    name: str = "bigquery"
    #: (project, dataset, table) or (temp table,) -> columns
    tables: dict[tuple[str, ...], list[tuple[str, Type]]] = field(default_factory=dict, init=False)
    parameters: dict[str, Type] = field(default_factory=dict)
    #: A script's variables (see analyze_script), by name as declared: named constants of the catalog.
    variables: dict[str, Type] = field(default_factory=dict, init=False)
    _table_protos: dict[tuple[str, ...], tuple[Any, Any]] = field(default_factory=dict, init=False, repr=False)
    _options_proto: Any = field(default=None, init=False, repr=False)
    _registered_id: int | None = field(default=None, init=False, repr=False)

    # Tables

    def add_table(self, path: str | Sequence[str], columns: Iterable[tuple[str, Type]]) -> None:
        """``project.dataset.table`` (or a temp table's bare name), resolvable both as one backquoted name and
        as separate (quoted or not) parts, as BigQuery resolves it. Adding a known name replaces its columns."""
        # `p.d.t` is p.d.t: a statement's name path holds a backquoted name as one part.
        parts = tuple(part for name in ([path] if isinstance(path, str) else path) for part in name.split("."))
        columns = list(columns)
        self._changed()
        self.tables[parts] = columns
        whole = _simple_table(".".join(parts), columns).to_proto()
        leaf = _simple_table(parts[-1], columns).to_proto() if len(parts) > 1 else None
        self._table_protos[parts] = (whole, leaf)

    def add_schema_tables(self, project: str, dataset: str, tables: Iterable[TableSchema]) -> None:
        for table in tables:
            self.add_table([project, dataset, table.name], table_columns(table))

    def table_columns(self, path: str) -> list[tuple[str, Type]] | None:
        for parts, columns in self.tables.items():
            if ".".join(parts).lower() == path.lower():
                return columns
        return None

    def catalog_proto(self) -> simple_catalog_pb2.SimpleCatalogProto:
        """The catalog as ZetaSQL takes it: every table under its whole name, and under nested catalogs
        project -> dataset -> table."""
        root = simple_catalog_pb2.SimpleCatalogProto(name=self.name, builtin_function_options=_builtin_functions())
        children: dict[tuple[str, ...], Any] = {}
        for parts, (whole, leaf) in self._table_protos.items():
            root.table.append(whole)
            if leaf is None:
                continue
            catalog = root
            for depth in range(1, len(parts)):
                if parts[:depth] not in children:
                    children[parts[:depth]] = catalog.catalog.add(name=parts[depth - 1])
                catalog = children[parts[:depth]]
            catalog.table.append(leaf)
        for name, type_ in self.variables.items():  # no value: only their names and types are resolved
            root.constant.append(simple_constant_pb2.SimpleConstantProto(name_path=[name], type=type_.to_proto()))
        return root

    # Parameters

    def add_parameter(self, name: str, type_: Type) -> None:
        self._changed()
        self.parameters[name] = type_

    def add_api_parameters(self, api_parameters: Iterable[Mapping[str, Any]]) -> None:
        """Named query parameters exactly as google-cloud-bigquery sends them
        (``QueryJobConfig.to_api_repr()["query"]["queryParameters"]``)."""
        for parameter in api_parameters:
            self.add_parameter(parameter["name"], parameter_type(parameter["parameterType"]))

    # Script variables

    def add_variable(self, name: str, type_: Type) -> None:
        """A script variable, read by its bare name (case-insensitive, as BigQuery's)."""
        self._changed()
        self.variables[name] = type_

    def variable(self, name: str) -> tuple[str, Type] | None:
        for known, type_ in self.variables.items():
            if known.lower() == name.lower():
                return known, type_
        return None

    # Analysis

    def options(self) -> AnalyzerOptions:
        return AnalyzerOptions(
            language_options=bigquery_language(),
            query_parameters=[AnalyzerOptions.QueryParameter(name=n, type=t) for n, t in self.parameters.items()],
            error_message_mode=ErrorMessageMode.ERROR_MESSAGE_ONE_LINE,
            default_timezone="UTC",
        )

    def analyze(self, sql: str) -> Any:
        """One statement -> its resolved tree; SqlAnalysisError if ZetaSQL (or bigquery_restrictions) refuses."""
        try:
            resolved = self._analyze(sql_statement=sql).resolved_statement
        except ServerError as error:
            raise SqlAnalysisError(sql, error.message) from None
        self._check(resolved, sql, None)
        return resolved

    def analyze_script(self, script: str) -> list[AnalyzedStatement]:
        """Every statement of a script in order, as BigQuery runs it: ``CREATE TEMP TABLE x AS SELECT`` and
        ``CREATE VIEW x`` make ``x`` a table of the catalog, ``DECLARE`` a variable (a typed named constant) that
        ``SET`` assigns and later statements read. ZetaSQL parses the whole script first (so a syntax error
        anywhere fails before any statement is analyzed), then each top-level statement is analyzed alone."""
        data = script.encode()
        try:
            parsed = self._parse_script(script)
        except ServerError as error:
            raise SqlAnalysisError(_line_at(script, error.message), error.message) from None
        statements: list[AnalyzedStatement] = []
        for index, node in enumerate(parsed.statement_list_node.statement_list):
            start, end = _location(node)
            sql = data[start:end].decode()
            declaration = _is_declaration(node)
            if declaration and any(type(s.resolved) is not VariableDeclaration for s in statements):
                raise SqlAnalysisError(sql, "Variable declarations are allowed only at the start of a script", index)
            if node.WhichOneof("node") == "ast_script_statement_node":
                resolved = self._script_statement(node.ast_script_statement_node, data, sql, index)
            else:
                try:
                    resolved = self._analyze(sql_statement=sql).resolved_statement
                except ServerError as error:
                    raise SqlAnalysisError(sql, error.message, index) from None
                self._check(resolved, sql, index)
                self._register_output(resolved)
            statements.append(AnalyzedStatement(index, sql, resolved))
        return statements

    def _parse_script(self, script: str) -> Any:
        request = local_service_pb2.ParseRequest(
            sql_statement=script, options=bigquery_language().to_proto(), allow_script=True
        )
        response = local_service().wasm_client.call_grpc_func(
            "ZetaSqlLocalService_Parse", request, local_service_pb2.ParseResponse
        )
        return response.parsed_script

    def _script_statement(self, node: Any, data: bytes, sql: str, index: int) -> Any:
        """DECLARE and SET (the procedural statements ZetaSQL parses but leaves to the engine that runs them)."""
        kind = node.WhichOneof("node")
        if kind == "ast_variable_declaration_node":
            declaration = node.ast_variable_declaration_node
            names = tuple(i.id_string for i in declaration.variable_list.identifier_list)
            for name in names:
                if self.variable(name) is not None or names.count(name) > 1:
                    raise SqlAnalysisError(sql, f"Variable {name} is already declared", index)
            declared = _text(data, declaration.type) if declaration.HasField("type") else None
            default = _text(data, declaration.default_value) if declaration.HasField("default_value") else None
            if declared is None and default is None:
                raise SqlAnalysisError(sql, "DECLARE needs a type or a DEFAULT", index)
            if declared is None:
                resolved = self._probe(f"SELECT ({default})", sql, index)
                type_ = output_columns(resolved)[0][1]
            else:
                type_ = output_columns(self._probe(f"SELECT CAST(NULL AS {declared})", sql, index))[0][1]
                resolved = self._assignable(default, type_, declared, sql, index) if default is not None else None
            for name in names:
                self.add_variable(name, type_)
            return VariableDeclaration(names, type_, resolved)
        if kind == "ast_single_assignment_node":
            assignment = node.ast_single_assignment_node
            variable = self.variable(assignment.variable.id_string)
            if variable is None:
                raise SqlAnalysisError(sql, f"Undeclared variable: {assignment.variable.id_string}", index)
            name, type_ = variable
            value = _text(data, assignment.expression)
            return VariableAssignment(name, type_, self._assignable(value, type_, type_name(type_), sql, index))
        raise SqlAnalysisError(sql, f"{kind} is not checked by zetasql_catalog (only DECLARE and SET are)", index)

    def _assignable(self, expression: str, type_: Type, spelled: str, sql: str, index: int) -> Any:
        try:
            resolved = self._probe(f"SELECT STRUCT<{spelled}>(({expression}))", sql, index)
        except SqlAnalysisError as error:  # the message names the probe's struct field and points into the probe
            message = re.sub(r"^Struct field 1 has", "The value has", re.sub(r" \[at \d+:\d+\]$", "", error.message))
            raise SqlAnalysisError(sql, message, index) from None
        (field_,) = output_columns(resolved)[0][1].struct_type.field
        if type_name(field_.field_type) != type_name(type_):  # the constructor gives the declared type or fails
            raise SqlAnalysisError(sql, f"{type_name(field_.field_type)} is not {type_name(type_)}", index)
        return resolved

    def _probe(self, probe: str, sql: str, index: int) -> Any:
        try:
            return self._analyze(sql_statement=probe).resolved_statement
        except ServerError as error:
            raise SqlAnalysisError(sql, error.message, index) from None

    def _analyze(self, **request: Any) -> AnalyzeResponse:
        """zetasql's LocalService.analyze, with the options and the catalog converted to protobuf once per change
        (converting them on every call costs ~0.2 s) and the catalog registered once (its builtin functions are
        then built once, not per statement)."""
        if self._options_proto is None:
            self._options_proto = self.options().to_proto()
        client = local_service().wasm_client
        if self._registered_id is None:
            registered = client.call_grpc_func(
                "ZetaSqlLocalService_RegisterCatalog",
                local_service_pb2.RegisterCatalogRequest(simple_catalog=self.catalog_proto()),
                local_service_pb2.RegisterResponse,
            )
            self._registered_id = registered.registered_id
        proto = local_service_pb2.AnalyzeRequest(
            options=self._options_proto, registered_catalog_id=self._registered_id, **request
        )
        response = client.call_grpc_func("ZetaSqlLocalService_Analyze", proto, local_service_pb2.AnalyzeResponse)
        return parse_proto(response).as_type(AnalyzeResponse)

    def _changed(self) -> None:
        self._options_proto = None
        if self._registered_id is not None:
            local_service().wasm_client.call_grpc_func(
                "ZetaSqlLocalService_UnregisterCatalog",
                local_service_pb2.UnregisterRequest(registered_id=self._registered_id),
            )
            self._registered_id = None

    def _check(self, resolved: Any, sql: str, index: int | None) -> None:
        if problems := bigquery_restrictions(resolved):
            raise SqlAnalysisError(sql, "; ".join(problems), index)

    def _register_output(self, resolved: Any) -> None:
        """What a statement creates, for the statements after it: a table's or a view's columns."""
        kind = type(resolved).__name__
        if kind == "ResolvedCreateTableAsSelectStmt":
            self.add_table(resolved.name_path, [(c.name, c.type) for c in resolved.column_definition_list])
        elif kind == "ResolvedCreateViewStmt":
            self.add_table(resolved.name_path, output_columns(resolved))


def _location(node: Any) -> tuple[int, int]:
    """[start, end) byte offsets of a parse tree node (a message of zetasql's parse_tree.proto): its own
    parse_location_range, reached through the AnyAST* wrappers (a oneof) and the ``parent`` chain."""
    while "parse_location_range" not in node.DESCRIPTOR.fields_by_name:
        oneofs = node.DESCRIPTOR.oneofs
        node = getattr(node, node.WhichOneof(oneofs[0].name)) if oneofs else node.parent
    return node.parse_location_range.start, node.parse_location_range.end


def _is_declaration(statement: Any) -> bool:
    script = (
        statement.ast_script_statement_node if statement.WhichOneof("node") == "ast_script_statement_node" else None
    )
    return script is not None and script.WhichOneof("node") == "ast_variable_declaration_node"


def _text(data: bytes, node: Any) -> str:
    start, end = _location(node)
    return data[start:end].decode()


def _line_at(script: str, message: str) -> str:
    """The script's line that a ZetaSQL message points at (``[at line:column]``), else the whole script."""
    if match := re.search(r"\[at (\d+):\d+\]", message):
        lines = script.splitlines()
        line = int(match.group(1))
        if 0 < line <= len(lines):
            return lines[line - 1]
    return script


def output_columns(resolved: Any) -> list[tuple[str, Type]]:
    """The columns a resolved query statement returns (name, type)."""
    return [(c.name, c.column.type) for c in resolved.output_column_list]
