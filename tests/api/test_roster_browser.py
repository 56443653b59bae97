"""The relationships loop in headless Chromium: from a rising-voice alert, add the voice to the
roster, accept the suggested owner, move it to ``listening``, log an interaction, and see all of
it in that owner's digest.  Screenshots under artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace

import pytest

from pipeline.core.clock import utc_now
from pipeline.core.schema import BrandMention, EnrichedPost, RawPost, Sentiment, TopicTag
from pipeline.detect.voice_digest import digest_alerts
from pipeline.storage.backend import ChdbBackend
from pipeline.storage.migrate import migrate
from pipeline.storage.repository import Repository
from tests.api.conftest import api_settings, serve
from tests.api.test_alerts_browser import ARGS, CHROMIUM, SHOTS, _voice
from tests.ports import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ANA = "ana-ruiz-key-0123456789"


def _posts() -> list[EnrichedPost]:
    now = utc_now(whole_seconds=True)
    out = []
    for i, (topic, label) in enumerate([("delays", "negative"), ("delays", "neutral"), ("food", "positive")]):
        post = RawPost.model_validate({
            "id": f"p{i}", "source": "bluesky", "created_at": (now - timedelta(hours=3 - i)).isoformat(),
            "text": f"acme post {i} about {topic}", "url": f"https://bsky.app/p{i}",
            "author": {"id": "90010", "handle": "voice0", "display_name": "Voice Zero"}})
        out.append(EnrichedPost(post=post, sentiment=Sentiment(label=label, score=0.0),
                                brands=[BrandMention(brand_id="acme", matched_text="acme", start=0, end=4, rule="name",
                                                     sentiment=label)],
                                topics=[TopicTag(topic_id=topic, score=0.9)], kafka_partition=0, kafka_offset=i))
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from pipeline.api.app import create_api

    tmp = tmp_path_factory.mktemp("roster")
    ch = ChdbBackend(tmp / "chdb", "hypermicro")
    migrate(ch)
    repo = Repository(ch)
    repo.insert_posts(_posts())
    rising = _voice("90010", "voice0", utc_now(whole_seconds=True), 6, 9.0)
    repo.insert_alerts(digest_alerts([rising], "http://dash"))
    repo.replace_voices("*", [SimpleNamespace(author_id="90010", handle="voice0", score=9.0, growth=2.0, reach=0.5,
                                              resonance=0.5, relevance=0.9, reasons=["6 people replied"])])
    people = tmp / "people.yaml"
    people.write_text("people:\n  - {name: Ana Ruiz, topics: [delays], digest: daily}\n"
                      "  - {name: pr-desk, brands: [], topics: [food]}\n", encoding="utf-8")
    port = free_port()
    settings = api_settings(tmp, api_port=port, people_file=people,
                            api_tokens=[{"name": "Ana Ruiz", "token": ANA, "scope": "act"}])
    with serve(create_api(lambda: repo, settings), port) as base:
        yield base
    ch.close()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium missing: deploy/local/browser.sh install")
def test_from_rising_voice_alert_to_the_owners_digest(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server + "/#/alerts")
        expect(page.locator("#token-dialog")).to_be_visible()  # reads need a key once keys exist
        page.fill("#token-input", ANA)
        page.click("#token-save")
        add = page.locator("#alert-list article button.roster-add[data-handle='voice0']")
        expect(add).to_have_count(1)
        page.screenshot(path=str(SHOTS / "roster-1-rising-voice-alert.png"), full_page=True)
        add.click()
        card = page.locator("#voice-card")
        expect(card).to_have_attribute("data-voice", "bluesky:90010")
        expect(page.locator("#voice-suggested")).to_have_text("Ana Ruiz")  # 2 of its posts are about delays
        expect(card).to_contain_text("2 posts about delays")
        expect(page.locator("#voice-posts li")).to_have_count(3)
        expect(page.locator("#voice-posts")).to_contain_text("acme: negative")
        page.screenshot(path=str(SHOTS / "roster-2-voice-profile-suggested-owner.png"), full_page=True)
        page.click("#accept-suggestion")
        expect(page.locator("#voice-owner")).to_have_text("Ana Ruiz")
        page.goto(server + "/#/posts")  # ... and so does each post's author in the mentions view
        page.locator("li.post button.roster-add[data-account='bluesky:90010']").first.click()
        expect(page.locator("#voice-card")).to_have_attribute("data-voice", "bluesky:90010")
        page.select_option("#voice-stage", "listening")
        expect(page.locator("#voice-history li[data-action='stage']")).to_contain_text("moved discovered → listening")
        page.select_option("#interaction-kind", "replied")
        page.fill("#interaction-note", "thanked them for the delay thread")
        page.click("#interaction-form button")
        expect(page.locator("#voice-history li[data-action='interaction']")).to_contain_text(
            "replied: thanked them for the delay thread")
        page.screenshot(path=str(SHOTS / "roster-3-owner-stage-interaction.png"), full_page=True)
        page.goto(server + "/#/roster-digest/Ana%20Ruiz")
        digest = page.locator("#digest")
        expect(digest).to_contain_text("Your 1 voice")
        expect(digest).to_contain_text("Ana Ruiz made Ana Ruiz the owner of @voice0")
        expect(digest).to_contain_text("Ana Ruiz moved @voice0 to listening")
        expect(digest).to_contain_text("Ana Ruiz replied @voice0: thanked them for the delay thread")
        expect(digest).to_contain_text("Turned negative: @voice0 about acme")
        page.screenshot(path=str(SHOTS / "roster-4-owner-digest.png"), full_page=True)
        page.goto(server + "/#/roster")
        expect(page.locator("#roster-table tr[data-voice='bluesky:90010']")).to_contain_text("listening")
        page.screenshot(path=str(SHOTS / "roster-5-roster.png"), full_page=True)
        page.goto(server + "/#/voices")  # the emerging-voices view offers the same; a rostered voice opens its profile
        page.click("#voices-table button.roster-add[data-handle='voice0']")
        expect(page.locator("#voice-owner")).to_have_text("Ana Ruiz")
        page.goto(server + "/#/posts")  # ... and so does each post's author in the mentions view
        page.locator("li.post button.roster-add[data-account='bluesky:90010']").first.click()
        expect(page.locator("#voice-card")).to_have_attribute("data-voice", "bluesky:90010")
        browser.close()
    assert not errors, errors
