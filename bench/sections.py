"""BENCHMARKS.md is made of sections, each between its own markers and rewritten only by the script that owns it."""

from __future__ import annotations

from pathlib import Path

NEW_FILE = "# Benchmarks\n\nFigures measured on this project's machines.\n"


def replace_section(path: Path, section: str, begin: str, end: str) -> None:
    """Put ``section`` (which starts with ``begin`` and ends with ``end``) in place of the old one in ``path``, or
    append it when the file has none."""
    text = path.read_text() if path.exists() else NEW_FILE
    if begin in text and end in text:
        before, rest = text.split(begin, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)
