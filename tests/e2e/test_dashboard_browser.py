"""The live dashboard in a real browser: Debian's chromium, driven by Playwright, on a warehouse that the real
publisher CLI and streaming_job.py (JSONL backfill) wrote, with the reference data loaded by its loader.

The figures the page shows are compared with figures the test computes itself from the DuckDB file with
plain SQL (not orders_local.dashboard_queries). Then the pipeline writes more orders while the page is open:
the page must show them without a reload, and the pipeline must lose nothing to the dashboard's reads.
The final page is saved as a screenshot in the test's tmp_path (and as docs/dashboard.png, README's picture, when
UPDATE_DOCS_SCREENSHOT=1).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

pytestmark = pytest.mark.e2e
REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_COPY = REPO_ROOT / "docs" / "dashboard.png"
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
REFRESH_SECONDS = 1
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed by tools/ensure_chromium.sh when missing (never `playwright install`)."""
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "tools" / "ensure_chromium.sh")], capture_output=True, text=True, timeout=900
    )
    if result.returncode != 0:
        pytest.skip(f"chromium is not installed and could not be installed: {(result.stderr or result.stdout)[-500:]}")
    return shutil.which("chromium") or "/usr/bin/chromium"


def _run(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _publish_and_backfill(directory: Path, warehouse: Path, orders: int, seed: int, catalog: list[str]) -> None:
    """The publisher CLI writes JSONL (``catalog``: its catalog flags), the real pipeline backfills it.

    Purchases spread over the ``history`` before ``start`` (now): twice the time since São Paulo midnight,
    so about half of them fall on São Paulo's today and the rest on the day before."""
    start = datetime.now(timezone.utc)
    since_midnight = start - start.astimezone(SAO_PAULO).replace(hour=0, minute=0, second=0, microsecond=0)
    history_days = min(max(2 * since_midnight, timedelta(minutes=30)), timedelta(hours=36)) / timedelta(days=1)
    events = directory / f"events-{seed}.jsonl"
    _run(
        ["-m", "publishers", "--output", str(events), "--orders", str(orders), "--seed", str(seed),
         "--start-time", start.strftime("%Y-%m-%dT%H:%M:%SZ"), "--history-days", f"{history_days:.4f}",
         "--duplicate-ratio", "0.05", "--reorder-ratio", "0.1", "--invalid-ratio", "0.05", *catalog]
    )  # fmt: skip
    _run(["streaming_job.py", "--input_files", str(events), "--sink", "duckdb", "--duckdb_path", str(warehouse)])


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("dashboard")
    path = directory / "warehouse.duckdb"
    _publish_and_backfill(directory, path, orders=200, seed=12, catalog=["--catalog-out", str(directory / "catalog")])
    _run(["-m", "warehouse.reference", "--olist-dir", str(directory / "catalog"), "--duckdb-path", str(path)])
    return path


def expected_figures(warehouse: Path) -> dict[str, str]:
    """The headline figures as the page formats them, computed here from the file with plain SQL."""
    today = datetime.now(SAO_PAULO).date()
    with contextlib.closing(duckdb.connect(str(warehouse), read_only=True)) as connection:
        orders = connection.execute("SELECT count(*) FROM orders_rt.orders").fetchone()[0]
        dead_letters = connection.execute("SELECT count(*) FROM orders_rt.order_events_dead_letter").fetchone()[0]
        # Sales (not canceled or unavailable) bought on São Paulo's today: items price + freight.
        revenue = connection.execute(
            """
            SELECT coalesce(sum(i.price + i.freight_value), 0)
            FROM orders_rt.orders AS o JOIN orders_rt.order_items AS i ON i.order_id = o.order_id
            WHERE o.order_status NOT IN ('canceled', 'unavailable')
                AND CAST(timezone('America/Sao_Paulo', o.order_purchase_timestamp) AS DATE) = ?
            """,
            [today],
        ).fetchone()[0]
    return {
        "Orders": f"{orders:,}",
        "Dead letters": f"{dead_letters:,}",
        "Revenue today (R$)": f"{Decimal(revenue):,.2f}",
    }


@pytest.fixture
def dashboard(warehouse: Path, tmp_path: Path) -> Iterator[str]:
    """``streamlit run orders_local/dashboard.py`` on a free loopback port; stopped by its PID."""
    from orders_local.emulator import free_port

    port = free_port()
    log = (tmp_path / "streamlit.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "orders_local/dashboard.py", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--", "--duckdb-path", str(warehouse), "--refresh-seconds", str(REFRESH_SECONDS)],
        cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # the server's health endpoint answers once it serves the app
            assert server.poll() is None, (tmp_path / "streamlit.log").read_text()[-3000:]
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                if response.status == 200:
                    break
            assert time.monotonic() < deadline, "streamlit did not serve within 60 s"
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _metric_value(page, label: str):
    """The value element of the st.metric whose label is exactly ``label`` (data-testid markers)."""
    label_element = page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    return page.get_by_test_id("stMetric").filter(has=label_element).get_by_test_id("stMetricValue")


def test_the_dashboard_shows_the_warehouse_live(chromium, warehouse, dashboard, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    expected = expected_figures(warehouse)
    assert expected["Orders"] == "200" and expected["Dead letters"] != "0"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(dashboard)
            for label, value in expected.items():
                expect(_metric_value(page, label)).to_have_text(value, timeout=60_000)
            expect(page.get_by_text("Data as of", exact=False)).to_be_visible()
            expect(page.get_by_text("refreshed", exact=False)).to_be_visible()
            expect(page.get_by_text("Top categories", exact=True)).to_be_visible()

            # The pipeline writes more orders while the page reads every second: it must finish (no lock
            # wait beyond its patience), lose nothing, and the page must follow without a reload.
            page.evaluate("window.__loaded_once = true")
            catalog = ["--olist-dir", str(warehouse.parent / "catalog")]  # the products already loaded
            _publish_and_backfill(tmp_path, warehouse, orders=60, seed=13, catalog=catalog)
            grown = expected_figures(warehouse)
            assert int(grown["Orders"].replace(",", "")) == 260
            for label, value in grown.items():
                expect(_metric_value(page, label)).to_have_text(value, timeout=60_000)
            assert page.evaluate("window.__loaded_once") is True  # the same document: no reload
            expect(page.get_by_test_id("stAlert").filter(has_text="Warehouse busy")).to_have_count(0)

            # The page scrolls inside Streamlit's main block: grow the window to it, for a screenshot of it all.
            height = page.get_by_test_id("stMainBlockContainer").evaluate("element => element.scrollHeight")
            page.set_viewport_size({"width": 1400, "height": height + 80})
            expect(_metric_value(page, "Orders")).to_have_text(grown["Orders"])
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 50_000
    SCREENSHOT_COPY.parent.mkdir(exist_ok=True)
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):  # refresh README's picture on purpose, never as a side effect
        shutil.copyfile(shot, SCREENSHOT_COPY)
