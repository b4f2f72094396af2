"""The publisher's and the emulator's command lines, as a user meets them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from orders_local import emulator


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120)


def test_publisher_help_lists_every_flag():
    result = _run("-m", "publishers", "--help")
    assert result.returncode == 0
    for flag in (
        "--topic",
        "--output",
        "--orders",
        "--duration",
        "--rate",
        "--seed",
        "--duplicate-ratio",
        "--reorder-ratio",
        "--invalid-ratio",
        "--olist-dir",
        "--catalog-out",
    ):
        assert flag in result.stdout, flag


def test_bad_flags_give_a_one_line_error():
    for args, fragment in (
        (("--output", "x.jsonl", "--bogus"), "unrecognized arguments: --bogus"),
        (("--output", "x.jsonl", "--invalid-ratio", "2"), "expected a number between 0 and 1"),
        (("--topic", "orders"), "projects/PROJECT/topics/TOPIC"),
        (("--orders", "5"), "one of the arguments --topic --output is required"),
    ):
        result = _run("-m", "publishers", *args)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert fragment in lines[0]


def test_missing_olist_dir_is_reported(tmp_path):
    result = _run("-m", "publishers", "--output", str(tmp_path / "x.jsonl"), "--olist-dir", str(tmp_path))
    assert result.returncode == 2
    assert "file not found" in result.stderr


def test_file_output_summary_and_catalog(tmp_path):
    result = _run(
        "-m",
        "publishers",
        "--orders",
        "50",
        "--output",
        str(tmp_path / "e.jsonl"),
        "--catalog-out",
        str(tmp_path / "catalog"),
    )
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "e.jsonl").read_text().splitlines()
    assert f"{len(lines)} messages" in result.stderr and "50 orders" in result.stderr
    assert json.loads(lines[0])["sequence"] == 1
    assert sorted(p.name for p in (tmp_path / "catalog").iterdir()) == [
        "olist_products_dataset.csv",
        "olist_sellers_dataset.csv",
        "product_category_name_translation.csv",
    ]


def test_emulator_help_and_status(tmp_path):
    result = _run("-m", "orders_local.emulator", "--help")
    assert result.returncode == 0
    assert "start" in result.stdout and "PUBSUB_EMULATOR_HOST" in result.stdout
    status = _run("-m", "orders_local.emulator", "status", "--data-dir", str(tmp_path))
    assert (status.returncode, status.stdout.strip()) == (3, "not running")
    bad = _run("-m", "orders_local.emulator", "restart")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_missing_emulator_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setattr(emulator.shutil, "which", lambda name: None)
    try:
        emulator.emulator_command("127.0.0.1", 1, sdk_roots=(Path(tmp_path),))
    except emulator.EmulatorError as error:
        assert "gcloud components install pubsub-emulator" in str(error)
    else:
        raise AssertionError("no error without an emulator")
