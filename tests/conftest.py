"""Fixtures shared by the test suite: the real Pub/Sub emulator and the real Olist reference CSVs."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from publishers import emulator as pubsub_emulator

REPO_ROOT = Path(__file__).resolve().parents[1]
OLIST_DIR = REPO_ROOT.parent / "shared" / "data" / "olist"
_names = itertools.count()


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
    """A fresh topic, subscription and dead-letter topic for one test, created on the emulator."""
    n = next(_names)
    names = {
        "topic": f"orders-{n}",
        "subscription": f"orders-pipeline-{n}",
        "dead_letter_topic": f"orders-dead-letter-{n}",
        "dead_letter_subscription": f"orders-dead-letter-sub-{n}",
    }
    pubsub_emulator.create_resources(pubsub, **names)
    return {
        "topic": pubsub.topic(names["topic"]),
        "subscription": pubsub.subscription(names["subscription"]),
        "dead_letter_topic": pubsub.topic(names["dead_letter_topic"]),
        "dead_letter_subscription": pubsub.subscription(names["dead_letter_subscription"]),
    }
