"""What the live demo prints at the end (and its progress line), read from the warehouse files themselves.

Counts come from the tables (orders, lines, dead letters), the pipeline's own per-minute ``pipeline_metrics``
(what it received and did with each event, and the publish->commit latency histogram) and dbt's analytics file.
Every read is one short read-only connection that waits (bounded) while a writer holds the file.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from beam_pipelines.pipeline_metrics import COMMIT_LATENCY_MS, histogram_percentiles, latency_bound
from schemas.settings import DEFAULT_DATASET
from warehouse.connection import WarehouseLockedError, connect

SCHEMA = DEFAULT_DATASET
#: The fold outcomes and other per-event counts the pipeline writes to pipeline_metrics.
OUTCOMES = ("valid", "applied", "superseded", "stale", "duplicate", "conflict", "refused", "dead_lettered")
LATENCY_METRIC = COMMIT_LATENCY_MS
PERCENTILES = (50, 95, 99)


@dataclass
class Summary:
    published: int | None
    orders: int
    items: int
    payments: int
    dead_letters: dict[str, int]
    outcomes: dict[str, int] = field(default_factory=dict)
    latency_buckets: list[tuple[float, int]] = field(default_factory=list)
    marts: dict[str, int] = field(default_factory=dict)
    dbt_builds: int = 0

    @property
    def received(self) -> int | None:
        if not self.outcomes:
            return None
        return self.outcomes.get("valid", 0) + self.outcomes.get("dead_lettered", 0)

    def latency_percentiles(self) -> dict[int, float]:
        return histogram_percentiles(self.latency_buckets, PERCENTILES)

    def render(self) -> str:
        lines = []
        published = "unknown" if self.published is None else f"{self.published:,}"
        received = "unknown (no pipeline_metrics)" if self.received is None else f"{self.received:,}"
        lines.append(f"events published: {published}; received by the pipeline: {received}")
        if self.outcomes:
            done = (f"{name} {self.outcomes.get(name, 0):,}" for name in OUTCOMES if name != "valid")
            lines.append("pipeline: " + ", ".join(done))
        lines.append(f"warehouse: orders {self.orders:,}, order items {self.items:,}, payments {self.payments:,}")
        total = sum(self.dead_letters.values())
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in sorted(self.dead_letters.items(), key=lambda x: -x[1]))
        lines.append(f"dead letters: {total:,}" + (f" ({reasons})" if reasons else ""))
        percentiles = self.latency_percentiles()
        if percentiles:
            shown = ", ".join(f"p{p} <= {_ms(v)}" for p, v in percentiles.items())
            count = sum(n for _, n in self.latency_buckets)
            lines.append(f"publish -> committed latency over {count:,} events: {shown} (histogram bucket bounds)")
        else:
            lines.append("publish -> committed latency: no measurements")
        if self.marts:
            shown = ", ".join(f"{name} {n:,}" for name, n in self.marts.items())
            lines.append(f"dbt: {self.dbt_builds} build(s); marts: {shown}")
        return "\n".join(lines)


def _ms(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:g} ms"


def _table_exists(connection, schema: str, table: str) -> bool:
    return bool(
        connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def read_summary(warehouse: Path, analytics: Path, published: int | None, dbt_builds: int = 0) -> Summary:
    with connect(warehouse, read_only=True) as raw:
        orders = raw.execute(f"SELECT count(*) FROM {SCHEMA}.orders").fetchone()[0]
        items = raw.execute(f"SELECT count(*) FROM {SCHEMA}.order_items").fetchone()[0]
        payments = raw.execute(f"SELECT count(*) FROM {SCHEMA}.order_payments").fetchone()[0]
        dead = dict(
            raw.execute(
                f"SELECT error_stage || '/' || error_kind, count(*) FROM {SCHEMA}.order_events_dead_letter GROUP BY 1"
            ).fetchall()
        )
        outcomes: dict[str, int] = {}
        buckets: list[tuple[float, int]] = []
        if _table_exists(raw, SCHEMA, "pipeline_metrics"):
            outcomes = {
                metric: int(total)
                for metric, total in raw.execute(
                    f"SELECT metric, sum(value) FROM {SCHEMA}.pipeline_metrics WHERE metric <> ? GROUP BY 1",
                    [LATENCY_METRIC],
                ).fetchall()
            }
            buckets = [
                (latency_bound(kind), int(total))
                for kind, total in raw.execute(
                    f"SELECT kind, sum(value) FROM {SCHEMA}.pipeline_metrics WHERE metric = ? GROUP BY 1",
                    [LATENCY_METRIC],
                ).fetchall()
            ]
    marts: dict[str, int] = {}
    if analytics.exists():
        with contextlib.closing(duckdb.connect(str(analytics), read_only=True)) as built:
            for schema, name in built.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_name IN ('fct_orders', 'dim_customers', 'kpi_daily_sales', 'rt_live_orders') ORDER BY 2"
            ).fetchall():
                marts[name] = built.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()[0]
    return Summary(published, orders, items, payments, dead, outcomes, buckets, marts, dbt_builds)


def live_counts(warehouse: Path) -> dict[str, int] | None:
    """Orders, items and dead letters now, or None while the file is busy or not created yet."""
    if not warehouse.exists():
        return None
    try:
        with connect(warehouse, read_only=True, lock_timeout=1.0) as raw:
            if not _table_exists(raw, SCHEMA, "orders"):
                return None
            return {
                "orders": raw.execute(f"SELECT count(*) FROM {SCHEMA}.orders").fetchone()[0],
                "items": raw.execute(f"SELECT count(*) FROM {SCHEMA}.order_items").fetchone()[0],
                "dead_letters": raw.execute(f"SELECT count(*) FROM {SCHEMA}.order_events_dead_letter").fetchone()[0],
            }
    except duckdb.InterruptException:  # Ctrl-C while DuckDB worked: an interrupt, not a busy file
        raise KeyboardInterrupt from None
    except (WarehouseLockedError, duckdb.Error):
        return None
