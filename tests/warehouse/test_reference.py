"""warehouse.reference: Olist-format CSVs (real or the publisher's catalog) into DuckDB or BigQuery."""

from __future__ import annotations

import io
import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from schemas import BIGQUERY_SCHEMA_DIR
from warehouse import reference

PRODUCTS_HEADER = (
    '"product_id","product_category_name","product_name_lenght","product_description_lenght",'
    '"product_photos_qty","product_weight_g","product_length_cm","product_height_cm","product_width_cm"'
)


def write_catalog(directory: Path, products: list[str], sellers: list[str], translations: list[str]) -> Path:
    """Olist-format files with the real ones' quirks: quoted headers, a BOM on the translation file."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "olist_products_dataset.csv").write_text("\n".join([PRODUCTS_HEADER, *products]) + "\n")
    (directory / "olist_sellers_dataset.csv").write_text(
        "\n".join(['"seller_id","seller_zip_code_prefix","seller_city","seller_state"', *sellers]) + "\n"
    )
    (directory / "product_category_name_translation.csv").write_text(
        "\n".join(["product_category_name,product_category_name_english", *translations]) + "\n",
        encoding="utf-8-sig",
    )
    return directory


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    return write_catalog(
        tmp_path / "catalog",
        products=[
            '"p1",beleza_saude,40,287,1,225,16,10,14',
            '"p2",,,,,,,,',  # no category and no measurements, like 610 real products
            '"p3",pc_gamer,50,300,2,1000,30,18,20',  # a category Olist never translated
        ],
        sellers=[
            '"s1","1310",sao paulo,SP',  # lost its leading zero
            's2,"69900",rio branco,AC',
        ],
        translations=["beleza_saude,health_beauty", "esporte_lazer,sports_leisure"],
    )


def query(path: Path, sql: str) -> list[tuple]:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def test_read_handles_the_olist_quirks(catalog_dir: Path) -> None:
    data = reference.read_olist_dir(catalog_dir)
    assert data.row_counts() == {"products": 3, "sellers": 2, "product_category_name_translation": 2}
    assert data.products_without_category == 1
    assert data.untranslated_categories == ("pc_gamer",)
    assert data.tables["sellers"]["seller_zip_code_prefix"].to_pylist() == ["01310", "69900"]
    assert data.tables["product_category_name_translation"].column_names == [
        "product_category_name",
        "product_category_name_english",
    ]
    p2 = data.tables["products"].to_pylist()[1]
    assert p2["product_category_name"] is None and p2["product_weight_g"] is None


def test_load_into_duckdb_replaces_the_tables(catalog_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    data = reference.read_olist_dir(catalog_dir)
    reference.load_into_duckdb(data, path)
    report = reference.load_into_duckdb(data, path)  # a second load replaces, never duplicates
    assert report.row_counts["products"] == 3
    assert query(path, "SELECT count(*) FROM orders_rt.products") == [(3,)]
    assert query(path, "SELECT seller_id, seller_zip_code_prefix FROM orders_rt.sellers ORDER BY 1") == [
        ("s1", "01310"),
        ("s2", "69900"),
    ]
    assert query(path, "SELECT product_id FROM orders_rt.products WHERE product_category_name IS NULL") == [("p2",)]
    assert query(path, "SELECT typeof(product_name_lenght) FROM orders_rt.products LIMIT 1") == [("BIGINT",)]


def test_a_file_missing_a_column_is_rejected_with_its_name(tmp_path: Path) -> None:
    directory = write_catalog(tmp_path / "bad", products=['"p1",x,1,1,1,1,1,1,1'], sellers=[], translations=[])
    (directory / "olist_sellers_dataset.csv").write_text('"seller_id","seller_city","seller_state"\ns1,x,SP\n')
    with pytest.raises(reference.ReferenceDataError, match=r"olist_sellers_dataset\.csv: missing column"):
        reference.read_olist_dir(directory)


def test_a_missing_file_is_rejected(tmp_path: Path) -> None:
    directory = write_catalog(tmp_path / "bad", products=[], sellers=[], translations=[])
    (directory / "olist_products_dataset.csv").unlink()
    with pytest.raises(reference.ReferenceDataError, match=r"olist_products_dataset\.csv not found"):
        reference.read_olist_dir(directory)


def test_a_non_number_is_rejected_with_its_column(tmp_path: Path) -> None:
    directory = write_catalog(tmp_path / "bad", products=['"p1",x,forty,1,1,1,1,1,1'], sellers=[], translations=[])
    with pytest.raises(reference.ReferenceDataError, match="product_name_lenght is not INT64"):
        reference.read_olist_dir(directory)


def test_duplicated_keys_are_rejected(tmp_path: Path) -> None:
    directory = write_catalog(
        tmp_path / "bad",
        products=['"p1",x,1,1,1,1,1,1,1', '"p1",y,1,1,1,1,1,1,1'],
        sellers=[],
        translations=[],
    )
    with pytest.raises(reference.ReferenceDataError, match="duplicated product_id"):
        reference.read_olist_dir(directory)


def test_real_olist_files(olist_dir: Path, tmp_path: Path) -> None:
    data = reference.read_olist_dir(olist_dir)
    assert data.row_counts() == {"products": 32951, "sellers": 3095, "product_category_name_translation": 71}
    assert data.products_without_category == 610
    assert data.untranslated_categories == ("pc_gamer", "portateis_cozinha_e_preparadores_de_alimentos")
    path = tmp_path / "warehouse.duckdb"
    reference.load_into_duckdb(data, path)
    assert query(path, "SELECT DISTINCT length(seller_zip_code_prefix) FROM orders_rt.sellers") == [(5,)]
    assert query(
        path,
        "SELECT product_category_name_english FROM orders_rt.product_category_name_translation "
        "WHERE product_category_name = 'beleza_saude'",
    ) == [("health_beauty",)]


class FakeLoadJob:
    def result(self) -> None:
        return None


class FakeBigQueryClient:
    """Records load jobs instead of calling BigQuery."""

    def __init__(self) -> None:
        self.loads: list[dict] = []

    def load_table_from_file(self, file_obj: io.BytesIO, destination: str, job_config, location=None):
        self.loads.append(
            {
                "table": pq.read_table(file_obj),
                "destination": destination,
                "config": job_config,
                "location": location,
            }
        )
        return FakeLoadJob()


def test_load_into_bigquery_runs_one_truncating_load_job_per_table(catalog_dir: Path) -> None:
    client = FakeBigQueryClient()
    data = reference.read_olist_dir(catalog_dir)
    report = reference.load_into_bigquery(data, "my-project", "orders_rt", location="EU", client=client)
    assert report.destination == "bigquery:my-project.orders_rt"
    assert [load["destination"] for load in client.loads] == [
        "my-project.orders_rt.products",
        "my-project.orders_rt.sellers",
        "my-project.orders_rt.product_category_name_translation",
    ]
    for load in client.loads:
        table_name = load["destination"].rsplit(".", 1)[-1]
        config = load["config"]
        assert config.write_disposition == "WRITE_TRUNCATE"
        assert config.source_format == "PARQUET"
        expected = json.loads((BIGQUERY_SCHEMA_DIR / f"{table_name}.json").read_text())
        assert [(f.name, f.field_type, f.mode) for f in config.schema] == [
            (c["name"], c["type"], c["mode"]) for c in expected
        ]
        assert load["table"].num_rows == data.tables[table_name].num_rows
        assert load["location"] == "EU"
    sellers = client.loads[1]["table"]
    assert sellers["seller_zip_code_prefix"].to_pylist() == ["01310", "69900"]


def test_cli_loads_duckdb(catalog_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cli.duckdb"
    assert reference.main(["--olist-dir", str(catalog_dir), "--duckdb-path", str(path)]) == 0
    assert "products=3" in capsys.readouterr().out
    assert query(path, "SELECT count(*) FROM orders_rt.sellers") == [(2,)]


def test_cli_needs_a_project_for_bigquery(catalog_dir: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        reference.main(["--olist-dir", str(catalog_dir), "--sink", "bigquery"])
    assert exit_info.value.code == 2


def test_cli_reports_a_bad_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        reference.main(["--olist-dir", str(tmp_path / "nowhere")])
    assert exit_info.value.code == 2
    assert "not a directory" in capsys.readouterr().err
