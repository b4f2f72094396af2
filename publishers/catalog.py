"""Products and sellers to sell: the real Olist CSVs when given, a generated catalog otherwise.

Both come out as the same dataclasses, and a catalog can be written back as the three Olist-format CSVs
(products, sellers, category translation) so the warehouse's reference loader has one input format.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from faker import Faker

from publishers.geography import STATE_WEIGHTS, STATES
from publishers.identifiers import random_hex_id
from publishers.text import olist_city
from schemas.olist import CATEGORY_TRANSLATION_FILE, PRODUCTS_FILE, SELLERS_FILE, zip_prefix

# The largest Olist categories (Portuguese name -> English), for generated catalogs.
GENERATED_CATEGORIES: dict[str, str] = {
    "cama_mesa_banho": "bed_bath_table",
    "beleza_saude": "health_beauty",
    "esporte_lazer": "sports_leisure",
    "moveis_decoracao": "furniture_decor",
    "informatica_acessorios": "computers_accessories",
    "utilidades_domesticas": "housewares",
    "relogios_presentes": "watches_gifts",
    "telefonia": "telephony",
    "ferramentas_jardim": "garden_tools",
    "automotivo": "auto",
    "brinquedos": "toys",
    "cool_stuff": "cool_stuff",
    "perfumaria": "perfumery",
    "bebes": "baby",
    "eletronicos": "electronics",
    "papelaria": "stationery",
    "fashion_bolsas_e_acessorios": "fashion_bags_accessories",
    "pet_shop": "pet_shop",
    "moveis_escritorio": "office_furniture",
    "consoles_games": "consoles_games",
}


class CatalogError(ValueError):
    """An Olist CSV directory that cannot be read, with the file and what was wrong."""


@dataclass(frozen=True)
class Product:
    product_id: str
    product_category_name: str | None
    product_name_lenght: int | None
    product_description_lenght: int | None
    product_photos_qty: int | None
    product_weight_g: int | None
    product_length_cm: int | None
    product_height_cm: int | None
    product_width_cm: int | None


@dataclass(frozen=True)
class Seller:
    seller_id: str
    seller_zip_code_prefix: str
    seller_city: str
    seller_state: str


@dataclass(frozen=True)
class Catalog:
    products: tuple[Product, ...]
    sellers: tuple[Seller, ...]
    category_translation: dict[str, str]
    source: str


def _optional_int(value: str) -> int | None:
    value = value.strip()
    return int(float(value)) if value else None


def _rows(path: Path) -> Iterator[dict[str, str]]:
    if not path.is_file():
        raise CatalogError(f"{path}: file not found (expected the Olist CSV {path.name})")
    # utf-8-sig drops the BOM the translation file starts with; csv handles the quoted headers.
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from csv.DictReader(handle)


def load_olist_catalog(directory: str | Path) -> Catalog:
    """Read products, sellers and the category translation from a directory of Olist CSVs."""
    directory = Path(directory)
    try:
        products = tuple(
            Product(
                product_id=row["product_id"].strip(),
                product_category_name=row["product_category_name"].strip() or None,
                **{
                    f.name: _optional_int(row[f.name])
                    for f in fields(Product)
                    if f.name not in ("product_id", "product_category_name")
                },
            )
            for row in _rows(directory / PRODUCTS_FILE)
        )
        sellers = tuple(
            Seller(
                seller_id=row["seller_id"].strip(),
                seller_zip_code_prefix=zip_prefix(row["seller_zip_code_prefix"]),
                seller_city=row["seller_city"].strip(),
                seller_state=row["seller_state"].strip(),
            )
            for row in _rows(directory / SELLERS_FILE)
        )
        translation = {
            row["product_category_name"].strip(): row["product_category_name_english"].strip()
            for row in _rows(directory / CATEGORY_TRANSLATION_FILE)
        }
    except KeyError as error:
        raise CatalogError(f"{directory}: a CSV lacks the Olist column {error}") from error
    except ValueError as error:
        raise CatalogError(f"{directory}: {error}") from error
    if not products or not sellers:
        raise CatalogError(f"{directory}: no products or no sellers found")
    return Catalog(products, sellers, translation, source=str(directory))


def generate_catalog(rng: random.Random, faker: Faker, products: int = 500, sellers: int = 60) -> Catalog:
    """A plausible Olist-like catalog, deterministic for a given ``rng`` and ``faker`` seed."""
    categories = list(GENERATED_CATEGORIES)
    generated_products = []
    for _ in range(products):
        length, height, width = rng.randint(11, 80), rng.randint(2, 60), rng.randint(8, 60)
        generated_products.append(
            Product(
                product_id=random_hex_id(rng),
                # About 2% of real Olist products have no category: keep that quirk.
                product_category_name=None if rng.random() < 0.02 else rng.choice(categories),
                product_name_lenght=rng.randint(10, 64),
                product_description_lenght=rng.randint(40, 2000),
                product_photos_qty=rng.randint(1, 6),
                product_weight_g=int(rng.lognormvariate(6.6, 1.1)) + 50,
                product_length_cm=length,
                product_height_cm=height,
                product_width_cm=width,
            )
        )
    generated_sellers = []
    for _ in range(sellers):
        state = rng.choices(STATES, weights=STATE_WEIGHTS)[0]
        city = rng.choice(state.cities) if rng.random() < 0.8 else olist_city(faker.city())
        generated_sellers.append(
            Seller(
                seller_id=random_hex_id(rng),
                seller_zip_code_prefix=f"{rng.randint(*state.zip_range):05d}",
                seller_city=city,
                seller_state=state.code,
            )
        )
    return Catalog(tuple(generated_products), tuple(generated_sellers), dict(GENERATED_CATEGORIES), source="generated")


def write_catalog(catalog: Catalog, directory: str | Path) -> list[Path]:
    """Write the catalog as the three Olist-format CSVs, for the warehouse's reference loader."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows, columns in (
        (PRODUCTS_FILE, [asdict(p) for p in catalog.products], [f.name for f in fields(Product)]),
        (SELLERS_FILE, [asdict(s) for s in catalog.sellers], [f.name for f in fields(Seller)]),
        (
            CATEGORY_TRANSLATION_FILE,
            [
                {"product_category_name": pt, "product_category_name_english": en}
                for pt, en in sorted(catalog.category_translation.items())
            ],
            ["product_category_name", "product_category_name_english"],
        ),
    ):
        path = directory / name
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)  # None is written as an empty field, as in the real files
        written.append(path)
    return written
