"""The Dataflow job graph, built offline with --dry_run=True, and its names against Terraform's defaults."""

from __future__ import annotations

import json
from pathlib import Path

import hcl2
from apache_beam.internal import pickler
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.utils import proto_utils
from hcl2 import SerializationOptions
from sample_events import snapshot

from beam_pipelines.launcher import run
from beam_pipelines.messages import OrderSnapshot, ReceivedMessage
from beam_pipelines.transforms.rows import snapshot_rows
from schemas import CHANGELOG_TABLE, DEAD_LETTER_TABLE

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT = "my-proj"


def terraform_defaults() -> dict[str, str]:
    with (REPO_ROOT / "terraform" / "variables.tf").open() as handle:
        parsed = hcl2.load(handle, serialization_options=SerializationOptions(strip_string_quotes=True))
    return {name: body.get("default") for block in parsed["variable"] for name, body in block.items()}


def dry_run_job(*extra: str):
    names = terraform_defaults()
    argv = [
        "--runner", "DataflowRunner", "--project", PROJECT, "--region", "us-central1",
        "--temp_location", "gs://my-bucket/tmp", "--dry_run=True",
        "--input_subscription", f"projects/{PROJECT}/subscriptions/{names['subscription_name']}",
        "--dead_letter_topic", f"projects/{PROJECT}/topics/{names['dead_letter_topic_name']}",
        "--sink", "bigquery", "--bq_project", PROJECT, *extra,
    ]  # fmt: skip
    return run(argv).job.proto_pipeline


class RecordingClient:
    """Stands in for google-cloud-bigquery's Client: records what the unpickled sink sends."""

    def __init__(self):
        self.inserted, self.queries = [], []

    def insert_rows_json(self, table, rows, row_ids=None):
        self.inserted.append((table, rows))
        return []

    def query(self, sql, job_config=None, location=None):
        self.queries.append(sql)
        raise AssertionError("the streaming sink sends no SQL")


def leaf_transforms(proto) -> dict[str, beam_runner_api_pb2.PTransform]:
    return {t.unique_name: t for t in proto.components.transforms.values() if not t.subtransforms}


def dofn(transform):
    payload = proto_utils.parse_Bytes(transform.spec.payload, beam_runner_api_pb2.ParDoPayload)
    return pickler.loads(payload.do_fn.payload)[0]


def test_dry_run_graph_has_every_stage_and_the_native_pubsub_read():
    transforms = leaf_transforms(dry_run_job())
    by_urn = {}
    for name, transform in transforms.items():
        by_urn.setdefault(transform.spec.urn, []).append(name)
    assert by_urn["beam:transform:pubsub_read:v1"] == ["ReadOrderEvents/ReadFromPubSub/Read"]
    for expected in (
        "ParseAndValidate/Validate/ParDo(ParseAndValidateFn)",
        "ToRows/SnapshotRows/ParDo(ToRowsFn)",
        "UpsertOrderSnapshots/WriteSnapshots",
        "DeadLetterSink/WriteDeadLetters",
        "RowsDeadLetterSink/WriteDeadLetters",
        "SinkFailureDeadLetterSink/WriteDeadLetters",
    ):
        assert expected in transforms, sorted(transforms)
    assert not any("PullUntilCommit" in name for name in transforms)  # the local read stays local


def test_dry_run_uses_terraform_default_names():
    names = terraform_defaults()
    transforms = leaf_transforms(dry_run_job())
    read = transforms["ReadOrderEvents/ReadFromPubSub/Read"]
    payload = proto_utils.parse_Bytes(read.spec.payload, beam_runner_api_pb2.PubSubReadPayload)
    assert payload.subscription == f"projects/{PROJECT}/subscriptions/{names['subscription_name']}"
    # Publish time, not an attribute the native read would parse before the pipeline can dead-letter it.
    assert payload.timestamp_attribute == ""
    assert payload.with_attributes

    upsert = dofn(transforms["UpsertOrderSnapshots/WriteSnapshots"])
    assert (upsert.warehouse.project, upsert.warehouse.dataset) == (PROJECT, names["dataset_id"])
    assert upsert.acker is None  # Dataflow acks by its checkpoints
    body = snapshot("o1", 1)
    # The job only appends to the changelog; Terraform's scheduled compaction folds it (same dataset).
    client = RecordingClient()
    upsert.warehouse.client_factory = lambda: client
    upsert.warehouse.upsert([snapshot_rows(OrderSnapshot(json.loads(body), ReceivedMessage(body, message_id="1")))])
    assert [table for table, _ in client.inserted] == [f"{PROJECT}.{names['dataset_id']}.{CHANGELOG_TABLE}"]
    assert client.queries == []
    dead_letters = dofn(transforms["DeadLetterSink/WriteDeadLetters"])
    assert dead_letters.topic.topic == f"projects/{PROJECT}/topics/{names['dead_letter_topic_name']}"
    assert dead_letters.warehouse.dataset == names["dataset_id"]
    assert DEAD_LETTER_TABLE == "order_events_dead_letter"
