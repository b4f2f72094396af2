"""RFC 3339 timestamps as the contract allows them (``T``/``t``/space separator, ``Z``/``z`` or an offset)."""

from __future__ import annotations

from datetime import datetime, timezone


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp to an aware UTC datetime. Raises ValueError on anything else."""
    moment = datetime.fromisoformat(text.strip().upper().replace(" ", "T"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no offset")
    return moment.astimezone(timezone.utc)
