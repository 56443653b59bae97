"""The alerts view in headless Chromium: a flood of rising-voice information arrives after a
critical negative spike; the spike is shown first and the voices read as one plain digest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.core.schema import Alert
from pipeline.detect.voice_digest import digest_alerts
from pipeline.detect.voices import RisingVoice
from pipeline.storage.backend import ChdbBackend
from pipeline.storage.migrate import migrate
from pipeline.storage.repository import Repository
from tests.api.conftest import ADMIN_TOKEN, api_settings, serve
from tests.ports import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _voice(author_id: str, handle: str, at: datetime, people: int, score: float) -> RisingVoice:
    facts = {"people_reply": people, "people_mention": 2, "usual_per_h": 1 / 24, "followers": 1200,
             "source": "bluesky", "surprise": 9.3, "p_value": 5e-10}
    return RisingVoice(author_id=author_id, handle=handle, subject="acme", score=score, at=at,
                       reasons=[], facts=facts)


def _alerts() -> list[Alert]:
    spike = Alert.model_validate({
        "id": "spike-1", "kind": "negative_spike", "severity": "critical", "observed": 48, "expected": 6,
        "score": 2.4, "subject": {"kind": "brand", "id": "acme", "brand_id": "acme"},
        "window": {"start": T0, "end": T0 + timedelta(minutes=1)},
        "explanation": "48 negative posts about acme in one minute; usually 6", "created_at": T0,
    })
    voices = [_voice(f"9001{i}", f"voice{i}", T0 + timedelta(minutes=2 + i // 3), 5 + i, 10.0 - i) for i in range(17)]
    digests = digest_alerts(voices, "http://dash")
    for i, d in enumerate(digests):  # stored after the spike, as they would arrive
        d.created_at = T0 + timedelta(minutes=3 + i)
    return [spike, *digests]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from pipeline.api.app import create_api

    tmp = tmp_path_factory.mktemp("alerts")
    ch = ChdbBackend(tmp / "chdb", "hypermicro")
    migrate(ch)
    repo = Repository(ch)
    repo.insert_alerts(_alerts())
    port = free_port()
    with serve(create_api(lambda: repo, api_settings(tmp, api_port=port)), port) as base:
        yield base
    ch.close()


def test_seventeen_voices_make_one_digest_and_the_spike_comes_first() -> None:
    digests = _alerts()[1:]
    assert len(digests) == 1  # seventeen rising voices within 30 minutes: one digest
    text = digests[0].explanation
    assert text.startswith("17 rising voices about acme in the last 30 min:")
    assert "- @voice0 (1.2k followers): 7 people replied to or mentioned them in the last 30 minutes; " \
           "they usually get about 1 a day. https://bsky.app/profile/voice0" in text
    assert "@voice9 " in text and "@voice10 " not in text and "…and 7 more" in text  # ten written out
    assert len(digests[0].evidence.authors) == 17
    assert "9001" not in text and "p~" not in text and "e-10" not in text
    assert digests[0].evidence.details["voices"][0]["p_value"] == 5e-10


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium missing: deploy/local/browser.sh install")
def test_alerts_view_shows_the_spike_before_the_voices_digest(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server + "/#/alerts")
        expect(page.locator("#token-dialog")).to_be_visible()
        page.fill("#token-input", ADMIN_TOKEN)
        page.click("#token-save")
        cards = page.locator("#alert-list article")
        expect(cards).to_have_count(2)
        assert cards.nth(0).get_attribute("data-alert") == "spike-1"
        expect(cards.nth(0)).to_contain_text("critical")
        digest = cards.nth(1)
        expect(digest).to_contain_text("rising voices · acme")
        expect(digest).to_contain_text("17 rising voices about acme in the last 30 min")
        expect(digest).to_contain_text("@voice0 (1.2k followers): 7 people replied to or mentioned them")
        expect(digest.locator("a[href='https://bsky.app/profile/voice0']")).to_have_count(1)
        expect(digest).not_to_contain_text("9001")
        expect(digest).not_to_contain_text("expected")
        page.screenshot(path=str(SHOTS / "alerts-spike-and-voices-digest.png"), full_page=True)
        browser.close()
    assert not errors, errors
