"""The dashboard in Debian's headless Chromium (Playwright, no browser download) over seeded chDB data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.storage.backend import ChdbBackend
from pipeline.storage.migrate import migrate
from pipeline.storage.repository import Repository
from tests.api.conftest import ADMIN_TOKEN, api_settings, seed, serve
from tests.ports import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Repository]]:
    from pipeline.api.app import create_api

    tmp = tmp_path_factory.mktemp("dash")
    ch = ChdbBackend(tmp / "chdb", "hypermicro")
    migrate(ch)
    repo = Repository(ch)
    seed(repo)
    port = free_port()
    with serve(create_api(lambda: repo, api_settings(tmp, api_port=port)), port) as base:
        yield base, repo
    ch.close()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium missing: deploy/local/browser.sh install")
def test_dashboard_pages_charts_and_acknowledge(server: tuple[str, Repository]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, repo = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/#/overview")

        # the API needs a token: the page asks for one and keeps it in localStorage
        expect(page.locator("#token-dialog")).to_be_visible()
        page.fill("#token-input", ADMIN_TOKEN)
        page.click("#token-save")
        expect(page.locator("[data-kpi=total-mentions]")).to_have_text("11")
        assert page.evaluate("localStorage.getItem('hypermicro.token')") == ADMIN_TOKEN
        expect(page.locator("[data-kpi=negative-mentions]")).to_have_text("5")
        # 15-minute buckets: seven acme posts 10:20-10:26 form the peak bar (uPlot draws on a canvas)
        chart = page.locator(".chart-box[data-chart=volume]")
        expect(chart).to_have_attribute("data-peak", "7")
        expect(chart.locator("canvas")).to_have_count(1)
        expect(page.locator("[data-kpi=share-of-voice]")).to_have_text("64.7%")
        expect(page.locator(".kpi", has_text="Share of voice")).to_contain_text("rival 35.3%")
        # the all-brands strip: acme is in trouble (5 more negative posts than the day before)
        expect(page.locator("#health a[data-brand]").first).to_have_attribute("data-brand", "acme")
        page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)

        page.click("nav a[data-route=trending]")
        rows = page.locator("#trending-table tbody tr")
        expect(rows).to_have_count(2)
        assert rows.nth(0).get_attribute("data-conversation") == "c-new"
        expect(rows.nth(1)).to_contain_text("flight delays")
        expect(rows.nth(1)).to_contain_text("gate")
        page.screenshot(path=str(SHOTS / "trending.png"), full_page=True)

        page.click("nav a[data-route=voices]")
        page.select_option("#subject-select", "acme")
        voices = page.locator("#voices-table tbody tr")
        expect(voices).to_have_count(2)
        assert [voices.nth(i).get_attribute("data-author") for i in range(2)] == ["u-erin", "u-carol"]
        page.screenshot(path=str(SHOTS / "voices.png"), full_page=True)

        page.click("nav a[data-route=alerts]")
        cards = page.locator("#alert-list article")
        expect(cards).to_have_count(3)
        page.screenshot(path=str(SHOTS / "alerts.png"), full_page=True)
        page.locator("article[data-alert=al-1] .ack-button").click()
        expect(cards).to_have_count(2)  # open alerts only
        page.select_option("#ack-filter", "acked")
        expect(page.locator("article[data-alert=al-1] [data-acked=true]")).to_be_visible()
        expect(page.locator("article[data-alert=al-1]")).to_contain_text("acknowledged by")
        page.screenshot(path=str(SHOTS / "alerts-acked.png"), full_page=True)
        browser.close()
    assert repo.ch.query("SELECT alert_id, incident_id FROM alert_acks") == [{"alert_id": "al-1", "incident_id": "inc-1"}]
    assert not errors, errors
    assert all(u.startswith(base) for u in requests), [u for u in requests if not u.startswith(base)]
