"""Offline checks of terraform/: every .tf file parsed with python-hcl2 (no terraform binary needed).

They pin what a plan could not show without a Google Cloud project: tables built from schemas/ (never an
inline schema), topics and datasets as for_each over typed maps (with `moved` blocks from their old
addresses), no subscription dead-letter policy promising what Dataflow does not do, a least-privilege worker
service account, every variable typed and described, the names shared with the pipeline; and BigQuery's write
path after the pipeline: the changelog's partition expiration, the *_current views and the scheduled
compaction, whose SQL is the render in terraform/sql (test_rendered_sql.py checks that render is current), run
as its own least-privilege service account.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

from schemas import CHANGELOG_TABLE, CURRENT_VIEWS

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO_ROOT / "terraform"
SCHEMAS_DIR = REPO_ROOT / "schemas"
SQL_DIR = TERRAFORM_DIR / "sql"

#: The names the pipeline uses by default too (DESIGN.md): one source of names.
PIPELINE_NAME_DEFAULTS = {
    "topic_name": "orders",
    "subscription_name": "orders-pipeline",
    "dead_letter_topic_name": "orders-dead-letter",
    "dead_letter_subscription_name": "orders-dead-letter-sub",
    "dataset_id": "orders_rt",
}

#: Every role the Dataflow worker service account may hold, by the resource type that grants it.
WORKER_ROLES = {
    "google_project_iam_member": {"roles/dataflow.worker", "roles/bigquery.jobUser"},
    "google_pubsub_subscription_iam_member": {"roles/pubsub.subscriber", "roles/pubsub.viewer"},
    "google_pubsub_topic_iam_member": {"roles/pubsub.publisher"},
    "google_bigquery_dataset_iam_member": {"roles/bigquery.dataEditor"},
    "google_storage_bucket_iam_member": {
        "roles/storage.objectAdmin",
        "roles/storage.legacyBucketReader",
        "roles/storage.objectViewer",
    },
    "google_artifact_registry_repository_iam_member": {"roles/artifactregistry.reader"},
}
WORKER_MEMBERS = {"local.worker_member", "serviceAccount:${google_service_account.dataflow_worker.email}"}
#: The worker's roles on each bucket: it writes Beam's staging and temp files, and only reads the template spec.
WORKER_BUCKET_ROLES = {
    "google_storage_bucket.dataflow.name": {"roles/storage.objectAdmin", "roles/storage.legacyBucketReader"},
    "google_storage_bucket.templates.name": {"roles/storage.objectViewer"},
}
#: Storage roles that can create, overwrite or delete objects (or change the bucket's IAM).
STORAGE_WRITE_ROLE = re.compile(
    r"roles/storage\.(admin|objectAdmin|objectCreator|objectUser|legacyBucketWriter|legacyBucketOwner|legacyObjectOwner)$"
)

#: Every role the compaction's service account may hold, by the resource type that grants it.
COMPACTION_ROLES = {
    "google_project_iam_member": {"roles/bigquery.jobUser"},
    "google_bigquery_dataset_iam_member": {"roles/bigquery.dataEditor"},
}
ORDERS_DATASET_ID = 'google_bigquery_dataset.datasets["orders"].dataset_id'
#: What templatefile() gets for the ${project} and ${dataset} placeholders of terraform/sql/*.sql.
SQL_TEMPLATE_VARS = {"project": "${var.project_id}", "dataset": "${" + ORDERS_DATASET_ID + "}"}
DATATRANSFER_AGENT = (
    "serviceAccount:service-${local.project_number}@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com"
)

#: Addresses of the former pasted pairs, and where `moved` blocks must take an existing state.
MOVED_ADDRESSES = {
    "google_pubsub_topic.orders": 'google_pubsub_topic.topics["orders"]',
    "google_pubsub_topic.dead_letter": 'google_pubsub_topic.topics["dead_letter"]',
    "google_bigquery_dataset.orders": 'google_bigquery_dataset.datasets["orders"]',
    "google_bigquery_dataset.analytics": 'google_bigquery_dataset.datasets["analytics"]',
}

PRIMITIVE_ROLE = re.compile(r"roles/(owner|editor|viewer)(?![\w.])")
PARSE_OPTIONS = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)


@cache
def parsed_files() -> dict[str, dict[str, Any]]:
    """Every terraform/*.tf file, parsed: {file name: python-hcl2's dict}."""
    files = sorted(TERRAFORM_DIR.glob("*.tf"))
    assert files, f"no .tf files in {TERRAFORM_DIR}"
    parsed = {}
    for path in files:
        with path.open() as handle:
            parsed[path.name] = hcl2.load(handle, serialization_options=PARSE_OPTIONS)
    return parsed


def blocks(kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(file name, block) for every top-level block of one kind (resource, variable, output, locals …)."""
    for file_name, document in parsed_files().items():
        for block in document.get(kind, []):
            yield file_name, block


def resources(resource_type: str) -> dict[str, dict[str, Any]]:
    """{resource name: body} of every resource of one type, across all files."""
    found: dict[str, dict[str, Any]] = {}
    for _, block in blocks("resource"):
        for name, body in block.get(resource_type, {}).items():
            assert name not in found, f"{resource_type}.{name} declared twice"
            found[name] = body
    return found


def variables() -> dict[str, dict[str, Any]]:
    return {name: body for _, block in blocks("variable") for name, body in block.items()}


def outputs() -> dict[str, dict[str, Any]]:
    return {name: body for _, block in blocks("output") for name, body in block.items()}


def locals_() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for _, block in blocks("locals"):
        for name, value in block.items():
            assert name not in merged, f"local.{name} defined twice"
            merged[name] = value
    return merged


def expression(value: Any) -> str:
    """The expression inside "${…}", or the literal as text."""
    text = str(value)
    return text[2:-1] if text.startswith("${") and text.endswith("}") else text


def first(block_list: Any) -> dict[str, Any]:
    """A nested block (python-hcl2 gives a list of bodies); exactly one expected."""
    assert isinstance(block_list, list) and len(block_list) == 1, f"expected one block, got {block_list!r}"
    return block_list[0]


def dynamic_block(body: dict[str, Any], name: str) -> dict[str, Any]:
    matches = [dyn[name] for dyn in body.get("dynamic", []) if name in dyn]
    assert len(matches) == 1, f"expected one dynamic {name!r} block, found {len(matches)}"
    return matches[0]


def roles_granted(body: dict[str, Any]) -> set[str]:
    """The roles one IAM resource grants: its literal role, or the literals of a toset([...]) for_each."""
    role = expression(body["role"])
    if role != "each.value":
        return {role}
    return set(re.findall(r'"(roles/[^"]+)"', expression(body["for_each"])))


def all_strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from all_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from all_strings(item)
    else:
        yield str(node)


def render(template: str, each_key: str) -> str:
    """Evaluate the interpolations a file path uses (path.module, local.*, each.key) for one for_each key."""
    local_values = locals_()

    def substitute(match: re.Match[str]) -> str:
        reference = match.group(1)
        if reference == "path.module":
            return str(TERRAFORM_DIR)
        if reference == "each.key":
            return each_key
        if reference.startswith("local."):
            return render(str(local_values[reference.removeprefix("local.")]).strip('"'), each_key)
        raise AssertionError(f"cannot evaluate ${{{reference}}} offline")

    return re.sub(r"\$\{([\w.]+)\}", substitute, template)


def table_layouts() -> dict[str, dict[str, Any]]:
    return json.loads((SCHEMAS_DIR / "tables.json").read_text())["tables"]


def typed_map(local_name: str) -> dict[str, Any]:
    """A local written as tomap({...}), parsed back into a dict: its keys are for_each keys."""
    match = re.fullmatch(r"tomap\((\{.*\})\)", expression(locals_()[local_name]), re.S)
    assert match, f"local.{local_name} must be a typed map, tomap({{...}}), got {locals_()[local_name]!r}"
    return hcl2.loads(f"value = {match.group(1)}", serialization_options=PARSE_OPTIONS)["value"]


def members_grants(members: set[str]) -> dict[str, set[str]]:
    """{IAM resource type: roles} of every *_iam_member grant whose member is one of ``members``."""
    granted: dict[str, set[str]] = {}
    for resource_type in {t for _, block in blocks("resource") for t in block if t.endswith("_iam_member")}:
        for body in resources(resource_type).values():
            if expression(body["member"]) in members:
                granted.setdefault(resource_type, set()).update(roles_granted(body))
    return granted


def template_file(call: str, each_key: str) -> tuple[Path, str]:
    """The file and the variables expression of a templatefile("<path>", <vars>) call, for one for_each key."""
    match = re.fullmatch(r'templatefile\("([^"]+)", ([\w.]+)\)', expression(call))
    assert match, f'expected templatefile("<path>", <vars>), got {call!r}'
    return Path(render(match.group(1), each_key)).resolve(), match.group(2)


def clauses(text: str) -> list[str]:
    """Text cut at punctuation and table cells, so a negation only covers the clause it is in."""
    return [clause.strip() for clause in re.split(r"[.,;:|()]\s", " ".join(text.split())) if clause.strip()]


# --------------------------------------------------------------------------------------------------------


def test_every_tf_file_parses_and_the_module_layout_is_complete() -> None:
    expected = {"versions.tf", "variables.tf", "outputs.tf", "pubsub.tf", "bigquery.tf", "iam.tf"}
    expected |= {"storage.tf", "dataflow.tf", "compaction.tf"}
    assert expected <= set(parsed_files()), f"missing: {sorted(expected - set(parsed_files()))}"


def test_versions_pin_terraform_and_a_bounded_google_provider_range() -> None:
    (terraform,) = [block for _, block in blocks("terraform")]
    assert terraform["required_version"].startswith(">=")
    providers = first(terraform["required_providers"])
    for name in ("google", "google-beta"):
        assert providers[name]["source"] == f"hashicorp/{name}"
        version = providers[name]["version"]
        assert ">=" in version and "<" in version.replace(">=", ""), f"{name}: no upper bound in {version!r}"


def test_every_variable_has_a_type_and_a_description() -> None:
    undocumented = [
        name
        for name, body in variables().items()
        if not body.get("type") or not str(body.get("description", "")).strip()
    ]
    assert not undocumented, f"variables without type or description: {undocumented}"


def test_every_output_has_a_description() -> None:
    undocumented = [name for name, body in outputs().items() if not str(body.get("description", "")).strip()]
    assert not undocumented, f"outputs without description: {undocumented}"


def test_resource_names_default_to_the_pipeline_defaults() -> None:
    declared = variables()
    actual = {name: declared[name].get("default") for name in PIPELINE_NAME_DEFAULTS}
    assert actual == PIPELINE_NAME_DEFAULTS
    assert typed_map("topics") == {"orders": "${var.topic_name}", "dead_letter": "${var.dead_letter_topic_name}"}
    assert resources("google_pubsub_topic")["topics"]["name"] == "${each.value}"
    assert resources("google_pubsub_subscription")["pipeline"]["name"] == "${var.subscription_name}"
    assert resources("google_pubsub_subscription")["dead_letter"]["name"] == "${var.dead_letter_subscription_name}"
    datasets = typed_map("datasets")
    assert {key: body["dataset_id"] for key, body in datasets.items()} == {
        "orders": "${var.dataset_id}",
        "analytics": "${var.analytics_dataset_id}",
    }
    assert resources("google_bigquery_dataset")["datasets"]["dataset_id"] == "${each.value.dataset_id}"


def test_topics_and_datasets_are_one_for_each_resource_each() -> None:
    topics = resources("google_pubsub_topic")
    assert list(topics) == ["topics"], f"expected one for_each topic resource, found {sorted(topics)}"
    assert expression(topics["topics"]["for_each"]) == "local.topics"
    datasets = resources("google_bigquery_dataset")
    assert list(datasets) == ["datasets"], f"expected one for_each dataset resource, found {sorted(datasets)}"
    body = datasets["datasets"]
    assert expression(body["for_each"]) == "local.datasets"
    for attribute in ("friendly_name", "description"):
        assert expression(body[attribute]) == f"each.value.{attribute}"
    for key, dataset in typed_map("datasets").items():
        assert set(dataset) == {"dataset_id", "friendly_name", "description"}, key
        assert all(str(value).strip() for value in dataset.values()), key


def test_moved_blocks_take_an_existing_state_to_the_for_each_keys() -> None:
    moved = {expression(block["from"]): expression(block["to"]) for _, block in blocks("moved")}
    assert moved == MOVED_ADDRESSES
    keys = {
        "google_pubsub_topic.topics": typed_map("topics"),
        "google_bigquery_dataset.datasets": typed_map("datasets"),
    }
    for old_address, new_address in moved.items():
        resource_type, old_name = old_address.split(".")
        assert old_name not in resources(resource_type), f"{old_address} is still declared next to its moved block"
        match = re.fullmatch(r'(\w+\.\w+)\["(\w+)"\]', new_address)
        assert match and match.group(2) in keys[match.group(1)], f"{new_address}: no such for_each key"


def test_cmek_blocks_share_one_local_instead_of_pasted_conditions() -> None:
    assert expression(locals_()["cmek_keys"]) == "local.cmek_enabled ? [var.kms_key_name] : []"
    pasted = {
        file_name: len(re.findall(r"cmek_enabled \? \[var\.kms_key_name\]", (TERRAFORM_DIR / file_name).read_text()))
        for file_name in parsed_files()
    }
    assert sum(pasted.values()) == 1, f"the CMEK condition is pasted: {pasted}"


def test_tables_json_and_schema_files_name_the_same_tables() -> None:
    schema_files = {path.stem for path in (SCHEMAS_DIR / "bigquery").glob("*.json")}
    assert set(table_layouts()) == schema_files
    assert "order_events_dead_letter" in schema_files


def test_one_table_resource_for_each_entry_of_tables_json() -> None:
    tables = resources("google_bigquery_table")
    # One for_each resource for the tables, one for the views (test_current_views_* below).
    assert set(tables) == {"tables", "current_views"}, f"expected the tables and the views, found {sorted(tables)}"
    body = tables["tables"]
    assert expression(body["for_each"]) == "local.table_layouts"
    assert expression(body["table_id"]) == "each.key"
    assert expression(body["dataset_id"]) == 'google_bigquery_dataset.datasets["orders"].dataset_id'
    layouts = expression(locals_()["table_layouts"])
    assert re.fullmatch(r'jsondecode\(file\("\$\{local\.schemas_dir\}/tables\.json"\)\)\.tables', layouts)
    assert render("${local.schemas_dir}", "") == f"{TERRAFORM_DIR}/../schemas"


def test_each_table_schema_is_its_file_under_schemas_bigquery() -> None:
    schema = expression(resources("google_bigquery_table")["tables"]["schema"])
    match = re.fullmatch(r'file\("([^"]+)"\)', schema)
    assert match, f"table schema must be file(...) of a schema file, got {schema!r}"
    for table in table_layouts():
        path = Path(render(match.group(1), table)).resolve()
        assert path == (SCHEMAS_DIR / "bigquery" / f"{table}.json").resolve(), f"{table}: schema read from {path}"
        assert isinstance(json.loads(path.read_text()), list)


def test_no_resource_declares_an_inline_schema() -> None:
    for _, block in blocks("resource"):
        for resource_type, instances in block.items():
            for name, body in instances.items():
                if "schema" not in body:
                    continue
                match = re.fullmatch(r'file\("([^"]+)"\)', expression(body["schema"]))
                assert match, f"{resource_type}.{name} has an inline schema"
                schema_dir = Path(render(match.group(1), "any_table")).resolve().parent
                assert schema_dir == (SCHEMAS_DIR / "bigquery").resolve(), f"{resource_type}.{name}: {schema_dir}"


def test_tables_take_partitioning_clustering_and_keys_from_tables_json() -> None:
    body = resources("google_bigquery_table")["tables"]
    partitioning = dynamic_block(body, "time_partitioning")
    assert "each.value.partition_field" in expression(partitioning["for_each"])
    content = first(partitioning["content"])
    # DAY unless tables.json says otherwise (the changelog is HOUR: its readers want the last hours).
    assert expression(content["type"]) == 'try(each.value.partition_type, "DAY")'
    assert expression(content["field"]) == "time_partitioning.value"

    assert "each.value.clustering" in expression(body["clustering"])

    constraints = dynamic_block(body, "table_constraints")
    assert "each.value.primary_key" in expression(constraints["for_each"])
    primary_key = first(first(constraints["content"])["primary_key"])
    assert expression(primary_key["columns"]) == "table_constraints.value"

    assert expression(body["deletion_protection"]) == "var.deletion_protection"
    assert variables()["deletion_protection"]["type"] == "bool"

    # What those expressions will find in tables.json.
    layouts = table_layouts()
    assert layouts["orders"]["partition_field"] == "order_purchase_timestamp"
    assert layouts["order_events_dead_letter"]["partition_field"] == "timestamp"
    for table, layout in layouts.items():
        columns = {field["name"] for field in json.loads((SCHEMAS_DIR / "bigquery" / f"{table}.json").read_text())}
        used = set(layout["primary_key"]) | set(layout["clustering"]) | {layout["partition_field"]} - {None}
        assert used <= columns, f"{table}: tables.json names columns its schema lacks: {sorted(used - columns)}"


def test_changelog_partitions_expire_as_tables_json_says() -> None:
    content = first(dynamic_block(resources("google_bigquery_table")["tables"], "time_partitioning")["content"])
    # try(): the entries without partition_expiration_days get no expiration (null), not an error.
    assert (
        expression(content["expiration_ms"]) == "try(each.value.partition_expiration_days * 24 * 60 * 60 * 1000, null)"
    )

    layouts = table_layouts()
    assert layouts[CHANGELOG_TABLE]["partition_expiration_days"] == 7
    assert layouts[CHANGELOG_TABLE]["partition_field"] == "_ingested_at"
    expiring = {name for name, layout in layouts.items() if "partition_expiration_days" in layout}
    assert expiring == {CHANGELOG_TABLE}, f"only the changelog expires its partitions, not {sorted(expiring)}"
    for name in expiring:
        assert layouts[name]["partition_field"], f"{name}: an expiration needs a partitioned table"


def test_current_views_are_one_per_upserted_table_and_read_the_rendered_sql() -> None:
    assert expression(locals_()["current_views"]) == (
        '{for table, layout in local.table_layouts : "${table}_current" => table if layout.kind == "upserted"}'
    )
    upserted = {name for name, layout in table_layouts().items() if layout["kind"] == "upserted"}
    # What that expression yields is the pipeline's list of views (schemas.CURRENT_VIEWS), which the render writes.
    assert {table: f"{table}_current" for table in upserted} == CURRENT_VIEWS

    view = resources("google_bigquery_table")["current_views"]
    assert expression(view["for_each"]) == "local.current_views"
    assert expression(view["table_id"]) == "each.key"
    assert expression(view["dataset_id"]) == ORDERS_DATASET_ID
    assert expression(view["deletion_protection"]) == "var.deletion_protection"
    assert "schema" not in view, "a view's schema comes from its query"
    assert "google_bigquery_table.tables" in {expression(item) for item in view["depends_on"]}

    body = first(view["view"])
    assert body["use_legacy_sql"] is False
    for view_name in CURRENT_VIEWS.values():
        path, variables_ = template_file(body["query"], view_name)
        assert path == (SQL_DIR / f"{view_name}.sql").resolve(), f"{view_name}: query read from {path}"
        assert path.is_file(), (
            f"{view_name}: {path} missing; run python -m beam_pipelines.compaction --render terraform/sql"
        )
        assert variables_ == "local.sql_template_vars"
    assert locals_()["sql_template_vars"] == SQL_TEMPLATE_VARS
    assert render(str(locals_()["sql_dir"]), "") == str(SQL_DIR)


def test_compaction_is_a_scheduled_query_of_the_rendered_script_run_as_its_own_account() -> None:
    (name,) = resources("google_bigquery_data_transfer_config")
    assert name == "compaction"
    config = resources("google_bigquery_data_transfer_config")["compaction"]
    assert config["data_source_id"] == "scheduled_query"
    assert expression(config["schedule"]) == "var.compaction_schedule"
    assert variables()["compaction_schedule"]["default"] == "every 60 minutes"
    assert expression(config["service_account_name"]) == "google_service_account.compaction.email"
    assert expression(config["location"]) == 'google_bigquery_dataset.datasets["orders"].location'

    # A DML script: its only parameter is the query; BigQuery refuses a destination for DML.
    assert set(config["params"]) == {"query"}
    assert "destination_dataset_id" not in config
    path, variables_ = template_file(config["params"]["query"], "")
    assert path == (SQL_DIR / "compaction.sql").resolve()
    assert variables_ == "local.sql_template_vars"
    script = path.read_text()
    for statement in (
        "DECLARE ",
        "BEGIN TRANSACTION;",
        "MERGE INTO `${project}.${dataset}.orders`",
        "COMMIT TRANSACTION;",
    ):
        assert statement in script, f"compaction.sql lacks {statement!r}"

    # Created once its account can run it and the tables it writes exist.
    needs = {expression(item) for item in config["depends_on"]}
    assert {
        "google_bigquery_table.tables",
        "google_bigquery_dataset_iam_member.compaction_data_editor",
        "google_project_iam_member.compaction_job_user",
        "google_service_account_iam_member.compaction_token_creator",
    } <= needs

    apis = expression(locals_()["required_apis"])
    assert '"bigquerydatatransfer.googleapis.com"' in apis
    agents = expression(resources("google_project_service_identity")["agents"]["for_each"])
    assert '"bigquerydatatransfer.googleapis.com"' in agents


def test_compaction_account_has_data_editor_only_on_the_orders_dataset() -> None:
    account = resources("google_service_account")["compaction"]
    assert expression(account["account_id"]) == "var.compaction_service_account_id"
    assert variables()["compaction_service_account_id"]["default"] == "orders-compaction"
    assert locals_()["compaction_member"] == "serviceAccount:${google_service_account.compaction.email}"
    member = {"local.compaction_member", "serviceAccount:${google_service_account.compaction.email}"}
    assert members_grants(member) == COMPACTION_ROLES

    editor = resources("google_bigquery_dataset_iam_member")["compaction_data_editor"]
    assert expression(editor["dataset_id"]) == ORDERS_DATASET_ID
    assert expression(editor["member"]) == "local.compaction_member"
    job_user = resources("google_project_iam_member")["compaction_job_user"]
    assert expression(job_user["role"]) == "roles/bigquery.jobUser"

    # The Data Transfer service agent may mint tokens for this account only: no project-level grant.
    assert locals_()["datatransfer_service_agent"] == DATATRANSFER_AGENT
    assert members_grants({"local.datatransfer_service_agent"}) == {
        "google_service_account_iam_member": {"roles/iam.serviceAccountTokenCreator"}
    }
    token = resources("google_service_account_iam_member")["compaction_token_creator"]
    assert expression(token["service_account_id"]) == "google_service_account.compaction.name"
    # And the worker holds no grant on the compaction's account, nor the compaction on the worker's.
    assert "local.compaction_member" not in {
        expression(body["member"]) for body in resources("google_service_account_iam_member").values()
    }


def test_pipeline_subscription_has_retry_ordering_and_no_dead_letter_policy() -> None:
    subscription = resources("google_pubsub_subscription")["pipeline"]
    assert expression(subscription["topic"]) == 'google_pubsub_topic.topics["orders"].id'
    retry = first(subscription["retry_policy"])
    assert {"minimum_backoff", "maximum_backoff"} <= set(retry)
    assert "ack_deadline_seconds" in subscription
    assert expression(subscription["enable_message_ordering"]) == "var.enable_message_ordering"
    assert first(subscription["expiration_policy"])["ttl"] == "", "the pipeline subscription must never expire"
    assert "message_retention_duration" in resources("google_pubsub_topic")["topics"]

    dead_letter_subscription = resources("google_pubsub_subscription")["dead_letter"]
    assert expression(dead_letter_subscription["topic"]) == 'google_pubsub_topic.topics["dead_letter"].id'


def test_no_subscription_dead_letter_policy_and_no_grant_for_one() -> None:
    # Dataflow's read acks after its own checkpoint and retries failures in the job: a subscription's
    # dead-letter policy never sees a poison message, only Dataflow's internal nacks (healthy messages).
    # The pipeline dead-letters itself (order_events_dead_letter, plus --dead_letter_topic).
    for name, body in resources("google_pubsub_subscription").items():
        assert "dead_letter_policy" not in body, f"google_pubsub_subscription.{name} has a dead_letter_policy"
        assert "dead_letter_policy" not in {key for dynamic in body.get("dynamic", []) for key in dynamic}, name
    assert "max_delivery_attempts" not in variables()
    # Without a policy, the Pub/Sub service agent forwards nothing: its only grant is CMEK's (kms.tf).
    agent_grants = [
        f"{resource_type}.{name}"
        for _, block in blocks("resource")
        for resource_type, instances in block.items()
        if resource_type.endswith("_iam_member")
        for name, body in instances.items()
        if expression(body["member"]) == "local.pubsub_service_agent"
    ]
    assert not agent_grants, f"grants for a dead-letter policy that does not exist: {agent_grants}"
    assert "pubsub = local.pubsub_service_agent" in expression(locals_()["kms_service_agents"])


def test_docs_and_descriptions_promise_no_subscription_dead_letter_policy() -> None:
    """Wherever a dead-letter policy or delivery attempts are named, it is to say there is none."""
    readme = (TERRAFORM_DIR / "README.md").read_text()
    texts = {f"variable {name}": str(body["description"]) for name, body in variables().items()}
    texts |= {f"output {name}": str(body["description"]) for name, body in outputs().items()}
    texts["terraform/README.md"] = readme
    promise = re.compile(r"dead[- ]letter policy|max(imum)?[_ ]delivery[_ ]attempts|delivery attempts", re.I)
    negation = re.compile(r"\b(no|not|never|none|without|removes?|removed|gone)\b|n't", re.I)
    misleading = [
        f"{where}: {clause}"
        for where, text in texts.items()
        for clause in clauses(text)
        if promise.search(clause) and not negation.search(clause)
    ]
    assert not misleading, "text that promises a subscription dead-letter policy:\n" + "\n".join(misleading)
    # And the README says what does catch poison messages on Dataflow.
    assert "order_events_dead_letter" in readme and "--dead_letter_topic" in readme


def test_no_primitive_role_anywhere() -> None:
    for file_name, document in parsed_files().items():
        hits = [text for text in all_strings(document) if PRIMITIVE_ROLE.search(text)]
        assert not hits, f"{file_name} grants a primitive role: {hits}"
        raw = (TERRAFORM_DIR / file_name).read_text()
        assert not PRIMITIVE_ROLE.search(raw), f"{file_name} mentions a primitive role"


def test_worker_service_account_holds_exactly_its_least_privilege_roles() -> None:
    worker = "google_service_account.dataflow_worker"
    assert locals_()["worker_member"] == f"serviceAccount:${{{worker}.email}}"
    assert members_grants(WORKER_MEMBERS) == WORKER_ROLES

    # Resource-level grants are on this deployment's own resources.
    dead_letter = resources("google_pubsub_topic_iam_member")["worker_dead_letter_publisher"]
    assert expression(dead_letter["topic"]) == 'google_pubsub_topic.topics["dead_letter"].name'
    subscription = resources("google_pubsub_subscription_iam_member")["worker_subscription"]
    assert expression(subscription["subscription"]) == "google_pubsub_subscription.pipeline.name"
    dataset = resources("google_bigquery_dataset_iam_member")["worker_data_editor"]
    assert expression(dataset["dataset_id"]) == 'google_bigquery_dataset.datasets["orders"].dataset_id'
    bucket = resources("google_storage_bucket_iam_member")["worker_bucket"]
    assert expression(bucket["bucket"]) == "google_storage_bucket.dataflow.name"

    assert not resources("google_service_account_key"), "no service account keys: Dataflow needs none"
    for binding_type in ("google_project_iam_binding", "google_project_iam_policy"):
        assert not resources(binding_type), f"{binding_type} is authoritative: it would strip others' roles"


def worker_grants_by_target(resource_type: str, target: str) -> dict[str, set[str]]:
    """{target expression: roles} of the worker's grants of one IAM resource type (bucket, dataset_id …)."""
    granted: dict[str, set[str]] = {}
    for body in resources(resource_type).values():
        if expression(body["member"]) in WORKER_MEMBERS:
            granted.setdefault(expression(body[target]), set()).update(roles_granted(body))
    return granted


def test_worker_only_reads_the_template_bucket_and_writes_only_the_dataflow_bucket() -> None:
    by_bucket = worker_grants_by_target("google_storage_bucket_iam_member", "bucket")
    assert by_bucket == WORKER_BUCKET_ROLES
    template_roles = by_bucket["google_storage_bucket.templates.name"]
    assert not {role for role in template_roles if STORAGE_WRITE_ROLE.match(role)}, template_roles
    # And no project-level storage role, which would reach the template bucket too.
    project_roles = members_grants(WORKER_MEMBERS)["google_project_iam_member"]
    assert not {role for role in project_roles if role.startswith("roles/storage.")}, project_roles
    # No bucket-level authoritative policy that could hand the worker more on either bucket.
    for binding_type in ("google_storage_bucket_iam_binding", "google_storage_bucket_iam_policy"):
        assert not resources(binding_type), f"{binding_type} on a bucket: grant members one by one"


def test_worker_edits_only_the_orders_dataset() -> None:
    by_dataset = worker_grants_by_target("google_bigquery_dataset_iam_member", "dataset_id")
    assert by_dataset == {ORDERS_DATASET_ID: {"roles/bigquery.dataEditor"}}
    assert not resources("google_bigquery_dataset_iam_binding") and not resources("google_bigquery_dataset_iam_policy")


def test_template_spec_lives_in_the_template_bucket() -> None:
    assert variables()["flex_template_gcs_path"]["default"] is None
    spec = expression(locals_()["flex_template_gcs_path"])
    default = re.fullmatch(r'coalesce\(var\.flex_template_gcs_path, "gs://\$\{([\w.]+)\}/[^"]+\.json"\)', spec)
    assert default, f"unexpected flex_template_gcs_path: {spec!r}"
    assert default.group(1) == "google_storage_bucket.templates.name"
    assert (
        locals_()["template_bucket_name"]
        == '${coalesce(var.template_bucket_name, "${var.project_id}-orders-templates")}'
    )
    # The job and the output both use that path, and a path in the writable Dataflow bucket is refused.
    job = resources("google_dataflow_flex_template_job")["orders"]
    assert expression(job["container_spec_gcs_path"]) == "local.flex_template_gcs_path"
    assert expression(outputs()["flex_template_gcs_path"]["value"]) == "local.flex_template_gcs_path"
    assert expression(outputs()["template_bucket"]["value"]) == "google_storage_bucket.templates.name"
    precondition = first(first(job["lifecycle"])["precondition"])
    assert expression(precondition["condition"]) == (
        '!startswith(local.flex_template_gcs_path, "gs://${google_storage_bucket.dataflow.name}/")'
    )
    assert "google_storage_bucket_iam_member.worker_template_reader" in {expression(d) for d in job["depends_on"]}
    # The README's build and run commands take the path from that output.
    readme = (TERRAFORM_DIR / "README.md").read_text()
    assert 'flex-template build "$(terraform -chdir=terraform output -raw flex_template_gcs_path)"' in readme
    assert '--template-file-gcs-location "$(terraform -chdir=terraform output -raw flex_template_gcs_path)"' in readme


def test_template_bucket_matches_the_dataflow_bucket_settings() -> None:
    dataflow = resources("google_storage_bucket")["dataflow"]
    templates = resources("google_storage_bucket")["templates"]
    assert expression(templates["name"]) == "local.template_bucket_name"
    for attribute in ("project", "location", "storage_class", "force_destroy", "labels", "depends_on"):
        assert templates[attribute] == dataflow[attribute], attribute
    assert templates["uniform_bucket_level_access"] is True
    assert templates["public_access_prevention"] == "enforced"
    assert first(templates["versioning"])["enabled"] is True
    purge = [first(rule["condition"]) for rule in templates["lifecycle_rule"]]
    assert {"days_since_noncurrent_time": "${var.noncurrent_version_retention_days}", "with_state": "ARCHIVED"} in purge
    for name in ("logging", "encryption"):
        assert expression(dynamic_block(templates, name)["for_each"]) == expression(
            dynamic_block(dataflow, name)["for_each"]
        )


def test_dataflow_bucket_is_private_versioned_and_expires_temp_files() -> None:
    bucket = resources("google_storage_bucket")["dataflow"]
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert first(bucket["versioning"])["enabled"] is True
    temp_rules = [
        rule
        for rule in bucket["lifecycle_rule"]
        if first(rule["condition"]).get("matches_prefix") == ["tmp/"] and first(rule["action"])["type"] == "Delete"
    ]
    assert len(temp_rules) == 1
    assert expression(first(temp_rules[0]["condition"])["age"]) == "var.temp_retention_days"


def test_optional_cmek_reaches_every_resource_that_stores_data() -> None:
    assert variables()["kms_key_name"]["default"] is None
    direct = [
        resources("google_pubsub_topic")["topics"],
        resources("google_artifact_registry_repository")["flex_templates"],
        resources("google_dataflow_flex_template_job")["orders"],
    ]
    for body in direct:
        assert expression(body["kms_key_name"]) == "var.kms_key_name"
    wrapped = [
        (resources("google_bigquery_dataset")["datasets"], "default_encryption_configuration"),
        (resources("google_bigquery_table")["tables"], "encryption_configuration"),
        (resources("google_storage_bucket")["dataflow"], "encryption"),
        (resources("google_storage_bucket")["templates"], "encryption"),
    ]
    for body, block_name in wrapped:
        block = dynamic_block(body, block_name)
        assert expression(block["for_each"]) == "local.cmek_keys"
        (key_attribute,) = first(block["content"]).values()
        assert expression(key_attribute) == f"{block_name}.value"
    grant = resources("google_kms_crypto_key_iam_member")["service_agents"]
    assert expression(grant["role"]) == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert expression(grant["crypto_key_id"]) == "var.kms_key_name"


def test_flex_template_job_is_optional_and_uses_the_worker_account() -> None:
    job = resources("google_dataflow_flex_template_job")["orders"]
    assert expression(job["count"]) == "var.deploy_dataflow_job ? 1 : 0"
    assert variables()["deploy_dataflow_job"]["default"] is False
    assert expression(job["provider"]) == "google-beta"
    assert expression(job["service_account_email"]) == "google_service_account.dataflow_worker.email"
    assert expression(job["parameters"]) == "local.pipeline_parameters"


def test_outputs_expose_every_name_the_pipeline_needs() -> None:
    declared = outputs()
    needed = {"input_subscription", "dead_letter_topic", "dataset_id", "table_ids", "bucket", "template_bucket"}
    needed |= {"service_account_email", "temp_location", "staging_location", "dataflow_launch_command"}
    assert needed <= set(declared), f"missing outputs: {sorted(needed - set(declared))}"
    assert expression(declared["input_subscription"]["value"]) == "google_pubsub_subscription.pipeline.id"
    assert expression(declared["dead_letter_topic"]["value"]) == 'google_pubsub_topic.topics["dead_letter"].id'
    assert expression(declared["dataflow_launch_command"]["value"]) == "local.launch_command"


def test_launch_command_passes_beam_and_pipeline_flags() -> None:
    command = expression(locals_()["launch_command"])
    for flag in (
        "python streaming_job.py",
        "--runner DataflowRunner",
        "--project ${var.project_id}",
        "--region ${var.region}",
        "--temp_location ${local.temp_location}",
        "--staging_location ${local.staging_location}",
        "--service_account_email ${google_service_account.dataflow_worker.email}",
        "--setup_file ./setup.py",
        "--streaming",
    ):
        assert flag in command, f"launch command lacks {flag!r}"
    assert 'for flag, value in local.pipeline_parameters : "--${flag} ${value}"' in command


def test_analytics_dataset_default_matches_the_dbt_profile() -> None:
    profile = (REPO_ROOT / "dbt" / "profiles.yml").read_text()
    match = re.search(r"env_var\('DBT_BIGQUERY_DATASET', '([^']+)'\)", profile)
    assert match, "dbt/profiles.yml no longer reads DBT_BIGQUERY_DATASET with a default"
    assert variables()["analytics_dataset_id"]["default"] == match.group(1)


#: What the dead-letter replay's service account may do (terraform/replay.tf), by the resource type that grants it.
REPLAY_ROLES = {
    "google_project_iam_member": {"roles/bigquery.jobUser"},
    "google_pubsub_topic_iam_member": {"roles/pubsub.publisher", "roles/pubsub.viewer"},
}
#: Its roles on single tables: it reads the dead letters and reads and appends to its own log, nothing else.
REPLAY_TABLE_ROLES = {
    "order_events_dead_letter": "roles/bigquery.dataViewer",
    "dead_letter_replays": "roles/bigquery.dataEditor",
}
REPLAY_MEMBERS = {"local.replay_member", "serviceAccount:${google_service_account.replay.email}"}


def test_replay_runs_as_its_own_account_with_only_the_grants_it_uses() -> None:
    account = resources("google_service_account")["replay"]
    assert expression(account["account_id"]) == "var.replay_service_account_id"
    assert variables()["replay_service_account_id"]["default"] == "orders-dead-letter-replay"
    assert locals_()["replay_member"] == "serviceAccount:${google_service_account.replay.email}"
    grants = members_grants(REPLAY_MEMBERS)
    table_grants = grants.pop("google_bigquery_table_iam_member", set())
    assert grants == REPLAY_ROLES
    assert table_grants == set(), "table roles come from local.replay_table_roles, checked below"

    # The table grants: a for_each over a typed map of table -> role, on this deployment's tables.
    assert typed_map("replay_table_roles") == REPLAY_TABLE_ROLES
    assert set(REPLAY_TABLE_ROLES) <= set(table_layouts()), "replay is granted a table that tables.json lacks"
    (name,) = resources("google_bigquery_table_iam_member")
    body = resources("google_bigquery_table_iam_member")[name]
    assert expression(body["for_each"]) == "local.replay_table_roles"
    assert expression(body["role"]) == "each.value" and expression(body["member"]) == "local.replay_member"
    assert expression(body["dataset_id"]) == ORDERS_DATASET_ID
    assert expression(body["table_id"]) == "google_bigquery_table.tables[each.key].table_id"
    # Nothing on the dataset itself: it cannot touch orders, the changelog or the dead letters' content.
    by_dataset = {
        expression(body["member"])
        for body in resources("google_bigquery_dataset_iam_member").values()
        if expression(body["member"]) in REPLAY_MEMBERS
    }
    assert not by_dataset

    topic = resources("google_pubsub_topic_iam_member")["replay"]
    assert expression(topic["topic"]) == 'google_pubsub_topic.topics["orders"].name'


def test_replay_operators_may_impersonate_only_the_replay_account() -> None:
    grant = resources("google_service_account_iam_member")["replay_operators"]
    assert expression(grant["for_each"]) == "toset(var.replay_operator_members)"
    assert expression(grant["service_account_id"]) == "google_service_account.replay.name"
    assert expression(grant["role"]) == "roles/iam.serviceAccountTokenCreator"
    assert variables()["replay_operator_members"]["default"] == []
    assert '"iamcredentials.googleapis.com"' in expression(locals_()["required_apis"])
    assert expression(outputs()["replay_service_account_email"]["value"]) == "google_service_account.replay.email"
    # The replay account itself may act as no other account.
    assert (
        not {expression(body["member"]) for body in resources("google_service_account_iam_member").values()}
        & REPLAY_MEMBERS
    )
