"""The Dataflow flex template under terraform/flex_template/: metadata, Dockerfile, and gcloud's own build.

`gcloud dataflow flex-template build --print-only` validates the metadata and renders the template spec
without credentials or network, so the spec a user will upload is built here exactly as gcloud builds it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest
from hcl2 import SerializationOptions

REPO_ROOT = Path(__file__).resolve().parents[2]
FLEX_TEMPLATE_DIR = REPO_ROOT / "terraform" / "flex_template"
PARAMETERS = ["input_subscription", "sink", "bq_project", "bq_dataset", "bq_location", "dead_letter_topic"]


def metadata() -> dict:
    return json.loads((FLEX_TEMPLATE_DIR / "metadata.json").read_text())


def terraform_pipeline_parameters() -> dict[str, str]:
    """local.pipeline_parameters of terraform/dataflow.tf: what Terraform passes to the template."""
    options = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
    with (REPO_ROOT / "terraform" / "dataflow.tf").open() as handle:
        document = hcl2.load(handle, serialization_options=options)
    (parameters,) = [block["pipeline_parameters"] for block in document["locals"] if "pipeline_parameters" in block]
    return parameters


def test_metadata_declares_the_pipeline_parameters() -> None:
    parameters = metadata()["parameters"]
    assert [parameter["name"] for parameter in parameters] == PARAMETERS
    for parameter in parameters:
        assert parameter["label"] and parameter["helpText"], parameter["name"]
        for regex in parameter.get("regexes", []):
            re.compile(regex)
    optional = {parameter["name"] for parameter in parameters if parameter["isOptional"]}
    assert optional == {"bq_location", "dead_letter_topic"}


def test_terraform_passes_exactly_the_template_parameters() -> None:
    passed = terraform_pipeline_parameters()
    assert list(passed) == PARAMETERS
    assert passed["sink"] == "bigquery"
    assert passed["input_subscription"] == "${google_pubsub_subscription.pipeline.id}"
    assert passed["dead_letter_topic"] == "${google_pubsub_topic.dead_letter.id}"
    # What those resources' ids look like once applied must satisfy the template's own regexes.
    examples = {
        "input_subscription": "projects/my-project/subscriptions/orders-pipeline",
        "sink": "bigquery",
        "bq_project": "my-project",
        "bq_dataset": "orders_rt",
        "bq_location": "us-central1",
        "dead_letter_topic": "projects/my-project/topics/orders-dead-letter",
    }
    for parameter in metadata()["parameters"]:
        for regex in parameter.get("regexes", []):
            assert re.search(regex, examples[parameter["name"]]), (parameter["name"], regex)


def test_dockerfile_builds_from_the_repo_root() -> None:
    dockerfile = (FLEX_TEMPLATE_DIR / "Dockerfile").read_text()
    base_image = re.escape("gcr.io/dataflow-templates-base/python311-template-launcher-base:")
    assert re.search(rf"^FROM {base_image}", dockerfile, re.M), "launcher base image, pinned to a tag"
    assert re.search(r"^ENV FLEX_TEMPLATE_PYTHON_PY_FILE=\S*/streaming_job\.py$", dockerfile, re.M)
    assert re.search(r"^ENV FLEX_TEMPLATE_PYTHON_SETUP_FILE=\S*/setup\.py$", dockerfile, re.M)
    sources = [
        source
        for line in re.findall(r"^COPY (.+)$", dockerfile, re.M)
        for source in line.split()[:-1]
        if not source.startswith("--")
    ]
    assert {"streaming_job.py", "setup.py", "pyproject.toml"} <= set(sources)
    missing = [source for source in sources if not (REPO_ROOT / source).exists()]
    assert not missing, f"the image copies paths the repository root does not have: {missing}"


def test_gcloud_builds_the_template_spec(tmp_path: Path) -> None:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        pytest.skip("gcloud is not installed: `gcloud dataflow flex-template build --print-only` not run")
    image = "us-central1-docker.pkg.dev/my-project/orders-dataflow/orders-streaming:test"
    completed = subprocess.run(
        [
            gcloud,
            "beta",
            "dataflow",
            "flex-template",
            "build",
            "gs://my-project-orders-dataflow/templates/orders-streaming.json",
            f"--image={image}",
            "--sdk-language=PYTHON",
            f"--metadata-file={FLEX_TEMPLATE_DIR / 'metadata.json'}",
            "--print-only",
            "--project=my-project",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        # A private gcloud configuration: no user credentials read, no logs written in the user's home.
        env={**os.environ, "CLOUDSDK_CONFIG": str(tmp_path), "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    # --print-only prints the spec as a YAML block scalar ("|-" then the indented JSON).
    spec = json.loads(completed.stdout.split("\n", 1)[1])
    assert spec["image"] == image
    assert spec["sdkInfo"]["language"] == "PYTHON"
    assert [parameter["name"] for parameter in spec["metadata"]["parameters"]] == PARAMETERS
