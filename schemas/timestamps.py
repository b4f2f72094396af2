"""RFC 3339 timestamps as the contract allows them (``T``/``t``/space separator, ``Z``/``z`` or an offset).

Parsed with one regular expression rather than ``datetime.fromisoformat``, whose accepted forms differ between
Python 3.10 (no ``Z``, only 3 or 6 fraction digits) and 3.11+. Every failure is a :class:`TimestampError` that
says whether the text is not a real instant (Feb 30, a leap second) or an instant the warehouse cannot hold
(outside years 0001-9999 once converted to UTC, as both BigQuery and DuckDB require).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

INVALID_TIMESTAMP = "invalid_timestamp"
TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"

_RFC3339 = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt ]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<offset_hours>\d{2}):(?P<offset_minutes>\d{2}))",
    re.ASCII,
)
#: The form the publishers write: UTC with ``T`` and ``Z``, seconds 00-59. ``datetime.fromisoformat`` (C, 3.11+)
#: reads it straight to the UTC instant the general path would return; whatever it refuses (Feb 30, year 0000,
#: Python 3.10's lack of ``Z``) goes on to the general path, which says why.
_CANONICAL_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:[0-5]\d(?:\.\d{1,9})?Z", re.ASCII)


class TimestampError(ValueError):
    """A timestamp the contract cannot accept; ``kind`` is invalid_timestamp or timestamp_out_of_range."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp to an aware UTC datetime (fractions beyond microseconds are cut).

    Raises TimestampError on anything else."""
    if isinstance(text, str) and _CANONICAL_UTC.fullmatch(text):
        try:
            return datetime.fromisoformat(text)  # tzinfo is timezone.utc itself, as astimezone would leave it
        except ValueError:
            pass
    return parse_rfc3339(text)


def parse_rfc3339(text: str) -> datetime:
    """:func:`parse_timestamp` without its fast path for the canonical UTC form (the tests compare the two)."""
    if not isinstance(text, str):
        raise TimestampError(INVALID_TIMESTAMP, f"expected an RFC 3339 timestamp string, got {type(text).__name__}")
    text = text.strip()
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise TimestampError(
            INVALID_TIMESTAMP, f"{_shown(text)} is not an RFC 3339 timestamp with an offset (e.g. 2017-10-02T10:56:33Z)"
        )
    fields = match.groupdict()
    if fields["second"] == "60":
        raise TimestampError(
            INVALID_TIMESTAMP, f"{_shown(text)} is a leap second; BigQuery and DuckDB timestamps have no second 60"
        )
    if int(fields["offset_hours"] or 0) > 23 or int(fields["offset_minutes"] or 0) > 59:
        # fromisoformat would take +03:60 as +04:00
        raise TimestampError(INVALID_TIMESTAMP, f"{_shown(text)} has an impossible UTC offset")
    try:  # the C parser: fast where it accepts the form (3.11+ takes Z; 3.10 does not, and falls through)
        moment = datetime.fromisoformat(text)
    except ValueError:
        return _parse_fields(text, fields)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        raise TimestampError(TIMESTAMP_OUT_OF_RANGE, _out_of_range(text)) from None


def _parse_fields(text: str, fields: dict[str, str | None]) -> datetime:
    """The slow path (month 13, Feb 30, or forms the C parser lacks): each field by hand."""
    offset_hours, offset_minutes = int(fields["offset_hours"] or 0), int(fields["offset_minutes"] or 0)  # type: ignore[arg-type]
    offset = timedelta(hours=offset_hours, minutes=offset_minutes)
    try:
        local = datetime(
            int(fields["year"]),
            int(fields["month"]),
            int(fields["day"]),
            int(fields["hour"]),
            int(fields["minute"]),
            int(fields["second"]),
            int((fields["fraction"] or "0")[:6].ljust(6, "0")),
            tzinfo=timezone(-offset if fields["sign"] == "-" else offset),
        )
    except ValueError as error:  # month 13, Feb 30, hour 24, year 0000 ...
        raise TimestampError(INVALID_TIMESTAMP, f"{_shown(text)} is not a real date and time: {error}") from None
    try:
        return local.astimezone(timezone.utc)
    except OverflowError:
        raise TimestampError(TIMESTAMP_OUT_OF_RANGE, _out_of_range(text)) from None


def _out_of_range(text: str) -> str:
    return f"{_shown(text)} falls outside years 0001-9999 once converted to UTC; the warehouse cannot store it"


def _shown(text: str, limit: int = 80) -> str:
    """The offending text, quoted and cut, for an error message."""
    return repr(text if len(text) <= limit else text[:limit] + "...")
