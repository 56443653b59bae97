"""Rising voices in plain words: one digest per subject and 30 minutes, @handles and links,
the usual pace in words, statistics only in ``details`` (also in Slack and e-mail renderings)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.alerts.render import email_bodies, email_subject, slack_payload, summary_line
from pipeline.detect.voice_digest import digest_alerts, profile_url, usual_pace, why
from pipeline.detect.voices import RisingVoice

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def rv(author_id: str, handle: str, subject: str, minute: int, score: float = 5.0, **facts: float | str) -> RisingVoice:
    base = {"people_reply": 9.0, "people_mention": 3.0, "usual_per_h": 1 / 24, "followers": 850,
            "source": "mastodon", "surprise": 12.0, "p_value": 1e-12}
    return RisingVoice(author_id=author_id, handle=handle, subject=subject, score=score,
                       at=T0 + timedelta(minutes=minute), reasons=[], facts={**base, **facts})


def test_why_counts_people_against_the_usual_pace() -> None:
    facts = {"handle": "maria_k", "author_id": "1234", "people_reply": 12, "usual_per_h": 1 / 24}
    assert why(facts) == ("12 people replied to @maria_k in the last 30 minutes; "
                          "@maria_k usually gets about 1 a day")
    assert usual_pace(0.001) == "almost none" and usual_pace(0.5) == "about 12 a day"
    assert usual_pace(6.0) == "about 6 an hour"
    nameless = why({"author_id": "98765", "people_mention": 1})
    assert "98765" not in nameless and nameless.startswith("1 person mentioned an account without a known handle")


def test_profile_links_by_source_and_the_dashboard_otherwise() -> None:
    assert profile_url("mastodon", "ann@social.example", "1", "http://d", "acme") == "https://social.example/@ann"
    assert profile_url("bluesky", "bob.bsky.social", "2", "http://d", "acme") == "https://bsky.app/profile/bob.bsky.social"
    assert profile_url("synthetic", "cy", "3", "http://d/", "acme") == "http://d/#/voices?subject=acme"


def test_one_digest_per_subject_and_window_and_no_repeat_under_everything() -> None:
    voices = [rv("11", "ann@social.example", "acme", 1, 9.0), rv("12", "bob", "acme", 20, 4.0),
              rv("11", "ann@social.example", "*", 1, 9.0), rv("13", "cy", "*", 5),
              rv("14", "dee", "acme", 40)]  # the next 30-minute window
    alerts = digest_alerts(voices, "http://dash")
    assert [(a.subject.id, a.observed) for a in alerts] == [("voices:*", 1.0), ("voices:acme", 2.0),
                                                            ("voices:acme", 1.0)]
    acme = alerts[1]
    lines = acme.explanation.splitlines()
    assert lines[0] == "2 rising voices about acme in the last 30 min:"
    assert lines[1].startswith("- @ann@social.example (850 followers): 12 people replied to or mentioned them")
    assert lines[1].endswith("https://social.example/@ann")  # best first, with a link to the voice
    assert acme.evidence.authors == ["@ann@social.example", "@bob"]
    assert acme.evidence.details["voices"][0]["p_value"] == 1e-12
    assert "1e-12" not in acme.explanation and "11" not in acme.explanation.replace("@", " ").split()
    # the same subject and window later, with one more voice: the same digest id (an update)
    again = digest_alerts([*voices[:2], rv("15", "eve", "acme", 25)], "http://dash")
    assert again[0].id == acme.id and again[0].observed == 3.0


def test_channels_render_the_digest_in_its_own_words() -> None:
    digest = digest_alerts([rv("11", "ann", "acme", 1), rv("12", "bob", "acme", 3)], "http://dash")[0]
    assert summary_line(digest) == "INFO 2 rising voices about acme in the last 30 min"
    assert email_subject(digest) == "[hypermicro] INFO 2 rising voices about acme in the last 30 min"
    text, html = email_bodies(digest, "http://dash")
    slack = str(slack_payload(digest, "http://dash"))
    for body in (text, html, slack):
        assert "xpected" not in body and "no baseline" not in body and "1e-" not in body
        assert "@ann" in body
