"""checkov over terraform/ (Terraform and the flex template's Dockerfile): zero failed checks.

checkov lives in its own virtualenv, .venv-lint (its pins clash with apache-beam's); `make lint-terraform`
creates it from terraform/requirements-lint.txt. Without it this test skips and says so.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO_ROOT / "terraform"
CHECKOV = REPO_ROOT / ".venv-lint" / "bin" / "checkov"

#: An inline skip must name the check and give a reason after the colon.
SKIP_COMMENT = re.compile(r"checkov:skip=(CKV\w*)(?::(.*))?")


def run_checkov() -> list[dict[str, Any]]:
    """checkov's JSON report, one entry per framework it ran (it prints a bare object for just one)."""
    if not CHECKOV.is_file():
        pytest.skip(f"checkov is not installed at {CHECKOV}: run `make lint-terraform` to create .venv-lint")
    completed = subprocess.run(
        # --skip-download: no call to Prisma Cloud for guidelines (offline, and nothing to send anywhere).
        [str(CHECKOV), "--directory", str(TERRAFORM_DIR), "--output", "json", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # checkov exits 1 when a check fails; anything else is a crash, not a result.
    crash = f"checkov exited {completed.returncode}:\n{completed.stderr[-3000:]}"
    assert completed.returncode in (0, 1), crash
    report = json.loads(completed.stdout)
    return report if isinstance(report, list) else [report]


def test_checkov_finds_no_failed_check() -> None:
    reports = run_checkov()
    by_framework = {report["check_type"]: report for report in reports}
    assert {"terraform", "dockerfile"} <= set(by_framework), f"frameworks scanned: {sorted(by_framework)}"
    assert by_framework["terraform"]["summary"]["passed"] > 0, "checkov checked no Terraform resource"

    failures = [
        f"{check['check_id']} {check['resource']} ({check['file_path']}:{check['file_line_range']}): "
        f"{check['check_name']}"
        for report in reports
        for check in report["results"]["failed_checks"]
    ]
    assert not failures, "checkov failed checks:\n" + "\n".join(failures)

    parse_errors = {report["check_type"]: report["summary"]["parsing_errors"] for report in reports}
    assert not any(parse_errors.values()), f"files checkov could not parse (so never checked): {parse_errors}"

    unexplained = [
        f"{check['check_id']} {check['resource']}"
        for report in reports
        for check in report["results"]["skipped_checks"]
        if not str(check.get("check_result", {}).get("suppress_comment", "")).strip()
    ]
    assert not unexplained, f"checks skipped without a reason: {unexplained}"


def test_every_inline_skip_gives_its_reason() -> None:
    # The files checkov reads; not .terraform/, where `terraform init` puts provider binaries.
    scanned = [*TERRAFORM_DIR.glob("*.tf"), *TERRAFORM_DIR.glob("*/Dockerfile")]
    skips = [
        (path.relative_to(REPO_ROOT), match)
        for path in sorted(scanned)
        for match in SKIP_COMMENT.finditer(path.read_text())
    ]
    assert scanned, f"no Terraform files under {TERRAFORM_DIR}"
    without_reason = [f"{path}: {skip.group(0)}" for path, skip in skips if not (skip.group(2) or "").strip()]
    assert not without_reason, "checkov skips need ':reason' beside them:\n" + "\n".join(without_reason)
