"""Inputs for the dbt tests' warehouse that the publisher does not make, and a dbt runner for tests.

The raw warehouse itself is produced only by the project's public commands (see conftest.py). What lives
here is what those commands are fed on top of the publisher's random orders: the hand-made edge orders the
marts must get right (EDGE_ORDERS), as contract-valid event lines (full snapshots, several per order,
redelivered and out of order), and the products and sellers they name, as rows appended to the publisher's
Olist-format catalog CSVs.
"""

from __future__ import annotations

import csv
import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from schemas.olist import (
    CATEGORY_TRANSLATION_FILE,
    CUSTOMERS_FILE,
    ORDER_ITEMS_FILE,
    ORDER_PAYMENTS_FILE,
    ORDERS_FILE,
    PRODUCTS_FILE,
    SELLERS_FILE,
)
from warehouse import dbt_runner

#: Orders whose shape the tests rely on, by order_id.
EDGE_ORDERS = {
    "same_product_twice": "two item lines with the same product",
    "three_payments": "two items paid with three payments (a payments x items join would inflate it)",
    "canceled_no_items": "canceled before any item was picked: no items, no payments",
    "late_delivery": "delivered three days after the promised day",
    "untranslated_category": "an item whose product category has no English name",
    "no_category": "an item whose product has no category",
    "not_in_catalog": "an item whose product and seller are not in the reference data yet",
    "items_shrunk": "a newer snapshot removed one of the two lines of an older one (which arrives last)",
    "open_recent": "bought a few hours ago and still being processed: the real-time views have a live order",
    "late_evening": "bought 22:30 and delivered 23:30 on the promised day, Sao Paulo time (the next days in UTC)",
}

#: Olist's clock, the dbt var reporting_timezone: a promised delivery day is that zone's midnight.
OLIST_ZONE = ZoneInfo("America/Sao_Paulo")


@dataclass(frozen=True)
class OlistDstOrder:
    """A delivered order as Olist's Kaggle files write it: Sao Paulo wall-clock text, no offset."""

    shows: str
    purchased: str
    delivered: str
    estimated: str


#: Orders of real shape around Brazil's daylight-saving changes (DST began 2017-10-15 00:00, ended 2018-02-18
#: 00:00 local), replayed by `python -m publishers --replay-olist` (conftest): the marts must give back the days
#: Olist wrote. One item of 20.00 + 5.00 freight each.
OLIST_DST_ORDERS = {
    "olist-dst-gap": OlistDstOrder(
        "bought at 00:30 on the day DST began, a time that never existed; delivered 23:30 on the promised day",
        "2017-10-15 00:30:00",
        "2017-10-20 23:30:00",
        "2017-10-20 00:00:00",
    ),
    "olist-before-dst": OlistDstOrder(
        "bought 23:30 the evening before DST began (02:30 UTC the next day)",
        "2017-10-14 23:30:00",
        "2017-10-24 10:00:00",
        "2017-10-30 00:00:00",
    ),
    "olist-month-end": OlistDstOrder(
        "bought 2017-10-31 23:00 in DST (01:00 UTC on November 1); delivered 00:00 the day after the promised day",
        "2017-10-31 23:00:00",
        "2017-11-10 00:00:00",
        "2017-11-09 00:00:00",
    ),
    "olist-dst-fold": OlistDstOrder(
        "bought 2018-02-17 23:30, a time that happened twice (DST ended at midnight); delivered 23:59 on time",
        "2018-02-17 23:30:00",
        "2018-03-01 23:59:00",
        "2018-03-01 00:00:00",
    ),
}

#: Edge products appended to the publisher's catalog: product_id -> Portuguese category ("" = none).
EDGE_PRODUCTS = {
    "prod0000": "",  # no category, like 610 real Olist products
    "prod0001": "esporte_lazer",
    "prod0003": "pc_gamer",  # a real Olist category without an English name
    "prod0005": "beleza_saude",
    "prod0006": "informatica_acessorios",
    "prod0007": "esporte_lazer",
    "prod0008": "beleza_saude",
    "prod0009": "informatica_acessorios",
}
#: Edge sellers appended to the catalog: seller_id -> (zip prefix, city, state).
EDGE_SELLERS = {
    "sell001": ("01310", "sao paulo", "SP"),
    "sell002": ("20040", "rio de janeiro", "RJ"),
    "sell003": ("30110", "belo horizonte", "MG"),
    "sell004": ("80010", "curitiba", "PR"),
    "sell005": ("40010", "salvador", "BA"),
    "sell006": ("04538", "sao paulo", "SP"),
    "sell007": ("09015", "santo andre", "SP"),
}
#: Edge categories appended to the translation file (pc_gamer deliberately has none).
EDGE_TRANSLATIONS = {"esporte_lazer": "sports_leisure"}
#: Named by an edge order, deliberately absent from the catalog.
NOT_IN_CATALOG = ("prod9999", "sell999")

HAPPY_PATH = ("created", "approved", "invoiced", "processing", "shipped", "delivered")
_EVENT_IDS = uuid.UUID("6f0c3c52-1f0e-4d57-9a55-0d1f2f0bd8a1")


def _existing_keys(path: Path, column: str) -> set[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {row[column] for row in csv.DictReader(handle)}


def _append_rows(path: Path, key: str, rows: list[dict]) -> None:
    """Append rows to an Olist-format CSV in the column order of its header, refusing a key it has."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle))
    clashes = _existing_keys(path, key) & {row[key] for row in rows}
    if clashes:
        raise ValueError(f"{path}: the catalog already has {key} {sorted(clashes)}")
    with path.open("a", encoding="utf-8", newline="") as handle:
        csv.DictWriter(handle, fieldnames=header).writerows(rows)


def append_edge_catalog(directory: Path) -> None:
    """Add the edge orders' products, sellers and categories to the publisher's Olist-format CSVs."""
    rng = random.Random(11)
    products = [
        {
            "product_id": product_id,
            "product_category_name": category,
            "product_name_lenght": rng.randint(20, 60),
            "product_description_lenght": rng.randint(100, 2000),
            "product_photos_qty": rng.randint(1, 6),
            "product_weight_g": rng.randint(100, 20000),
            "product_length_cm": rng.randint(10, 100),
            "product_height_cm": rng.randint(2, 60),
            "product_width_cm": rng.randint(10, 80),
        }
        for product_id, category in EDGE_PRODUCTS.items()
    ]
    _append_rows(directory / PRODUCTS_FILE, "product_id", products)
    sellers = [
        # as spreadsheet tools leave them: leading zeros lost, re-padded by the reference loader
        {
            "seller_id": seller_id,
            "seller_zip_code_prefix": zip_prefix.lstrip("0"),
            "seller_city": city,
            "seller_state": state,
        }
        for seller_id, (zip_prefix, city, state) in EDGE_SELLERS.items()
    ]
    _append_rows(directory / SELLERS_FILE, "seller_id", sellers)
    translation = directory / CATEGORY_TRANSLATION_FILE
    known = _existing_keys(translation, "product_category_name")
    _append_rows(
        translation,
        "product_category_name",
        [
            {"product_category_name": pt, "product_category_name_english": en}
            for pt, en in EDGE_TRANSLATIONS.items()
            if pt not in known
        ],
    )


def local_midnight(moment: datetime) -> datetime:
    """The start of ``moment``'s day in Sao Paulo, as an instant (Olist promises a day, not a time)."""
    return datetime.combine(moment.astimezone(OLIST_ZONE).date(), time(), OLIST_ZONE)


def late_evening_purchase(start: datetime) -> datetime:
    """When the late_evening edge order was bought: 22:30 in Sao Paulo, 30 days before ``start``."""
    return datetime.combine((start - timedelta(days=30)).astimezone(OLIST_ZONE).date(), time(22, 30), OLIST_ZONE)


def write_olist_dst_files(directory: Path) -> Path:
    """OLIST_DST_ORDERS as the four Kaggle order files in ``directory`` (for publishers --replay-olist)."""
    directory.mkdir(parents=True, exist_ok=True)

    def later(text: str, **delta: float) -> str:
        return str(datetime.fromisoformat(text) + timedelta(**delta))

    files = {
        ORDERS_FILE: [
            ["order_id", "customer_id", "order_status", "order_purchase_timestamp", "order_approved_at",
             "order_delivered_carrier_date", "order_delivered_customer_date", "order_estimated_delivery_date"],
            *([order_id, f"cust-{order_id}", "delivered", o.purchased, later(o.purchased, hours=1),
               later(o.purchased, days=2), o.delivered, o.estimated] for order_id, o in OLIST_DST_ORDERS.items()),
        ],
        ORDER_ITEMS_FILE: [
            ["order_id", "order_item_id", "product_id", "seller_id", "shipping_limit_date", "price", "freight_value"],
            *([order_id, "1", "prod0005", "sell001", later(o.purchased, days=3), "20.00", "5.00"]
              for order_id, o in OLIST_DST_ORDERS.items()),
        ],
        ORDER_PAYMENTS_FILE: [
            ["order_id", "payment_sequential", "payment_type", "payment_installments", "payment_value"],
            *([order_id, "1", "credit_card", "1", "25.00"] for order_id in OLIST_DST_ORDERS),
        ],
        CUSTOMERS_FILE: [
            ["customer_id", "customer_unique_id", "customer_zip_code_prefix", "customer_city", "customer_state"],
            *([f"cust-{order_id}", f"{order_id}-person", "01310", "sao paulo", "SP"] for order_id in OLIST_DST_ORDERS),
        ],
    }  # fmt: skip
    for name, rows in files.items():
        with (directory / name).open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows(rows)
    return directory


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(value: Decimal) -> float:
    assert value == value.quantize(Decimal("0.01")), value
    return float(value)


def _item(n: int, product_id: str, seller_id: str, purchased_at: datetime, price: str, freight: str) -> dict:
    return {
        "order_item_id": n,
        "product_id": product_id,
        "seller_id": seller_id,
        "shipping_limit_date": purchased_at + timedelta(days=3),
        "price": Decimal(price),
        "freight_value": Decimal(freight),
    }


def _payment(n: int, payment_type: str, value: Decimal | str, installments: int = 1) -> dict:
    return {
        "payment_sequential": n,
        "payment_type": payment_type,
        "payment_installments": installments,
        "payment_value": Decimal(value),
    }


def _paid_in_full(items: list[dict], payment_type: str = "credit_card", installments: int = 2) -> list[dict]:
    total = sum((i["price"] + i["freight_value"] for i in items), Decimal("0"))
    return [_payment(1, payment_type, total, installments)] if items else []


def lifecycle_events(
    order_id: str,
    person: dict,
    purchased_at: datetime,
    items: list[dict],
    payments: list[dict] | None = None,
    final_status: str = "delivered",
    delivery_days: float = 5.0,
    promised_days: int = 10,
) -> list[dict]:
    """Every snapshot (event body) an order goes through on its way to ``final_status``, sequence 1, 2, …"""
    payments = _paid_in_full(items) if payments is None else payments
    step_offsets = {
        "created": timedelta(0),
        "approved": timedelta(minutes=20),
        "invoiced": timedelta(hours=2),
        "processing": timedelta(hours=4),
        "shipped": timedelta(days=1),
        "delivered": timedelta(days=delivery_days),
        "canceled": timedelta(hours=3),
        "unavailable": timedelta(hours=3),
    }
    if final_status in ("canceled", "unavailable"):
        path = ["created", final_status]
    else:
        path = list(HAPPY_PATH[: HAPPY_PATH.index(final_status) + 1])
    order = {
        "order_id": order_id,
        "customer_id": f"cust-{order_id}",  # Olist: one customer_id per order, one unique id per person
        "order_status": "created",
        "order_purchase_timestamp": purchased_at,
        "order_approved_at": None,
        "order_delivered_carrier_date": None,
        "order_delivered_customer_date": None,
        "order_estimated_delivery_date": local_midnight(purchased_at + timedelta(days=promised_days)),
    }
    events = []
    for sequence, status in enumerate(path, start=1):
        at = purchased_at + step_offsets[status]
        order["order_status"] = status
        if status == "approved":
            order["order_approved_at"] = at
        elif status == "shipped":
            order["order_delivered_carrier_date"] = at
        elif status == "delivered":
            order["order_delivered_customer_date"] = at
        events.append(
            {
                "event_id": str(uuid.uuid5(_EVENT_IDS, f"{order_id}/{sequence}")),
                "event_type": f"order_{status}",
                "event_time": _timestamp(at),
                "sequence": sequence,
                "schema_version": 1,
                "order": {k: _timestamp(v) if isinstance(v, datetime) else v for k, v in order.items()},
                "customer": {"customer_id": order["customer_id"], **person},
                "items": [
                    {
                        **item,
                        "shipping_limit_date": _timestamp(item["shipping_limit_date"]),
                        "price": _money(item["price"]),
                        "freight_value": _money(item["freight_value"]),
                    }
                    for item in items
                ],
                "payments": [{**p, "payment_value": _money(p["payment_value"])} for p in payments],
            }
        )
    return events


def edge_events(start: datetime) -> list[dict]:
    """The edge orders' event bodies in delivery order: shuffled, some redelivered, and the oldest snapshot
    of items_shrunk (which still had two lines) delivered after all its newer ones."""
    rng = random.Random(17)
    people = [
        {
            "customer_unique_id": f"edge-person-{name}",
            "customer_zip_code_prefix": zip_prefix,
            "customer_city": city,
            "customer_state": state,
        }
        for name, zip_prefix, city, state in (
            ("ana", "01310", "sao paulo", "SP"),
            ("bia", "22041", "rio de janeiro", "RJ"),
            ("caio", "30130", "belo horizonte", "MG"),
            ("davi", "80020", "curitiba", "PR"),
            ("eva", "40020", "salvador", "BA"),
            ("fabio", "09010", "santo andre", "SP"),
        )
    ]
    ana, bia, caio, davi, eva, fabio = people
    day = (start - timedelta(days=30)).replace(microsecond=0)
    events: list[dict] = []
    items = [_item(n, "prod0005", "sell001", day, "58.90", "13.29") for n in (1, 2)]
    events += lifecycle_events("same_product_twice", ana, day, items)
    items = [
        _item(1, "prod0006", "sell002", day, "100.00", "10.05"),
        _item(2, "prod0007", "sell003", day, "50.50", "5.25"),
    ]
    payments = [
        _payment(1, "credit_card", "120.00", 4),
        _payment(2, "voucher", "30.00"),
        _payment(3, "voucher", "15.80"),
    ]
    events += lifecycle_events("three_payments", bia, day, items, payments)
    events += lifecycle_events("canceled_no_items", bia, day, [], final_status="canceled")
    late_day = day - timedelta(days=20)
    items = [_item(1, "prod0008", "sell004", late_day, "19.99", "7.01")]
    events += lifecycle_events("late_delivery", ana, late_day, items, delivery_days=13.5, promised_days=10)
    items = [_item(1, "prod0003", "sell005", day, "999.99", "45.10")]
    events += lifecycle_events("untranslated_category", caio, day, items)
    items = [_item(1, "prod0000", "sell006", day, "12.34", "5.66")]
    events += lifecycle_events("no_category", davi, day, items)
    items = [_item(1, "prod9999", "sell999", day, "42.00", "8.00")]
    events += lifecycle_events("not_in_catalog", eva, day, items)
    evening = late_evening_purchase(start)
    items = [_item(1, "prod0006", "sell006", evening, "25.00", "4.00")]
    # promised 7 days later, local midnight; delivered 7 days 1 hour later: 23:30 local on the promised day
    events += lifecycle_events("late_evening", eva, evening, items, delivery_days=7 + 1 / 24, promised_days=7)
    recent = (start - timedelta(hours=6)).replace(microsecond=0)
    items = [_item(1, "prod0001", "sell001", recent, "79.90", "15.10")]
    events += lifecycle_events("open_recent", fabio, recent, items, final_status="processing")

    rng.shuffle(events)
    events += rng.sample(events, k=len(events) // 5)  # redeliveries

    both_lines = [_item(n, "prod0009", "sell007", day, "30.00", "3.00") for n in (1, 2)]
    shrunk = lifecycle_events("items_shrunk", fabio, day, both_lines[:1], [_payment(1, "boleto", "33.00")])
    (first,) = lifecycle_events("items_shrunk", fabio, day, both_lines, [_payment(1, "boleto", "66.00")])[:1]
    shrunk[0] = first  # the first snapshot had two lines; every later one only the first
    events += [*shrunk[1:], shrunk[0]]  # the stale, larger snapshot arrives last
    return events


def write_edge_events(path: Path, start: datetime) -> list[str]:
    """Write the edge orders' events as JSONL, one message body per line; returns the lines."""
    lines = [json.dumps(event, separators=(",", ":")) for event in edge_events(start)]
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return lines


@dataclass(frozen=True)
class DbtBuild:
    exit_code: int
    raw_path: Path
    analytics_path: Path
    target_dir: Path


def run_dbt(
    command: str, *args: str, raw_path: Path, analytics_path: Path, artifacts: Path, unit_tests: bool = False
) -> int:
    """warehouse.dbt_runner with dbt's artifacts and logs kept out of the source tree."""
    return dbt_runner.run(
        command,
        [*args, "--target-path", str(artifacts / "target"), "--log-path", str(artifacts / "logs")],
        target="local",
        duckdb_path=raw_path,
        analytics_path=analytics_path,
        lock_timeout=30,
        unit_tests=unit_tests,
    )
