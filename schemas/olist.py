"""The Olist dataset's files and its one quirk every reader must repair (zip prefixes that lost their zeros)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

#: Olist's timestamps are São Paulo wall-clock times (with daylight saving time until 2019).
SOURCE_TIMEZONE = ZoneInfo("America/Sao_Paulo")

#: Kaggle file of each table the project reads.
PRODUCTS_FILE = "olist_products_dataset.csv"
SELLERS_FILE = "olist_sellers_dataset.csv"
CATEGORY_TRANSLATION_FILE = "product_category_name_translation.csv"
ORDERS_FILE = "olist_orders_dataset.csv"
ORDER_ITEMS_FILE = "olist_order_items_dataset.csv"
ORDER_PAYMENTS_FILE = "olist_order_payments_dataset.csv"
CUSTOMERS_FILE = "olist_customers_dataset.csv"
#: Optional: read only for schema version 2 events (order_review).
ORDER_REVIEWS_FILE = "olist_order_reviews_dataset.csv"

#: Zip prefixes are five digits; CSV tools that read them as integers drop the leading zeros.
ZIP_PREFIX_WIDTH = 5
ZIP_PREFIX_COLUMNS = frozenset({"seller_zip_code_prefix", "customer_zip_code_prefix"})


def zip_prefix(value: str) -> str:
    """``value`` as the 5-digit prefix, leading zeros restored."""
    digits = value.strip()
    if not digits.isdigit() or len(digits) > ZIP_PREFIX_WIDTH:
        raise ValueError(f"zip code prefix {value!r} is not 1-{ZIP_PREFIX_WIDTH} digits")
    return digits.zfill(ZIP_PREFIX_WIDTH)
