"""All-brands health and the brand view's *why* over the seeded world (see tests/api/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import create_api
from pipeline.storage.repository import Repository
from tests.api.conftest import api_settings, enriched, read_headers

V1 = "/api/v1"
HOUR_10 = {"from": "2026-03-02T10:00:00Z", "to": "2026-03-02T11:00:00Z"}
HOUR_11 = {"from": "2026-03-02T11:00:00Z", "to": "2026-03-02T12:00:00Z"}


@pytest.fixture
def client(seeded_repo: Repository, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_api(lambda: seeded_repo, api_settings(tmp_path))) as c:
        yield c


def get(client: TestClient, path: str, **params: Any) -> Any:
    r = client.get(V1 + path, params=params, headers=read_headers())
    assert r.status_code == 200, r.text
    return r.json()


def test_health_compares_with_the_previous_period_and_puts_trouble_first(client: TestClient) -> None:
    items = get(client, "/brands", **HOUR_10)["items"]
    assert [b["id"] for b in items] == ["acme", "rival"]  # acme: 5 more negative mentions than before
    acme = items[0]
    assert (acme["mentions"], acme["negative"], acme["negative_share"]) == (8, 5, 0.625)
    assert acme["previous"] == {"mentions": 0, "negative": 0, "negative_share": None}
    assert acme["change"]["negative"] == 5 and acme["owner"] == "comms-acme@example.com"
    later = get(client, "/brands", **HOUR_11)["items"]
    assert [b["id"] for b in later] == ["rival", "acme"]  # acme's negatives went away: no longer on top
    assert later[1]["previous"]["negative"] == 5 and later[1]["change"]["negative"] == -5
    assert later[1]["change"]["mentions"] == round((3 - 8) / 8, 4)


def test_why_shows_negative_posts_sources_conversations_and_voices(client: TestClient) -> None:
    why = get(client, "/brands/acme/why", **HOUR_10)
    posts = why["top_negative_posts"]
    assert {p["id"] for p in posts} == {f"test:{i}" for i in ("a1", "a2", "a3", "a4", "x1")}  # redelivered a1-a3 once each
    first = posts[0]
    assert first["author"]["handle"] and first["url"].startswith("https://example.org/") and first["reach"] == 100
    assert first["sentiment"] == "negative" and first["text"]
    assert why["sources"] == [{"source": "test", "mentions": 8, "negative": 5, "negative_share": 0.625}]
    (conv,) = why["conversations"]  # c-new is later; rival's c-food is not acme's
    assert (conv["conversation_id"], conv["label"], conv["posts"], conv["negative"]) == ("c-delay", "flight delays", 5, 5)
    assert conv["negative_share"] == 1.0
    assert [v["handle"] for v in why["voices"]] == ["erin", "carol"]
    assert client.get(V1 + "/brands/nope/why", headers=read_headers()).status_code == 404


def test_why_terms_set_the_range_apart_from_the_week_before(client: TestClient, seeded_repo: Repository) -> None:
    usual = [enriched(f"b{i}", -60 * 24 - i, {"acme": "neutral"}, [], "", f"u{i}", f"acme lounge and snacks {i}", "en")
             for i in range(20)]
    seeded_repo.insert_posts(usual)
    terms = get(client, "/brands/acme/why", **HOUR_10)["terms"]
    assert terms and terms[0] == "delayed" and "acme" not in terms and "snacks" not in terms


def test_one_alert_by_id(client: TestClient) -> None:
    assert get(client, "/alerts/al-1")["subject"]["brand_id"] == "acme"
    assert client.get(V1 + "/alerts/nope", headers=read_headers()).status_code == 404
