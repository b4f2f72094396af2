"""The Dataflow flex template under terraform/flex_template/: metadata, Dockerfile, and gcloud's own build.

`gcloud dataflow flex-template build --print-only` validates the metadata and renders the template spec
without credentials or network, so the spec a user will upload is built here exactly as gcloud builds it.
The image holds only what Dataflow workers run; a test walks the imports of that code to keep it so.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import hcl2
import pytest
from hcl2 import SerializationOptions

REPO_ROOT = Path(__file__).resolve().parents[2]
FLEX_TEMPLATE_DIR = REPO_ROOT / "terraform" / "flex_template"
PARAMETERS = [
    "input_subscription",
    "sink",
    "bq_project",
    "bq_dataset",
    "bq_location",
    "dead_letter_topic",
    "timestamp_attribute",
]
#: Declared for users who opt in, never passed by Terraform: an event_time attribute Dataflow's read cannot
#: parse would stall the read for good, so the default is Pub/Sub publish time.
OPT_IN_PARAMETERS = {"timestamp_attribute"}
#: Exactly what the launcher image copies: the pipeline, its contract and what `pip install .` needs.
IMAGE_SOURCES = {
    "pyproject.toml",
    "setup.py",
    "README.md",
    "LICENSE",
    "streaming_job.py",
    "beam_pipelines/",
    "schemas/",
}
#: Local tooling that must stay out of the image (and out of what workers import).
LOCAL_ONLY_PACKAGES = {"publishers", "warehouse", "orders_local"}
#: Worker-side modules imported only for the local warehouse (--sink duckdb), lazily, inside a function.
LOCAL_ONLY_MODULES = {"beam_pipelines.sinks.duckdb", "beam_pipelines.sinks.arrow_rows"}  # pyarrow: the local extra


def metadata() -> dict:
    return json.loads((FLEX_TEMPLATE_DIR / "metadata.json").read_text())


def dockerfile() -> str:
    return (FLEX_TEMPLATE_DIR / "Dockerfile").read_text()


def copied_sources() -> list[str]:
    """The source paths of every COPY in the Dockerfile (the last word is the destination)."""
    return [
        source
        for line in re.findall(r"^COPY (.+)$", dockerfile(), re.M)
        for source in line.split()[:-1]
        if not source.startswith("--")
    ]


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
    assert optional == {"bq_location", "dead_letter_topic"} | OPT_IN_PARAMETERS


def test_terraform_passes_the_template_parameters_except_the_opt_in_ones() -> None:
    passed = terraform_pipeline_parameters()
    assert list(passed) == [name for name in PARAMETERS if name not in OPT_IN_PARAMETERS]
    assert passed["sink"] == "bigquery"
    assert passed["input_subscription"] == "${google_pubsub_subscription.pipeline.id}"
    assert passed["dead_letter_topic"] == '${google_pubsub_topic.topics["dead_letter"].id}'
    # What those resources' ids look like once applied must satisfy the template's own regexes.
    examples = {
        "input_subscription": "projects/my-project/subscriptions/orders-pipeline",
        "sink": "bigquery",
        "bq_project": "my-project",
        "bq_dataset": "orders_rt",
        "bq_location": "us-central1",
        "dead_letter_topic": "projects/my-project/topics/orders-dead-letter",
        "timestamp_attribute": "event_time",
    }
    for parameter in metadata()["parameters"]:
        for regex in parameter.get("regexes", []):
            assert re.search(regex, examples[parameter["name"]]), (parameter["name"], regex)


def test_no_launch_path_sets_timestamp_attribute_by_default() -> None:
    # Neither the template's own default nor Terraform (job parameters and the printed launch command, both
    # built from local.pipeline_parameters) may set it: the pipeline's default, publish time, applies.
    (declared,) = [parameter for parameter in metadata()["parameters"] if parameter["name"] == "timestamp_attribute"]
    assert declared["isOptional"] is True
    assert "defaultValue" not in declared, declared
    with (REPO_ROOT / "terraform" / "dataflow.tf").open() as handle:
        document = hcl2.load(
            handle, serialization_options=SerializationOptions(with_comments=False, strip_string_quotes=True)
        )
    assert "timestamp_attribute" not in json.dumps(document), "dataflow.tf passes timestamp_attribute"
    assert "timestamp_attribute" not in terraform_pipeline_parameters()


def test_dockerfile_builds_from_the_repo_root() -> None:
    base_image = re.escape("gcr.io/dataflow-templates-base/python311-template-launcher-base:")
    assert re.search(rf"^FROM {base_image}", dockerfile(), re.M), "launcher base image, pinned to a tag"
    assert re.search(r"^ENV FLEX_TEMPLATE_PYTHON_PY_FILE=\S*/streaming_job\.py$", dockerfile(), re.M)
    assert re.search(r"^ENV FLEX_TEMPLATE_PYTHON_SETUP_FILE=\S*/setup\.py$", dockerfile(), re.M)
    missing = [source for source in copied_sources() if not (REPO_ROOT / source).exists()]
    assert not missing, f"the image copies paths the repository root does not have: {missing}"


def test_image_holds_only_what_workers_run() -> None:
    sources = copied_sources()
    assert len(sources) == len(set(sources)), f"copied twice: {sources}"
    assert set(sources) == IMAGE_SOURCES
    copied_packages = {source.strip("/").split("/")[0] for source in sources}
    assert not copied_packages & LOCAL_ONLY_PACKAGES, (
        f"local tooling in the image: {copied_packages & LOCAL_ONLY_PACKAGES}"
    )
    # The project with its base dependencies only: no extra (local, publisher, dbt, dev) in the image.
    installs = re.findall(r"^RUN pip install (.+)$", dockerfile(), re.M)
    assert installs == ["--no-cache-dir ."], installs


def test_the_launcher_stages_the_package_from_what_the_image_holds(tmp_path: Path) -> None:
    """Beam's own stager (what the launcher runs for FLEX_TEMPLATE_PYTHON_SETUP_FILE, and a `--setup_file` job
    submission) builds the workers' sdist from the image's files alone, with this environment's setuptools and
    no build isolation; the license is declared as an SPDX expression, with its text."""
    import tarfile

    from apache_beam.runners.portability.stager import Stager

    image = tmp_path / "template"
    for source in copied_sources():
        target = image / source
        if source.endswith("/"):
            shutil.copytree(REPO_ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / source, target)
    staged = tmp_path / "staged"
    staged.mkdir()
    sdist = Path(Stager._build_setup_package(str(image / "setup.py"), str(staged)))
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        (pkg_info,) = [name for name in names if name.count("/") == 1 and name.endswith("/PKG-INFO")]
        metadata_text = archive.extractfile(pkg_info).read().decode()
    assert "License-Expression: Apache-2.0" in metadata_text.splitlines()
    assert "License-File: LICENSE" in metadata_text.splitlines()
    assert any(name.endswith("/beam_pipelines/pipeline.py") for name in names)
    assert any(name.endswith("/schemas/order_event.v1.json") for name in names)


# --------------------------------------------------------------------------------------------------------
# What the image's code imports when a worker loads it.


def image_modules() -> dict[str, Path]:
    """{module name: file} of every Python module the Dockerfile copies, but setup.py: a build script, run by
    pip's build backend, which brings setuptools along."""
    modules = {}
    for source in sorted(IMAGE_SOURCES - {"setup.py"}):
        path = REPO_ROOT / source
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.suffix == ".py" else []
        for file in files:
            parts = file.relative_to(REPO_ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = file
    return modules


def import_time_imports(tree: ast.Module) -> Iterator[str]:
    """Absolute module names a module imports when it is loaded: not inside functions (lazy imports), not
    under `if TYPE_CHECKING:`; class bodies do run at import."""
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        pending.extend(ast.iter_child_nodes(node))


def base_dependency_import_names() -> set[str]:
    """Top-level import names provided by pyproject's base dependencies (what `pip install .` brings)."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]

    def normalized(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    declared = {
        normalized(re.match(r"[A-Za-z0-9._-]+", requirement).group(0)) for requirement in project["dependencies"]
    }
    return {
        import_name
        for import_name, distributions in importlib.metadata.packages_distributions().items()
        if declared & {normalized(distribution) for distribution in distributions}
    }


def test_worker_code_imports_only_the_image_and_the_base_dependencies() -> None:
    modules = image_modules()
    assert "streaming_job" in modules and "beam_pipelines.pipeline" in modules, sorted(modules)
    assert set(modules) >= LOCAL_ONLY_MODULES, f"stale LOCAL_ONLY_MODULES: {LOCAL_ONLY_MODULES - set(modules)}"
    own = {name.split(".")[0] for name in modules}
    allowed = own | set(sys.stdlib_module_names) | base_dependency_import_names() | {"__future__"}
    assert {"apache_beam", "google", "jsonschema_rs"} <= allowed, "base dependencies not installed in this venv"

    problems = []
    for module, file in modules.items():
        imported = set(import_time_imports(ast.parse(file.read_text(), filename=str(file))))
        if module in LOCAL_ONLY_MODULES:
            continue
        outside = sorted(name for name in imported if name.split(".")[0] not in allowed)
        problems += [f"{module} imports {name} at import time" for name in outside]
        problems += [f"{module} imports {name} at import time" for name in sorted(imported & LOCAL_ONLY_MODULES)]
    assert not problems, (
        "workers load these from an image without local tooling or extras (move the import into the function "
        "that needs it, or declare the dependency in pyproject's base dependencies):\n" + "\n".join(problems)
    )


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
            "gs://my-project-orders-templates/templates/orders-streaming.json",
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
