"""Fixtures shared by the test suite: the real Pub/Sub emulator and the real Olist reference CSVs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pubsub_helpers import create_pubsub_names

from publishers import emulator as pubsub_emulator

REPO_ROOT = Path(__file__).resolve().parents[1]
OLIST_DIR = REPO_ROOT.parent / "shared" / "data" / "olist"


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
