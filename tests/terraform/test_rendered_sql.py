"""terraform/sql/ is exactly what `python -m beam_pipelines.compaction --render terraform/sql` writes today.

Terraform deploys those files (the scheduled compaction and the *_current views) through templatefile(); they
are generated from beam_pipelines/sinks/compaction_sql.py and schemas/, so a change there that is not rendered
again would deploy stale SQL. Rendered here into a temporary folder with the command's defaults and compared.
"""

from __future__ import annotations

import re
from pathlib import Path

from beam_pipelines.compaction import render
from beam_pipelines.sinks.compaction_sql import DEFAULT_OVERLAP_SECONDS, DEFAULT_SETTLE_SECONDS

REPO_ROOT = Path(__file__).resolve().parents[2]
SQL_DIR = REPO_ROOT / "terraform" / "sql"
RENDER_COMMAND = ".venv/bin/python -m beam_pipelines.compaction --render terraform/sql"
#: The only template sequences the files may hold: templatefile() gets exactly these two variables.
PLACEHOLDERS = {"${project}", "${dataset}"}


def rendered_now(directory: Path) -> dict[str, str]:
    paths = render(directory, DEFAULT_SETTLE_SECONDS, DEFAULT_OVERLAP_SECONDS)
    return {path.name: path.read_text(encoding="utf-8") for path in paths}


def committed() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(SQL_DIR.iterdir()) if path.is_file()}


def test_terraform_sql_is_the_current_render(tmp_path: Path) -> None:
    expected, actual = rendered_now(tmp_path), committed()
    hint = f"terraform/sql is stale: run `{RENDER_COMMAND}` (and commit the result)"
    missing, extra = sorted(set(expected) - set(actual)), sorted(set(actual) - set(expected))
    assert not missing, f"{hint}; missing: {missing}"
    assert not extra, f"{hint}; files the render no longer writes (delete them): {extra}"
    stale = sorted(name for name in expected if actual[name] != expected[name])
    assert not stale, f"{hint}; differs: {stale}"


def test_rendered_sql_holds_only_the_two_template_placeholders(tmp_path: Path) -> None:
    # templatefile() would fail on an unknown ${...} and interpret a %{...} directive.
    for name, text in rendered_now(tmp_path).items():
        assert set(re.findall(r"\$\{[^}]*\}", text)) == PLACEHOLDERS, name
        assert "%{" not in text, f"{name}: a %{{ sequence is a template directive to templatefile()"
