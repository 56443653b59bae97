"""From alert to action, as a comms lead walks it in headless Chromium (desktop and phone).

A negative spike on acme goes through the real dispatcher to a webhook receiver (one delivery)
and is stored as the worker stores it. The walk: the e-mail's link → the brand view at the
alert's window with the spike marked → top negative posts → one post's author → back → ack →
the incident is acknowledged in `hypermicro alerts list` and a follow-up alert is not delivered.
Screenshots of each step go to artifacts/screenshots/; at 390 px the page must not scroll sideways.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipeline.alerts import render
from pipeline.alerts.cli import alerts_app
from pipeline.alerts.dispatcher import AlertDispatcher
from pipeline.core.schema import Alert, AlertWindow, Evidence, SamplePost, Subject
from pipeline.storage.backend import ChdbBackend
from pipeline.storage.migrate import migrate
from pipeline.storage.repository import Repository
from tests.alerts.alerts_support import Receiver
from tests.api.conftest import T0, api_settings, seed, serve
from tests.ports import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ANA = "ana-ruiz-key-0123456789"
VIEWPORTS = {"desktop": (1440, 900), "phone": (390, 844)}


class ClickHouseSink:
    """Stores every reviewed alert as the worker does (ClickHouse ``alerts``)."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo

    async def record(self, alert: Alert, *, delivered: bool, reason: str) -> None:
        self.repo.insert_alerts([alert])


def spike(minute_end: int, observed: float) -> Alert:
    start, end = T0 + timedelta(minutes=minute_end - 15), T0 + timedelta(minutes=minute_end)
    return Alert(
        id=Alert.make_id("negative_spike", "brand:acme|900", start), kind="negative_spike",
        subject=Subject(kind="brand", id="acme", brand_id="acme"), severity="critical", score=3.0,
        window=AlertWindow(start=start, end=end), observed=observed, expected=0.5,
        explanation=render.spike_sentence(observed, 0.5, 900),
        evidence=Evidence(post_ids=["test:a1"], samples=[SamplePost(
            id="test:a1", author="alice", text="Acme flight DELAYED again at gate 4", url="https://example.org/a1")]),
        created_at=end + timedelta(minutes=1),
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    from pipeline.api.app import create_api

    ch = ChdbBackend(tmp_path / "chdb", "hypermicro")
    migrate(ch)
    repo = Repository(ch)
    seed(repo)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    state = tmp_path / "alerts"
    settings = api_settings(tmp_path, api_port=port, alert_state_dir=state, public_url=base, webhook_url=None,
                            api_tokens=[{"name": "Ana Ruiz", "token": ANA, "scope": "act"}])
    receiver = Receiver()
    dispatcher = AlertDispatcher.from_settings(settings.model_copy(update={"webhook_url": receiver.url,
                                                                          "webhook_allow_unsigned": True}),
                                               state, sink=ClickHouseSink(repo))
    with serve(create_api(lambda: repo, settings), port):
        yield {"base": base, "repo": repo, "state": state, "dispatcher": dispatcher, "receiver": receiver}
    dispatcher.close()
    receiver.close()
    ch.close()


LOW_CONTRAST_JS = """() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
  const bg = (el) => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor);
    if (c.length === 3 || c[3] === 1) return c.slice(0, 3); } return [255, 255, 255]; };
  const bad = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    if (!own || !box.width || getComputedStyle(el).visibility === "hidden" || el.closest("dialog:not([open]), canvas")) continue;
    const fg = lum(rgb(getComputedStyle(el).color)), back = lum(bg(el));
    const ratio = (Math.max(fg, back) + 0.05) / (Math.min(fg, back) + 0.05);
    if (ratio < 4.5) bad.push(`${el.tagName}.${el.className} ${ratio.toFixed(2)} "${el.textContent.trim().slice(0, 30)}"`);
  }
  return bad;
}"""
"""Every visible text against the first opaque background behind it: WCAG AA (4.5:1)."""


def no_sideways_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium missing: deploy/local/browser.sh install")
@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_alert_email_to_acknowledged_incident(world: dict[str, Any], device: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    dispatcher, receiver = world["dispatcher"], world["receiver"]
    delivered = dispatcher.submit_sync(spike(30, 6))
    assert delivered is not None and len(receiver.requests) == 1
    text, _ = render.email_bodies(delivered, world["base"])
    link = re.search(r"Open in dashboard: (\S+)", text).group(1)  # type: ignore[union-attr]
    assert "#/brands/acme?from=" in link and f"alert={delivered.id}" in link
    width, height = VIEWPORTS[device]
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = lambda step: str(SHOTS / f"crisis-{device}-{step}.png")  # noqa: E731
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        # a reader far from UTC: every time on the page, the chart's axis included, is still UTC
        page = browser.new_page(viewport={"width": width, "height": height}, timezone_id="America/Los_Angeles")
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text)  # CSP refusals too (a 401 before the key is expected)
                if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
        page.goto(link)
        expect(page.locator("#token-dialog")).to_be_visible()
        expect(page.locator("#token-reason")).to_have_text("Paste the access key your admin gave you.")
        page.fill("#token-input", ANA)
        page.click("#token-save")

        # 1. the brand view at the alert's window, the spike marked on the chart
        expect(page.locator("#this-alert")).to_contain_text("6 negative mentions in the last 15 minutes")
        marker = page.locator(f".chart-box .marker.marked[data-alert='{delivered.id}']")
        expect(marker).to_have_count(1)
        assert marker.bounding_box()["width"] > 3  # type: ignore[index]
        expect(page.locator("[data-kpi=negative-mentions]")).to_have_text("4")  # a1-a4; x1 at 10:45 is after the range
        expect(page.locator("#range-text")).to_contain_text("2026-03-02 09:00 UTC – 2026-03-02 10:45 UTC")
        assert page.input_value("#range-from") == "2026-03-02T09:00"
        assert no_sideways_scroll(page), device
        page.screenshot(path=shot("1-brand-view"), full_page=False)

        # 2. the top negative posts, with text, handle, reach and link
        posts = page.locator("#top-negative li.post")
        expect(posts).to_have_count(4)
        expect(posts.first).to_contain_text("reach 100")
        expect(page.locator("#top-negative")).to_contain_text("Acme flight DELAYED again at gate 4")
        expect(page.locator("#terms, #sources, #conversations")).to_have_count(3)
        expect(page.locator("#conversations")).to_contain_text("flight delays")
        page.locator("#top-negative").scroll_into_view_if_needed()
        assert no_sideways_scroll(page), device
        page.screenshot(path=shot("2-top-negative-posts"), full_page=False)

        # 3. one post's author: their posts
        author = posts.first.locator("a.author")
        author_id = author.get_attribute("data-author")
        author.click()
        expect(page.locator("#author-card")).to_contain_text(author_id or "?")
        assert f"author={author_id}" in page.url
        expect(page.locator("#posts-list li.post")).to_have_count(1)
        assert no_sideways_scroll(page), device
        page.screenshot(path=shot("3-author"), full_page=False)

        # 4. back to the alert and acknowledge it
        page.go_back()
        button = page.locator("#this-alert .ack-button")
        expect(button).to_be_visible()
        button.click()
        expect(page.locator("#this-alert [data-acked=true]")).to_have_text("acknowledged by Ana Ruiz")
        assert no_sideways_scroll(page), device
        page.screenshot(path=shot("4-acknowledged"), full_page=False)

        for name, view in (("health", "#/"), ("alerts", "#/alerts?show=all"), ("posts", "#/posts?brand=acme"),
                           ("trending", "#/trending"), ("voices", "#/voices?subject=acme")):
            page.goto(world["base"] + "/" + view)
            page.wait_for_selector(f"main#view[data-page={name}]")
            page.screenshot(path=shot(f"5-{name}"), full_page=False)
            assert page.evaluate(LOW_CONTRAST_JS) == [], (device, view)
            assert no_sideways_scroll(page), (device, view)
        expect(page.locator("#voices-table tbody tr")).to_have_count(2)
        page.goto(f"{world['base']}/#/alerts/{delivered.id}")  # one alert, by its link
        expect(page.locator(f"article[data-alert='{delivered.id}']")).to_contain_text("acknowledged by Ana Ruiz")
        expect(page.locator("#alert-list article")).to_have_count(0)

        # the chart: click a bar for its posts, drag across bars to zoom (the range goes into the URL)
        page.goto(link)
        over = page.locator(".chart-box .u-over")
        expect(over).to_have_count(1)
        assert page.evaluate(LOW_CONTRAST_JS) == [], device
        over.scroll_into_view_if_needed()
        box = over.bounding_box()
        assert box is not None
        x_of = lambda minute: box["x"] + box["width"] * (minute + 0.5) / 105  # noqa: E731 - 09:00-10:45, 1-minute bars
        page.mouse.click(x_of(80), box["y"] + box["height"] - 5)  # 10:20, alice's post
        expect(page.locator("#picked")).to_contain_text("Acme flight DELAYED again at gate 4")
        assert "at=" in page.url
        over.scroll_into_view_if_needed()
        box = over.bounding_box()
        assert box is not None
        page.mouse.move(x_of(75), box["y"] + 20)
        page.mouse.down()
        page.mouse.move(x_of(90), box["y"] + 20, steps=5)
        page.mouse.up()
        expect(page.locator("#range-text")).to_contain_text("10:15 UTC – 2026-03-02 10:3")
        assert "from=2026-03-02T10%3A15Z" in page.url or "from=2026-03-02T10:15Z" in page.url
        browser.close()
    assert not errors, errors

    # 5. the incident is acknowledged where `hypermicro alerts` reads it, and paging stopped
    out = CliRunner().invoke(alerts_app, ["list", "incidents", "--state-dir", str(world["state"])])
    line = next(x for x in out.output.splitlines() if delivered.incident_id in x)  # (status is on the wall clock:
    assert out.exit_code == 0 and "acked by Ana Ruiz" in line                    #  this March data reads "closed")
    assert dispatcher.submit_sync(spike(31, 8)) is None  # the same spike, a little more: no page
    assert len(receiver.requests) == 1
