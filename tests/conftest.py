"""Fixtures shared by the test suite: the real Pub/Sub emulator and the real Olist reference CSVs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pubsub_helpers import create_pubsub_names

from orders_local import emulator as pubsub_emulator

REPO_ROOT = Path(__file__).resolve().parents[1]
OLIST_DIR = REPO_ROOT.parent / "shared" / "data" / "olist"
TESTS_DIR = Path(__file__).resolve().parent

# Markers are given here, not by hand: `make test-unit` runs `-m unit`, the rest of `make test` `-m "not unit"`.
# A test under one of these folders gets its marker...
DIRECTORY_MARKERS = {"e2e": "e2e", "dbt": "dbt", "terraform": "terraform", "airflow": "airflow"}
# ...and so does any test, wherever it lives, that uses one of these fixtures (directly or through another).
FIXTURE_MARKERS = {"pubsub": "e2e", "warehouse_path": "dbt", "dbt_build": "dbt", "dbt_bigquery_sql": "dbt"}
SLOW_MARKERS = frozenset({*DIRECTORY_MARKERS.values(), *FIXTURE_MARKERS.values()})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """e2e (Pub/Sub emulator), dbt (a dbt build), terraform (checkov, gcloud, HCL); `unit` for all the rest."""
    for item in items:
        path = Path(item.path).resolve()
        parts = path.relative_to(TESTS_DIR).parts if path.is_relative_to(TESTS_DIR) else ()
        names = {DIRECTORY_MARKERS[parts[0]]} if len(parts) > 1 and parts[0] in DIRECTORY_MARKERS else set()
        names |= {marker for fixture, marker in FIXTURE_MARKERS.items() if fixture in getattr(item, "fixturenames", ())}
        for name in sorted(names):
            item.add_marker(name)
        if not any(marker.name in SLOW_MARKERS for marker in item.iter_markers()):
            item.add_marker("unit")


@pytest.fixture(scope="session")
def olist_dir() -> Path:
    """The real Olist CSVs, which live beside the project (never copied into it)."""
    if not (OLIST_DIR / "olist_products_dataset.csv").is_file():
        pytest.skip(f"real Olist CSVs not found at {OLIST_DIR} (they are not shipped with the project)")
    return OLIST_DIR


@pytest.fixture(scope="session")
def pubsub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pubsub_emulator.Emulator]:
    """Google's Pub/Sub emulator on a free loopback port for the whole session, stopped by its PID."""
    running = pubsub_emulator.start(tmp_path_factory.mktemp("pubsub-emulator"), project="test-project")
    previous = os.environ.get("PUBSUB_EMULATOR_HOST")
    os.environ["PUBSUB_EMULATOR_HOST"] = running.host
    try:
        yield running
    finally:
        pubsub_emulator.stop(running)
        if previous is None:
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = previous


@pytest.fixture
def pubsub_names(pubsub: pubsub_emulator.Emulator) -> dict[str, str]:
    """Fresh Pub/Sub resources for one test (see create_pubsub_names)."""
    return create_pubsub_names(pubsub)


@pytest.fixture(autouse=True)
def _no_counts_from_earlier_tests() -> None:
    """Counters incremented outside a Beam bundle (a DoFn driven by hand, a thread of ours) wait to be reported
    by the next bundle in the process (beam_pipelines.metrics): drop them, so no test sees another's counts."""
    from beam_pipelines import metrics

    metrics.take_pending()
