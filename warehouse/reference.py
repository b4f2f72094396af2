"""Load the reference data (products, sellers, category translation) into the warehouse.

One loader for both origins: the real Olist CSVs (``--olist-dir ../shared/data/olist``) and the synthetic
catalog the publisher writes in the same three Olist-format files, so synthetic runs have dimensions too.
Reference data is a full snapshot: every load replaces the three tables.

The real files' quirks are handled here: quoted headers, a UTF-8 BOM on the translation file, empty
category names (610 products; loaded as NULL), zip prefixes that lost their leading zeros (re-padded to
five digits). Categories without an English name are kept as they are and reported; ``dim_products``
falls back to the Portuguese name, so the raw table stays a faithful copy of its source.

Usage::

    python -m warehouse.reference --olist-dir ../shared/data/olist --duckdb-path data/warehouse.duckdb
    python -m warehouse.reference --olist-dir DIR --sink bigquery --bq-project P --bq-dataset orders_rt
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from schemas import TableSchema, table_schema
from schemas.olist import (
    CATEGORY_TRANSLATION_FILE,
    PRODUCTS_FILE,
    SELLERS_FILE,
    ZIP_PREFIX_COLUMNS,
    ZIP_PREFIX_WIDTH,
)
from schemas.settings import add_duckdb_path_argument
from schemas.types import arrow_type
from schemas.types import bigquery_schema as schema_fields
from warehouse.connection import DEFAULT_LOCK_TIMEOUT, connect
from warehouse.duckdb_schema import DEFAULT_SCHEMA, create_all_sql, quote

LOGGER = logging.getLogger(__name__)

PRODUCTS = "products"
SELLERS = "sellers"
CATEGORY_TRANSLATION = "product_category_name_translation"

#: Warehouse table -> the Olist file it is loaded from.
OLIST_FILES: dict[str, str] = {
    PRODUCTS: PRODUCTS_FILE,
    SELLERS: SELLERS_FILE,
    CATEGORY_TRANSLATION: CATEGORY_TRANSLATION_FILE,
}
#: The types a CSV column is read as.
_CSV_TYPES = frozenset({"STRING", "INT64", "INTEGER", "FLOAT64", "FLOAT"})


class ReferenceDataError(ValueError):
    """A reference file is missing, lacks a column, or holds a value its column cannot take."""


@dataclass(frozen=True)
class ReferenceData:
    """The three reference tables, as Arrow tables in warehouse column order and types."""

    tables: dict[str, pa.Table]
    products_without_category: int
    untranslated_categories: tuple[str, ...]

    def row_counts(self) -> dict[str, int]:
        return {name: table.num_rows for name, table in self.tables.items()}


@dataclass(frozen=True)
class LoadReport:
    """What one load wrote, for logs and tests."""

    destination: str
    row_counts: dict[str, int]
    products_without_category: int
    untranslated_categories: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        counts = ", ".join(f"{name}={rows}" for name, rows in self.row_counts.items())
        untranslated = ", ".join(self.untranslated_categories) or "none"
        return (
            f"loaded {counts} into {self.destination}; products without category: "
            f"{self.products_without_category}; categories without English name (Portuguese kept): "
            f"{untranslated}"
        )


def _arrow_type(table: TableSchema, column: str) -> pa.DataType:
    bigquery_type = table.column(column).type
    if bigquery_type not in _CSV_TYPES:
        raise ReferenceDataError(f"{table.name}.{column}: no CSV reading for type {bigquery_type}")
    return arrow_type(bigquery_type)


def pad_zip_prefix(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Left-pad zip prefixes with zeros to five digits (CSV tools drop them when reading integers)."""
    return pc.utf8_lpad(pc.utf8_trim_whitespace(values), width=ZIP_PREFIX_WIDTH, padding="0")


def read_reference_csv(path: Path, table_name: str) -> pa.Table:
    """Read one Olist-format CSV into an Arrow table with the warehouse table's columns and types.

    Every column is read as text first, so that zip prefixes keep their zeros and an unparsable number
    produces an error naming the file, column and value instead of a silently changed type.
    """
    table = table_schema(table_name)
    if not path.is_file():
        raise ReferenceDataError(f"{table_name}: file {path} not found")
    # Arrow drops a UTF-8 BOM and unquotes quoted headers; every column is text until checked below.
    raw = pa_csv.read_csv(
        path,
        read_options=pa_csv.ReadOptions(encoding="utf-8"),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in table.column_names},
            strings_can_be_null=True,
            null_values=[""],
        ),
    )
    header = [name.strip().lstrip("\ufeff") for name in raw.column_names]
    raw = raw.rename_columns(header)
    missing = [name for name in table.column_names if name not in header]
    if missing:
        raise ReferenceDataError(
            f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(table.column_names)}, "
            f"found {', '.join(header)}"
        )
    columns: list[pa.ChunkedArray] = []
    for column in table.columns:
        values = raw.column(column.name)
        if column.name in ZIP_PREFIX_COLUMNS:
            values = pad_zip_prefix(values)
        target_type = _arrow_type(table, column.name)
        if target_type != pa.string():
            try:
                values = pc.cast(pc.utf8_trim_whitespace(values), target_type)
            except pa.ArrowInvalid as error:
                raise ReferenceDataError(f"{path}: column {column.name} is not {column.type}: {error}") from None
        if column.required and values.null_count:
            raise ReferenceDataError(
                f"{path}: column {column.name} is required but {values.null_count} row(s) are empty"
            )
        columns.append(values)
    arrow_schema = pa.schema(
        [pa.field(c.name, _arrow_type(table, c.name), nullable=not c.required) for c in table.columns]
    )
    return pa.Table.from_arrays(columns, schema=arrow_schema)


def _check_unique(table: pa.Table, table_name: str, path: Path) -> None:
    key = table_schema(table_name).primary_key
    if not key:
        return
    counts = table.group_by(list(key)).aggregate([([], "count_all")])
    duplicated = counts.filter(pc.greater(counts["count_all"], 1))
    if duplicated.num_rows:
        example = duplicated.slice(0, 3).select(list(key)).to_pylist()
        raise ReferenceDataError(f"{path}: {duplicated.num_rows} duplicated {'/'.join(key)} value(s), e.g. {example}")


def read_olist_dir(olist_dir: str | Path) -> ReferenceData:
    """Read the three Olist-format reference files of ``olist_dir``."""
    olist_dir = Path(olist_dir)
    if not olist_dir.is_dir():
        raise ReferenceDataError(f"--olist-dir {olist_dir} is not a directory")
    tables: dict[str, pa.Table] = {}
    for table_name, file_name in OLIST_FILES.items():
        path = olist_dir / file_name
        tables[table_name] = read_reference_csv(path, table_name)
        _check_unique(tables[table_name], table_name, path)
    categories = tables[PRODUCTS]["product_category_name"]
    translated = set(tables[CATEGORY_TRANSLATION]["product_category_name"].to_pylist())
    used = set(pc.unique(categories.drop_null()).to_pylist())
    return ReferenceData(
        tables=tables,
        products_without_category=categories.null_count,
        untranslated_categories=tuple(sorted(used - translated)),
    )


def load_into_duckdb(
    reference: ReferenceData,
    duckdb_path: str | Path,
    schema: str = DEFAULT_SCHEMA,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> LoadReport:
    """Replace the reference tables in the DuckDB file in one transaction (one short unit of work)."""
    with connect(duckdb_path, lock_timeout=lock_timeout) as connection:
        for statement in create_all_sql(schema):
            connection.execute(statement)
        connection.execute("BEGIN TRANSACTION")
        try:
            for table_name, arrow_table in reference.tables.items():
                target = f"{quote(schema)}.{quote(table_name)}"
                column_list = ", ".join(quote(name) for name in arrow_table.column_names)
                connection.register("reference_batch", arrow_table)
                connection.execute(f"DELETE FROM {target}")
                connection.execute(f"INSERT INTO {target} ({column_list}) SELECT {column_list} FROM reference_batch")
                connection.unregister("reference_batch")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    return LoadReport(
        destination=f"duckdb:{duckdb_path}:{schema}",
        row_counts=reference.row_counts(),
        products_without_category=reference.products_without_category,
        untranslated_categories=reference.untranslated_categories,
    )


def bigquery_schema(table_name: str) -> list[Any]:
    """The google-cloud-bigquery SchemaFields of ``table_name``, from schemas/bigquery/."""
    return schema_fields(table_schema(table_name))


def load_into_bigquery(
    reference: ReferenceData,
    project: str,
    dataset: str,
    location: str | None = None,
    client: Any | None = None,
) -> LoadReport:
    """Replace each reference table by a BigQuery load job (Parquet, WRITE_TRUNCATE, schema from schemas/)."""
    from google.cloud import bigquery

    client = client or bigquery.Client(project=project, location=location)
    for table_name, arrow_table in reference.tables.items():
        buffer = io.BytesIO()
        pq.write_table(arrow_table, buffer)
        buffer.seek(0)
        job_config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            schema=bigquery_schema(table_name),
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
            create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED,
        )
        job = client.load_table_from_file(
            buffer, f"{project}.{dataset}.{table_name}", job_config=job_config, location=location
        )
        job.result()
        LOGGER.info("loaded %d rows into %s.%s.%s", arrow_table.num_rows, project, dataset, table_name)
    return LoadReport(
        destination=f"bigquery:{project}.{dataset}",
        row_counts=reference.row_counts(),
        products_without_category=reference.products_without_category,
        untranslated_categories=reference.untranslated_categories,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m warehouse.reference",
        description=(
            "Load products, sellers and the category translation from a directory of Olist-format CSVs "
            f"({', '.join(OLIST_FILES.values())}) into the warehouse, replacing what was there."
        ),
    )
    parser.add_argument(
        "--olist-dir",
        required=True,
        type=Path,
        help="directory with the three Olist CSVs: the real Kaggle files or the publisher's catalog",
    )
    parser.add_argument(
        "--sink", choices=("duckdb", "bigquery"), default="duckdb", help="warehouse to load (default: duckdb)"
    )
    add_duckdb_path_argument(parser, "DuckDB file for --sink duckdb")
    parser.add_argument(
        "--schema",
        default=DEFAULT_SCHEMA,
        help=f"DuckDB schema of the raw tables (default: {DEFAULT_SCHEMA})",
    )
    parser.add_argument("--bq-project", help="BigQuery project for --sink bigquery")
    parser.add_argument("--bq-dataset", default=DEFAULT_SCHEMA, help=f"BigQuery dataset (default: {DEFAULT_SCHEMA})")
    parser.add_argument("--bq-location", default=None, help="BigQuery location of the dataset, e.g. US")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.sink == "bigquery" and not args.bq_project:
        parser.error("--sink bigquery needs --bq-project")
    try:
        reference = read_olist_dir(args.olist_dir)
    except ReferenceDataError as error:
        parser.exit(2, f"error: {error}\n")
    if args.sink == "duckdb":
        report = load_into_duckdb(reference, args.duckdb_path, schema=args.schema)
    else:
        report = load_into_bigquery(reference, args.bq_project, args.bq_dataset, location=args.bq_location)
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
