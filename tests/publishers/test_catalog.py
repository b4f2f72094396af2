"""Olist reference CSVs: the real files' quirks, and generated catalogs written in the same format."""

from __future__ import annotations

import random

import pytest
from faker import Faker

from publishers.catalog import CatalogError, generate_catalog, load_olist_catalog, write_catalog
from schemas.olist import zip_prefix


def test_real_olist_files_load_with_their_quirks(olist_dir):
    catalog = load_olist_catalog(olist_dir)
    assert len(catalog.products) == 32951
    assert len(catalog.sellers) == 3095
    assert len(catalog.category_translation) == 71
    # The translation file starts with a BOM: its first column must still be found by name.
    assert catalog.category_translation["beleza_saude"] == "health_beauty"
    assert sum(p.product_category_name is None for p in catalog.products) == 610
    categories = {p.product_category_name for p in catalog.products} - {None}
    assert sorted(categories - set(catalog.category_translation)) == [
        "pc_gamer",
        "portateis_cozinha_e_preparadores_de_alimentos",
    ]
    assert all(len(s.seller_zip_code_prefix) == 5 and s.seller_zip_code_prefix.isdigit() for s in catalog.sellers)
    assert all(len(p.product_id) == 32 for p in catalog.products)


def test_zip_prefixes_get_their_leading_zeros_back():
    assert zip_prefix("1310") == "01310"
    assert zip_prefix(" 01310 ") == "01310"
    with pytest.raises(ValueError, match="not 1-5 digits"):
        zip_prefix("013100")


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(CatalogError, match=r"olist_products_dataset\.csv: file not found"):
        load_olist_catalog(tmp_path)


def test_generated_catalog_round_trips_through_olist_format(tmp_path):
    faker = Faker("pt_BR")
    faker.seed_instance(3)
    catalog = generate_catalog(random.Random(3), faker, products=200, sellers=20)
    write_catalog(catalog, tmp_path)
    again = load_olist_catalog(tmp_path)
    assert again.products == catalog.products
    assert again.sellers == catalog.sellers
    assert again.category_translation == catalog.category_translation
    assert any(p.product_category_name is None for p in catalog.products)
