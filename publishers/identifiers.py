"""Deterministic identifiers drawn from a seeded random generator (never from the OS)."""

from __future__ import annotations

import random
import uuid


def random_hex_id(rng: random.Random) -> str:
    """A 32-hex-digit id like Olist's (which are MD5-shaped)."""
    return f"{rng.getrandbits(128):032x}"


def random_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
