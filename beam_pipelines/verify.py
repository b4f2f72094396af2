"""Reconcile what was published with the warehouse: ``python -m beam_pipelines.verify FILE.jsonl [FILE ...]``.

The files are what the publisher wrote (``--output``) or what it published to a topic (``--tee``), one message body
per line, read as the backfill reads them (beam_pipelines.messages.numbered_bodies). Each distinct body is one
event; a body repeated on later lines (``--duplicate-ratio``, a re-published file) is counted once, and its
other lines take its class. Every event is exactly one of:

- ``current``: the warehouse's row for its order holds this event (same ``_event_id`` and ``_sequence``), and the
  order's items and payments are this event's: the same keys (``order_item_id``, ``payment_sequential``), the same
  count, the same values of the columns that are not timestamps (items: product_id, seller_id, price,
  freight_value; payments: payment_type, payment_installments, payment_value; the order row: order_status,
  customer_id; money compared exactly as decimals), and each line carries the order row's ``_sequence`` and
  ``_event_id``. Timestamps and customer address columns are not compared;
- ``mismatch``: the order row holds this event, but the lines or compared columns differ (an order whose lines
  were lost is not reflected);
- ``superseded``: a valid event whose order holds a newer sequence, or the same sequence from another event
  (this one lost a sequence conflict: the report names the winner). From current state alone this cannot tell
  an event that arrived and was superseded from one that never arrived: nothing newer would show the difference;
- ``dead_lettered``: found in ``order_events_dead_letter`` by the SHA-256 of its body (``payload_sha256``), or by
  its event_id (how BigQuery's compaction records a sequence conflict, and the only match left for a line whose
  body lost a newline in the JSONL), with the stage, kind and message;
- ``missing``: none of these: a valid event whose order has no row or an older one, or a body that the
  project's validator rejects and that is not in the dead letters.

Exit status: 0 when nothing is missing or mismatched, 1 when something is, 2 on usage errors (flags, a file or
warehouse that does not exist), 3 when the warehouse could not be read (locked past ``--duckdb_lock_timeout``, missing
tables, a BigQuery error).

Lookups are batched: every ``--chunk_size`` distinct bodies, four SELECTs with the chunk's ids as array
parameters (beam_pipelines/verify_sql.py). On DuckDB each chunk opens the file read-only for its lookups only,
waiting out the pipeline's lock with the project's backoff (warehouse/connection.py), so a running pipeline
is held up for one chunk at most. On BigQuery it reads the exact ``*_current`` views.

Flags are spelled with underscores, as beam_pipelines.compaction spells them (``--bq_project``), and each also
takes the hyphen spelling of the project's other commands (``--bq-project``, ``--duckdb-path``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from beam_pipelines.dead_letters import clean_text
from beam_pipelines.messages import numbered_bodies
from beam_pipelines.sinks.fold import SEQUENCE_CONFLICT
from beam_pipelines.verify_sql import (
    EVENT_IDS,
    ORDER_IDS,
    PAYLOAD_SHA256S,
    VerifySql,
    bigquery_lookups,
    duckdb_lookups,
)
from schemas.settings import DEFAULT_DATASET, DEFAULT_LOCK_TIMEOUT, DUCKDB_PATH_ENV, default_duckdb_path
from schemas.validation import ValidationError, ValidationResult, validate_payload

CURRENT = "current"
SUPERSEDED = "superseded"
DEAD_LETTERED = "dead_lettered"
MISMATCH = "mismatch"
MISSING = "missing"
#: In the order the summary lists them.
CLASSES = (CURRENT, SUPERSEDED, DEAD_LETTERED, MISMATCH, MISSING)
PROBLEMS = (MISMATCH, MISSING)

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_WAREHOUSE = 3

DEFAULT_CHUNK_SIZE = 5000
DEFAULT_MAX_LISTED = 20
#: Line differences named per event in a mismatch (the rest are counted).
MAX_DIFFERENCES = 5
#: How much of an id or a message the text report shows.
SHOWN_CHARS = 80

#: Columns compared per line, after the key (see the module docstring), as verify_sql's lookups return them.
ITEM_FIELDS = ("product_id", "seller_id", "price", "freight_value")
PAYMENT_FIELDS = ("payment_type", "payment_installments", "payment_value")

#: A fetch runs one lookup: (SQL, {array parameter: ids}) -> rows as tuples.
Fetch = Callable[[str, dict[str, list[str]]], list[tuple]]


class WarehouseReadError(RuntimeError):
    """The warehouse could not be read (exit 3): the operator's to fix, not the file's."""


# --- What the files hold ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineRef:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class PublishedEvent:
    """One distinct body of the files, at its first line, with its ids read from it as far as it is a UTF-8 JSON
    object (None where it is not).

    Whether the project's validator accepts the body is asked only where the verdict depends on it (see
    ``_verdict``): a body the warehouse holds was accepted, one found in the dead letters was refused or lost a
    conflict, and the full error report of a refused body is the costly part of reading a line."""

    where: LineRef
    sha256: str
    body: bytes
    content: dict[str, Any] | None
    event_id: str | None
    order_id: str | None
    sequence: int | None
    _validated: ValidationResult | None = field(default=None, repr=False)

    def validation(self) -> ValidationResult:
        if self._validated is None:
            self._validated = validate_payload(self.body)
        return self._validated

    @property
    def rejection(self) -> ValidationError | None:
        """Why the validator refuses the body, once asked (None if not asked, or accepted)."""
        return None if self._validated is None else self._validated.first_error


def read_event(where: LineRef, body: bytes) -> PublishedEvent:
    digest = hashlib.sha256(body).hexdigest()
    try:
        content = json.loads(body.decode("utf-8"))  # strict UTF-8, as the pipeline reads it (json alone guesses)
    except (ValueError, RecursionError):
        content = None
    if not isinstance(content, dict):
        return PublishedEvent(where, digest, body, None, None, None, None)
    order = content.get("order")
    event_id, order_id = content.get("event_id"), order.get("order_id") if isinstance(order, dict) else None
    sequence = content.get("sequence")
    if isinstance(sequence, float) and sequence.is_integer():  # 3.0 is the integer 3 to the contract
        sequence = int(sequence)
    return PublishedEvent(
        where,
        digest,
        body,
        content,
        event_id if isinstance(event_id, str) else None,
        order_id if isinstance(order_id, str) else None,
        sequence if type(sequence) is int else None,
    )


def count_lines(path: Path) -> int:
    """Lines of a file as iterating it in binary counts them (a last line without a newline counts)."""
    lines, last = 0, b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


# --- What the warehouse holds --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredOrder:
    """An order's row: the version it holds and the columns compared."""

    sequence: int
    event_id: str
    order_status: str
    customer_id: str


@dataclass(frozen=True)
class DeadLetterFound:
    stage: str
    kind: str
    message: str
    path: str | None
    dead_letter_id: str | None
    #: payload_sha256 or event_id.
    matched_by: str
    #: Rows that matched (a message redelivered with another message id, or published twice, has several).
    rows: int

    @property
    def reason(self) -> str:
        return f"{self.stage}/{self.kind}"


@dataclass(frozen=True)
class Verdict:
    event: PublishedEvent
    klass: str
    detail: str = ""
    stored: StoredOrder | None = None
    dead_letter: DeadLetterFound | None = None
    #: The event lost a sequence conflict (superseded by an equal sequence, or dead-lettered for it).
    lost_conflict: bool = False


def _money(amount: Any) -> Any:
    # As the pipeline's rows do: repr is the shortest text that round-trips a float, so this is exact.
    return Decimal(repr(amount)) if isinstance(amount, float) else amount


def _short(value: Any, limit: int = SHOWN_CHARS) -> str:
    """A value for the report: text cleaned and capped; money without the warehouse's trailing zeros."""
    if isinstance(value, Decimal):
        value = f"{value.normalize():f}"
    return clean_text("" if value is None else str(value), limit) or ""


def _line_differences(
    table: str, key: str, fields: tuple[str, ...], expected: dict[Any, tuple], rows: list[tuple], stored: StoredOrder
) -> list[str]:
    """How the warehouse's lines of one order (rows: order_id, key, *fields, _sequence, _event_id) differ from
    the event's (key -> fields)."""
    held = {row[1]: tuple(row[2 : 2 + len(fields)]) for row in rows}
    out = []
    if len(rows) != len(expected):
        out.append(f"{table}: {len(rows)} lines in the warehouse, {len(expected)} in the event")
    out += [f"{table}: lacks {key} {k}" for k in sorted(expected.keys() - held.keys(), key=repr)]
    out += [f"{table}: {key} {k} is not in the event" for k in sorted(held.keys() - expected.keys(), key=repr)]
    for k in sorted(expected.keys() & held.keys(), key=repr):
        for name, want, have in zip(fields, expected[k], held[k], strict=True):
            if want != have:
                out.append(f"{table}: {key} {k} has {name} {_short(have)}, the event {_short(want)}")
    for row in rows:
        if (row[-2], row[-1]) != (stored.sequence, stored.event_id):
            out.append(f"{table}: {key} {row[1]} is from sequence {row[-2]} (event {_short(row[-1])})")
    return out


def differences(event: dict[str, Any], stored: StoredOrder, items: list[tuple], payments: list[tuple]) -> list[str]:
    """What the warehouse holds for a current event's order that the event does not say (see the docstring)."""
    order = event["order"]
    out = [
        f"orders: {name} is {_short(have)}, the event {_short(order[name])}"
        for name, have in (("order_status", stored.order_status), ("customer_id", stored.customer_id))
        if order[name] != have
    ]
    expected_items = {
        i["order_item_id"]: (i["product_id"], i["seller_id"], _money(i["price"]), _money(i["freight_value"]))
        for i in event["items"]
    }
    expected_payments = {
        p["payment_sequential"]: (p["payment_type"], p["payment_installments"], _money(p["payment_value"]))
        for p in event["payments"]
    }
    out += _line_differences("order_items", "order_item_id", ITEM_FIELDS, expected_items, items, stored)
    out += _line_differences(
        "order_payments", "payment_sequential", PAYMENT_FIELDS, expected_payments, payments, stored
    )
    return out


def _dead_letter_index(rows: list[tuple]) -> tuple[dict[str, list[tuple]], dict[str, list[tuple]]]:
    """Dead-letter rows (verify_sql.DEAD_LETTER_COLUMNS) by payload_sha256 and by event_id, earliest first."""
    by_sha: dict[str, list[tuple]] = {}
    by_event_id: dict[str, list[tuple]] = {}
    for row in sorted(rows, key=lambda r: (r[7] is None, r[7] or 0, r[6] or "")):
        if row[0]:
            by_sha.setdefault(row[0], []).append(row)
        if row[1]:
            by_event_id.setdefault(row[1], []).append(row)
    return by_sha, by_event_id


def _found(rows: list[tuple], matched_by: str) -> DeadLetterFound:
    first = rows[0]
    return DeadLetterFound(first[2], first[3], first[4] or "", first[5], first[6], matched_by, len(rows))


def classify(events: Sequence[PublishedEvent], fetch: Fetch, sql: VerifySql) -> list[Verdict]:
    """The verdict of each event (aligned with ``events``), from four batched lookups."""
    dead_sql, _ = sql.dead_letters()
    dead_rows = fetch(
        dead_sql,
        {
            PAYLOAD_SHA256S: sorted({e.sha256 for e in events}),
            EVENT_IDS: sorted({e.event_id for e in events if e.event_id}),
        },
    )
    by_sha, by_event_id = _dead_letter_index(dead_rows)
    order_ids = sorted({e.order_id for e in events if e.order_id})
    orders_sql, _ = sql.orders()
    stored = {row[0]: StoredOrder(*row[1:]) for row in fetch(orders_sql, {ORDER_IDS: order_ids})} if order_ids else {}

    def holds(event: PublishedEvent) -> bool:
        held = stored.get(event.order_id)
        return held is not None and (held.event_id, held.sequence) == (event.event_id, event.sequence)

    compared = sorted({e.order_id for e in events if holds(e)})
    items: dict[str, list[tuple]] = {}
    payments: dict[str, list[tuple]] = {}
    if compared:
        for lookup, into in ((sql.items(), items), (sql.payments(), payments)):
            for row in fetch(lookup[0], {ORDER_IDS: compared}):
                into.setdefault(row[0], []).append(row)
    return [_verdict(e, stored.get(e.order_id), by_sha, by_event_id, items, payments) for e in events]


def _verdict(
    event: PublishedEvent,
    held: StoredOrder | None,
    by_sha: dict[str, list[tuple]],
    by_event_id: dict[str, list[tuple]],
    items: dict[str, list[tuple]],
    payments: dict[str, list[tuple]],
) -> Verdict:
    """Precedence: the warehouse holding exactly this event; a dead letter of this very body; a compaction's
    sequence_conflict dead letter (no body hash); superseded (bodies the validator accepts only); a dead letter
    of another body with this event_id; missing."""
    if held is not None and (held.event_id, held.sequence) == (event.event_id, event.sequence):
        try:
            found = differences(event.content, held, items.get(event.order_id, []), payments.get(event.order_id, []))
        except (KeyError, TypeError, AttributeError) as error:  # the pipeline stored it, so it had these fields
            found = [f"its lines cannot be compared ({type(error).__name__}: {_short(error)})"]
        if found:
            rest = f"; and {len(found) - MAX_DIFFERENCES} more" if len(found) > MAX_DIFFERENCES else ""
            return Verdict(event, MISMATCH, "; ".join(found[:MAX_DIFFERENCES]) + rest, held)
        return Verdict(event, CURRENT, "", held)
    exact = by_sha.get(event.sha256)
    if exact:
        return _dead_lettered(event, held, _found(exact, "payload_sha256"))
    same_id = by_event_id.get(event.event_id, []) if event.event_id else []
    compaction_rows = [row for row in same_id if row[0] is None]
    if compaction_rows:
        return _dead_lettered(event, held, _found(compaction_rows, "event_id"))
    accepted = event.validation().ok
    if accepted and held is not None and held.sequence >= event.sequence:
        if held.sequence == event.sequence:  # another event (this one would be current)
            detail = (
                f"lost a sequence conflict: event {_short(held.event_id)} holds sequence {held.sequence} (not in the "
                "dead letters; on BigQuery the compaction writes them)"
            )
            return Verdict(event, SUPERSEDED, detail, held, lost_conflict=True)
        return Verdict(
            event, SUPERSEDED, f"the warehouse holds sequence {held.sequence} (event {_short(held.event_id)})", held
        )
    if same_id:
        return _dead_lettered(event, held, _found(same_id, "event_id"))
    if not accepted:
        rejection = event.rejection
        detail = f"not in the dead letters; expected {rejection.stage}/{rejection.kind}: {_short(rejection.describe())}"
    elif held is None:
        detail = "the warehouse has no row for this order"
    else:
        detail = f"the warehouse holds an older sequence {held.sequence} (event {_short(held.event_id)})"
    return Verdict(event, MISSING, detail, held)


def _dead_lettered(event: PublishedEvent, held: StoredOrder | None, found: DeadLetterFound) -> Verdict:
    detail = f"{found.reason} at {found.path or '$'}: {_short(found.message, 200)}"
    if found.matched_by != "payload_sha256":
        detail += f" (matched by {found.matched_by})"
    lost_conflict = found.kind == SEQUENCE_CONFLICT
    if lost_conflict and held is not None and held.sequence == event.sequence:
        detail += f"; event {_short(held.event_id)} holds sequence {held.sequence}"
    return Verdict(event, DEAD_LETTERED, detail, held, found, lost_conflict)


# --- Warehouses ----------------------------------------------------------------------------------------------


class DuckDBLookups:
    """The local warehouse, opened read-only for one chunk at a time."""

    def __init__(self, path: Path, schema: str, lock_timeout: float) -> None:
        self.path = path
        self.schema = schema
        self.lock_timeout = lock_timeout
        self.sql = VerifySql(duckdb_lookups(schema))

    def describe(self) -> str:
        return f"DuckDB {self.path} (schema {self.schema})"

    @contextlib.contextmanager
    def session(self) -> Iterator[Fetch]:
        import duckdb

        from warehouse.connection import WarehouseLockedError, connect

        try:
            with connect(self.path, read_only=True, lock_timeout=self.lock_timeout) as connection:
                yield lambda sql, parameters: connection.execute(sql, parameters).fetchall()
        except WarehouseLockedError as error:
            raise WarehouseReadError(str(error)) from error
        except duckdb.CatalogException as error:
            raise WarehouseReadError(
                f"{self.path}: {error} (is it the pipeline's warehouse, with schema {self.schema}? --duckdb_schema)"
            ) from error
        except duckdb.Error as error:
            raise WarehouseReadError(f"{self.path}: {type(error).__name__}: {error}") from error


class BigQueryLookups:
    """The production warehouse: the ``*_current`` views and the dead-letter table, through a BigQuery client."""

    def __init__(self, client: Any, project: str, dataset: str, location: str | None) -> None:
        self.client = client
        self.project = project
        self.dataset = dataset
        self.location = location
        self.sql = VerifySql(bigquery_lookups(project, dataset))

    def describe(self) -> str:
        return f"BigQuery {self.project}.{self.dataset} (the *_current views)"

    @contextlib.contextmanager
    def session(self) -> Iterator[Fetch]:
        yield self._fetch

    def _fetch(self, sql: str, parameters: dict[str, list[str]]) -> list[tuple]:
        from google.api_core import exceptions
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(
            query_parameters=[bigquery.ArrayQueryParameter(name, "STRING", ids) for name, ids in parameters.items()]
        )
        try:
            return [
                tuple(row.values())
                for row in self.client.query(sql, job_config=config, location=self.location).result()
            ]
        except exceptions.GoogleAPIError as error:
            raise WarehouseReadError(f"BigQuery {self.project}.{self.dataset}: {error}") from error


# --- The run -------------------------------------------------------------------------------------------------


@dataclass
class Summary:
    """What a run found: counts per class, and the first problems in line order."""

    files: list[str]
    warehouse: str
    max_listed: int
    lines: int = 0
    blank_lines: int = 0
    duplicate_lines: int = 0
    classes: Counter = field(default_factory=Counter)
    dead_letter_reasons: Counter = field(default_factory=Counter)
    lost_conflicts: int = 0
    listed: list[Verdict] = field(default_factory=list)

    @property
    def events(self) -> int:
        return sum(self.classes.values())

    @property
    def problems(self) -> int:
        return sum(self.classes[k] for k in PROBLEMS)

    def add(self, verdict: Verdict) -> None:
        self.classes[verdict.klass] += 1
        self.lost_conflicts += verdict.lost_conflict
        if verdict.dead_letter is not None:
            self.dead_letter_reasons[verdict.dead_letter.reason] += 1
        if verdict.klass in PROBLEMS and len(self.listed) < self.max_listed:
            self.listed.append(verdict)

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "warehouse": self.warehouse,
            "lines": self.lines,
            "blank_lines": self.blank_lines,
            "duplicate_lines": self.duplicate_lines,
            "events": self.events,
            "classes": {k: self.classes[k] for k in CLASSES},
            "dead_letter_reasons": dict(sorted(self.dead_letter_reasons.items())),
            "lost_sequence_conflicts": self.lost_conflicts,
            "ok": self.problems == 0,
        }


def event_record(verdict: Verdict) -> dict[str, Any]:
    """One line's entry in the --json report (the first line of a body)."""
    event, stored, found = verdict.event, verdict.stored, verdict.dead_letter
    return {
        "file": event.where.file,
        "line": event.where.line,
        "class": verdict.klass,
        "event_id": event.event_id,
        "order_id": event.order_id,
        "sequence": event.sequence,
        "payload_sha256": event.sha256,
        "detail": verdict.detail,
        "expected_dead_letter": None if event.rejection is None else f"{event.rejection.stage}/{event.rejection.kind}",
        "warehouse": None if stored is None else {"sequence": stored.sequence, "event_id": stored.event_id},
        "dead_letter": None
        if found is None
        else {
            "stage": found.stage,
            "kind": found.kind,
            "message": found.message,
            "path": found.path,
            "dead_letter_id": found.dead_letter_id,
            "matched_by": found.matched_by,
            "rows": found.rows,
        },
        "lost_sequence_conflict": verdict.lost_conflict,
    }


class Progress:
    """A progress line on stderr for big files: rewritten on a terminal, otherwise a plain line every 5 s."""

    def __init__(self, stream: IO[str] = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.every = 1.0 if self.tty else 5.0
        self.started = self.last = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        end = "\r" if self.tty else "\n"
        self.stream.write(f"  {done:,}/{total:,} lines checked, {rate:,.0f} lines/s{end}")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty and time.monotonic() - self.started >= self.every:
            self.stream.write(" " * 70 + "\r")
            self.stream.flush()


def reconcile(
    paths: Sequence[Path],
    lookups: DuckDBLookups | BigQueryLookups,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_listed: int = DEFAULT_MAX_LISTED,
    record: Callable[[dict[str, Any]], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Summary:
    """Classify every line of ``paths``; ``record`` receives each line's entry (for --json), in line order;
    ``progress`` (lines done, lines in all) after each chunk."""
    summary = Summary([str(p) for p in paths], lookups.describe(), max_listed)
    totals = [count_lines(path) for path in paths]
    summary.lines = sum(totals)
    #: Body digest -> (class, first line); the class is "" until the first line's chunk is classified.
    seen: dict[bytes, tuple[str, LineRef]] = {}
    chunk: list[PublishedEvent] = []
    repeats: list[tuple[LineRef, bytes]] = []
    done = 0

    def flush() -> None:
        with lookups.session() as fetch:
            verdicts = classify(chunk, fetch, lookups.sql)
        entries = []
        for verdict in verdicts:
            summary.add(verdict)
            seen[bytes.fromhex(verdict.event.sha256)] = (verdict.klass, verdict.event.where)
            entries.append((verdict.event.where, event_record(verdict)))
        for where, digest in repeats:
            klass, first = seen[digest]
            entries.append((where, {"file": where.file, "line": where.line, "class": klass,
                                    "payload_sha256": digest.hex(), "duplicate_of": str(first)}))  # fmt: skip
        if record is not None:
            for _, entry in sorted(entries, key=lambda e: (summary.files.index(e[0].file), e[0].line)):
                record(entry)
        chunk.clear()
        repeats.clear()
        if progress is not None:
            progress(done, summary.lines)

    for path, total in zip(paths, totals, strict=True):
        bodies = 0
        with path.open("rb") as handle:
            for number, body in numbered_bodies(handle):
                bodies += 1
                done += 1
                where = LineRef(str(path), number)
                digest = hashlib.sha256(body).digest()
                if digest in seen:
                    summary.duplicate_lines += 1
                    repeats.append((where, digest))
                    continue
                seen[digest] = ("", where)
                chunk.append(read_event(where, body))
                if len(chunk) >= chunk_size:
                    flush()
        summary.blank_lines += total - bodies
        done += total - bodies
    if chunk or repeats:
        flush()
    return summary


# --- Output --------------------------------------------------------------------------------------------------

MEANINGS = {
    CURRENT: "its order's newest snapshot; order row, items and payments as the event says",
    SUPERSEDED: "its order holds a newer sequence (or lost a sequence conflict)",
    DEAD_LETTERED: "in order_events_dead_letter",
    MISMATCH: "its order's newest snapshot, but items, payments or the order row differ",
    MISSING: "none of these",
}


def render(summary: Summary) -> str:
    files = summary.files[0] if len(summary.files) == 1 else f"{len(summary.files)} files"
    out = [f"verify: {summary.lines:,} lines of {files} against {summary.warehouse}", ""]
    width = max(len(f"{summary.events:,}"), 6)
    out.append(f"  {'class':<14} {'events':>{width}}  meaning")
    for klass in CLASSES:
        note = MEANINGS[klass]
        if klass == SUPERSEDED and summary.lost_conflicts:
            note += f"; {summary.lost_conflicts} lost a sequence conflict"
        if klass == DEAD_LETTERED and summary.dead_letter_reasons:
            note += ": " + ", ".join(f"{r} {n:,}" for r, n in summary.dead_letter_reasons.most_common())
        out.append(f"  {klass:<14} {summary.classes[klass]:>{width},}  {note}")
    out.append(f"  {'events':<14} {summary.events:>{width},}  distinct bodies")
    out.append(
        f"  {'duplicates':<14} {summary.duplicate_lines:>{width},}  lines repeating an earlier body: counted once"
    )
    if summary.blank_lines:
        out.append(f"  {'blank lines':<14} {summary.blank_lines:>{width},}  skipped, as the backfill skips them")
    out.append("")
    if not summary.problems:
        out.append("OK: nothing missing or mismatched")
        return "\n".join(out)
    counts = ", ".join(f"{summary.classes[k]:,} {k}" for k in PROBLEMS if summary.classes[k])
    out.append(f"FAILED: {counts}; by line:")
    rows = [("line", "class", "event_id", "order_id", "seq", "detail")]
    for verdict in summary.listed:
        e = verdict.event
        rows.append(
            (
                str(e.where),
                verdict.klass,
                _short(e.event_id) or "-",
                _short(e.order_id) or "-",
                "-" if e.sequence is None else str(e.sequence),
                verdict.detail,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        cells = [
            cell.ljust(width) if i != 4 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=False))
        ]
        out.append("  " + "  ".join([*cells, row[5]]))
    if summary.problems > len(summary.listed):
        out.append(
            f"  ... and {summary.problems - len(summary.listed):,} more (--max_listed N, or --json FILE for all)"
        )
    return "\n".join(out)


class JsonReport:
    """The --json file: the summary, then every line's entry. The entries are spooled while the run goes, and the
    file is written beside its final name and moved into place when the run ends (never half a report). The
    partial file is opened at once, so an unwritable path fails before the run, not after it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        self.out = self.partial.open("w", encoding="utf-8")
        self.spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed by write or discard)

    def record(self, entry: dict[str, Any]) -> None:
        self.spool.write(json.dumps(entry) + "\n")

    def write(self, summary: Summary) -> None:
        self.spool.seek(0)
        self.out.write('{"summary": ' + json.dumps(summary.to_json()) + ',\n "lines": [')
        for index, line in enumerate(self.spool):
            self.out.write((",\n  " if index else "\n  ") + line.rstrip("\n"))
        self.out.write("\n]}\n")
        self.out.close()
        self.spool.close()
        os.replace(self.partial, self.path)

    def discard(self) -> None:
        self.out.close()
        self.spool.close()
        self.partial.unlink(missing_ok=True)


# --- Command line --------------------------------------------------------------------------------------------


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number > 0, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a whole number > 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from orders_local.cli import OneLineErrorParser  # local tooling: not in the Dataflow image (like replay's)

    parser = OneLineErrorParser(
        prog="python -m beam_pipelines.verify",
        description="Report, for every message in JSONL files the publisher wrote (--output) or published "
        "(--tee), whether the warehouse reflects it (current, superseded), dead-lettered it (with the reason), or "
        "is missing it. Exit 0: nothing missing or mismatched; 1: something is; 2: usage error; 3: the warehouse "
        "could not be read.",
        epilog="examples:\n"
        "  python -m beam_pipelines.verify data/published.jsonl                   # the local DuckDB warehouse\n"
        "  python -m beam_pipelines.verify data/published.jsonl --json data/verify.json\n"
        "  python -m beam_pipelines.verify data/published.jsonl --bq_project P --bq_dataset orders_rt",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE.jsonl", help="one message body per line")
    parser.add_argument(
        "--duckdb_path",
        "--duckdb-path",
        type=Path,
        default=None,
        help=f"the local warehouse (default: ${DUCKDB_PATH_ENV} or {default_duckdb_path()})",
    )
    parser.add_argument(
        "--duckdb_schema", "--duckdb-schema", default=DEFAULT_DATASET, help="its schema (default: %(default)s)"
    )
    parser.add_argument(
        "--duckdb_lock_timeout",
        "--duckdb-lock-timeout",
        "--lock_timeout",
        "--lock-timeout",
        dest="lock_timeout",
        type=float,
        default=DEFAULT_LOCK_TIMEOUT,
        help="seconds to wait while the pipeline holds the DuckDB file, per chunk (default: %(default)s)",
    )
    parser.add_argument("--bq_project", "--bq-project", help="read BigQuery in this project instead of DuckDB")
    parser.add_argument("--bq_dataset", "--bq-dataset", default=DEFAULT_DATASET, help="dataset (default: %(default)s)")
    parser.add_argument("--bq_location", "--bq-location", default=None, help="BigQuery location of the dataset")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the full report, every line, as JSON")
    parser.add_argument(
        "--max_listed",
        "--max-listed",
        type=_positive,
        default=DEFAULT_MAX_LISTED,
        help="missing or mismatched events listed (default: %(default)s; --json has all)",
    )
    parser.add_argument(
        "--chunk_size",
        "--chunk-size",
        type=_positive,
        default=DEFAULT_CHUNK_SIZE,
        help="distinct bodies per batch of warehouse lookups (default: %(default)s)",
    )
    return parser


def _bigquery_client(project: str, location: str | None) -> Any:
    from google.cloud import bigquery

    return bigquery.Client(project=project, location=location)


def main(
    argv: Sequence[str] | None = None, bigquery_client: Callable[[str, str | None], Any] = _bigquery_client
) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for path in args.files:
        if not path.is_file():
            parser.error(f"{path}: no such file")
    if args.bq_project:
        if args.duckdb_path is not None:
            parser.error("--duckdb_path and --bq_project name two warehouses; give one")
        try:
            bigquery_lookups(args.bq_project, args.bq_dataset)
        except ValueError as error:
            parser.error(str(error))
        try:
            client = bigquery_client(args.bq_project, args.bq_location)
        except Exception as error:  # no credentials, a bad project: the client's message says what to fix
            print(f"error: cannot create a BigQuery client: {error}", file=sys.stderr)
            return EXIT_WAREHOUSE
        lookups: DuckDBLookups | BigQueryLookups = BigQueryLookups(
            client, args.bq_project, args.bq_dataset, args.bq_location
        )
    else:
        duckdb_path = args.duckdb_path or default_duckdb_path()
        if not duckdb_path.is_file():
            parser.error(f"no DuckDB warehouse at {duckdb_path} (--duckdb_path, or ${DUCKDB_PATH_ENV})")
        lookups = DuckDBLookups(duckdb_path, args.duckdb_schema, args.lock_timeout)
    try:
        report = JsonReport(args.json) if args.json else None
    except OSError as error:
        parser.error(f"cannot write --json {args.json}: {error.strerror}")
    progress = Progress()
    written = False
    try:
        summary = reconcile(
            args.files,
            lookups,
            args.chunk_size,
            args.max_listed,
            record=report.record if report else None,
            progress=progress,
        )
        progress.finish()
        print(render(summary))
        if report:
            report.write(summary)
            written = True
            print(f"full report: {args.json}")
    except WarehouseReadError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_WAREHOUSE
    finally:
        if report and not written:
            report.discard()
    return EXIT_PROBLEMS if summary.problems else EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
