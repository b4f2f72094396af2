"""Hand-made Olist (Kaggle-format) files of real shape, with the quirks the full set has and the sample lacks."""

from __future__ import annotations

import csv
from pathlib import Path

ORDERS = [
    # order_id, customer_id, status, purchase, approved, carrier, delivered, estimated
    ("o-quirk-delivered", "c1", "delivered", "2017-03-01 10:00:00", "2017-03-01 11:00:00", "2017-03-02 09:00:00", "",
     "2017-03-20 00:00:00"),
    ("o-payment-2", "c2", "delivered", "2017-05-01 10:00:00", "2017-05-01 10:30:00", "2017-05-03 09:00:00",
     "2017-05-08 15:00:00", "2017-05-25 00:00:00"),
    ("o-canceled-empty", "c3", "canceled", "2017-06-01 08:00:00", "", "", "", "2017-06-20 00:00:00"),
    ("o-dst-gap", "c4", "shipped", "2017-10-15 00:30:00", "2017-10-15 01:10:00", "2017-10-16 12:00:00", "",
     "2017-11-01 00:00:00"),
]  # fmt: skip
ITEMS = [
    ("o-quirk-delivered", "1", "p1", "s1", "2017-03-05 10:00:00", "10.50", "2.25"),
    ("o-quirk-delivered", "2", "p1", "s1", "2017-03-05 10:00:00", "10.50", "2.25"),
    ("o-payment-2", "1", "p2", "s2", "2017-05-05 10:00:00", "99.90", "15.10"),
    ("o-dst-gap", "1", "p3", "s3", "2017-10-20 00:30:00", "5.00", "1.00"),
]
PAYMENTS = [
    ("o-quirk-delivered", "1", "credit_card", "3", "25.50"),
    ("o-payment-2", "2", "boleto", "1", "115.00"),
    ("o-canceled-empty", "1", "not_defined", "0", "0.00"),
    ("o-dst-gap", "1", "voucher", "1", "6.00"),
]
CUSTOMERS = [(f"c{n}", f"u{n}", "1310", "sao paulo", "SP") for n in range(1, 5)]


def _write(path: Path, header: list[str], rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write("\ufeff")  # a BOM, as some of the Kaggle files have
        writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC if path.name.startswith("olist_orders") else 0)
        writer.writerow(header)
        writer.writerows(rows)


def write_kaggle_files(tmp_path: Path) -> Path:
    """The four order files in ``tmp_path``: a delivered order without its delivery date, a single payment
    numbered 2, a canceled order with no items and a 0.00 not_defined payment, a purchase in the DST gap."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    _write(tmp_path / "olist_orders_dataset.csv", ["order_id", "customer_id", "order_status",
           "order_purchase_timestamp", "order_approved_at", "order_delivered_carrier_date",
           "order_delivered_customer_date", "order_estimated_delivery_date"], ORDERS)  # fmt: skip
    _write(tmp_path / "olist_order_items_dataset.csv", ["order_id", "order_item_id", "product_id", "seller_id",
           "shipping_limit_date", "price", "freight_value"], ITEMS)  # fmt: skip
    _write(tmp_path / "olist_order_payments_dataset.csv", ["order_id", "payment_sequential", "payment_type",
           "payment_installments", "payment_value"], PAYMENTS)  # fmt: skip
    _write(tmp_path / "olist_customers_dataset.csv", ["customer_id", "customer_unique_id",
           "customer_zip_code_prefix", "customer_city", "customer_state"], CUSTOMERS)  # fmt: skip
    return tmp_path
