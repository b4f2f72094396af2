"""Property: a dead letter is built and stored for any message whatever it holds, within the size limits of
BigQuery rows and Pub/Sub messages, and stored once per message identity."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beam_pipelines.dead_letters import (
    MAX_ATTRIBUTE_KEY_BYTES,
    MAX_ATTRIBUTE_VALUE_BYTES,
    MAX_PAYLOAD_BYTES,
    MAX_TOPIC_ATTRIBUTES,
    dead_letter,
    topic_attributes,
)
from beam_pipelines.messages import ReceivedMessage
from beam_pipelines.sinks.bigquery import _dead_letter_json, _insert_chunks
from beam_pipelines.sinks.duckdb import DuckDBWarehouse

#: Any text Python can hold, lone surrogates and control characters included.
any_text = st.text(alphabet=st.characters(codec=None, categories=None), max_size=40)
BIGQUERY_ROW_LIMIT = 10_000_000


@st.composite
def messages(draw) -> ReceivedMessage:
    body = draw(
        st.one_of(
            st.binary(max_size=200),
            any_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
            st.integers(min_value=MAX_PAYLOAD_BYTES - 2, max_value=MAX_PAYLOAD_BYTES + 3).map(
                lambda n: b"\xe2\x82\xac" * (n // 3) + b"x" * (n % 3)
            ),
            st.just(b"\x00" * 300),
            st.just(json.dumps({"event_id": "\ud800", "schema_version": [1]}).encode()),
        )
    )
    attributes = draw(st.dictionaries(any_text, any_text, max_size=5))
    return ReceivedMessage(
        body,
        attributes,
        message_id=draw(st.none() | any_text),
        origin=draw(st.none() | any_text),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(message=messages(), error=any_text, path=st.none() | any_text)
def test_any_message_becomes_a_storable_dead_letter_once(message, error, path):
    record = dead_letter(message, "parse", "invalid_text", error * 1000, path, error * 5000)
    row = record.row
    assert row["payload_size_bytes"] == len(message.data) and len(row["payload_bytes"]) <= MAX_PAYLOAD_BYTES
    assert row["payload_truncated"] == (len(message.data) > MAX_PAYLOAD_BYTES)
    for value in row.values():
        if isinstance(value, str):
            value.encode("utf-8")  # valid Unicode: no lone surrogate survives
    # BigQuery: the insertAll row (base64 bytes, JSON text) is under the 10 MB row limit.
    assert len(json.dumps(_dead_letter_json(row))) < BIGQUERY_ROW_LIMIT // 2
    assert sum(1 for _ in _insert_chunks([_dead_letter_json(row)])) == 1
    # Pub/Sub: attribute count and sizes within limits.
    attributes = topic_attributes(row)
    assert len(attributes) <= MAX_TOPIC_ATTRIBUTES
    assert all(len(k.encode()) <= MAX_ATTRIBUTE_KEY_BYTES and len(v.encode()) <= MAX_ATTRIBUTE_VALUE_BYTES
               for k, v in attributes.items())  # fmt: skip
    # A real DuckDB file takes it, twice, and keeps one row.
    with tempfile.TemporaryDirectory() as directory:
        path_ = Path(directory) / "w.duckdb"
        warehouse = DuckDBWarehouse(str(path_))
        warehouse.prepare()
        warehouse.write_dead_letters([row])
        warehouse.write_dead_letters([dead_letter(message, "parse", "invalid_text", "again").row])
        with duckdb.connect(str(path_), read_only=True) as connection:
            stored = connection.execute(
                "SELECT dead_letter_id, payload_sha256 FROM orders_rt.order_events_dead_letter"
            ).fetchall()
    assert stored == [(row["dead_letter_id"], row["payload_sha256"])]
