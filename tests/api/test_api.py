"""The HTTP API over a seeded chDB: figures, auth scopes, acknowledgement, validation, metrics, health."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import create_api
from pipeline.api.params import Cursor
from pipeline.storage.backend import StorageError
from pipeline.storage.repository import Repository
from tests.api.conftest import admin_headers, api_settings, read_headers, row_counts

V1 = "/api/v1"
RANGE = {"from": "2026-03-02T09:00:00Z", "to": "2026-03-02T12:00:00Z"}


@pytest.fixture
def client(seeded_repo: Repository, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_api(lambda: seeded_repo, api_settings(tmp_path))) as c:
        yield c


def get(client: TestClient, path: str, **params: Any) -> Any:
    r = client.get(V1 + path, params=params, headers=read_headers())
    assert r.status_code == 200, r.text
    return r.json()


# -- figures ---------------------------------------------------------------------------------
def test_brands_lists_configured_brands_with_recent_mentions(client: TestClient) -> None:
    items = {b["id"]: b for b in get(client, "/brands")["items"]}
    assert list(items) == ["acme", "rival"]
    assert items["acme"]["competitors"] == ["rival"]
    assert (items["acme"]["mentions_24h"], items["acme"]["negative_24h"]) == (11, 5)
    assert items["rival"]["mentions_24h"] == 6


def test_overview_series_totals_and_share_of_voice(client: TestClient) -> None:
    o = get(client, "/brands/acme/overview", interval="1h", **RANGE)
    assert o["interval_s"] == 3600
    assert [(p["t"], p["total"], p["negative"], p["positive"], p["neutral"]) for p in o["series"]] == [
        ("2026-03-02T09:00:00Z", 0, 0, 0, 0),
        ("2026-03-02T10:00:00Z", 8, 5, 2, 1),  # redelivered a1-a3 are not double counted
        ("2026-03-02T11:00:00Z", 3, 0, 3, 0),
    ]
    assert o["series"][1]["net_sentiment"] == pytest.approx((2 - 5) / 8, abs=1e-4)
    assert o["series"][0]["net_sentiment"] is None
    assert o["totals"]["mentions"] == 11 and o["totals"]["negative_share"] == pytest.approx(5 / 11, abs=1e-4)
    sov = {r["brand"]: r for r in o["share_of_voice"]}
    assert (sov["acme"]["mentions"], sov["rival"]["mentions"]) == (11, 6)
    assert sov["acme"]["share"] == pytest.approx(11 / 17, abs=1e-4)


def test_overview_over_partial_hours_adds_minute_edges_to_whole_hours(client: TestClient) -> None:
    """Whole hours come from the hourly rollup, partial hours from minutes: the sum is exact."""
    o = get(client, "/brands/acme/overview", interval="1h", **{"from": "2026-03-02T10:21:00Z", "to": "2026-03-02T11:12:00Z"})
    assert [(p["t"], p["total"], p["negative"], p["positive"], p["neutral"]) for p in o["series"]] == [
        ("2026-03-02T10:00:00Z", 7, 4, 2, 1),  # a2-a7 and x1 (a1 at 10:20 is before the range)
        ("2026-03-02T11:00:00Z", 1, 0, 1, 0),  # a8 at 11:10; a9 at 11:12 is at the exclusive end
    ]
    wide = get(client, "/brands/acme/overview", interval="6h", **{"from": "2026-03-02T09:30:00Z", "to": "2026-03-02T11:30:00Z"})
    assert wide["totals"]["mentions"] == 11 and wide["totals"]["negative"] == 5
    assert {r["brand"]: r["mentions"] for r in wide["share_of_voice"]} == {"acme": 11, "rival": 6}
    fine = get(client, "/brands/acme/overview", interval="15m", **RANGE)
    assert sum(p["total"] for p in fine["series"]) == 11


def test_overview_defaults_end_at_newest_data(client: TestClient) -> None:
    o = get(client, "/brands/acme/overview")
    assert o["to"] == "2026-03-02T11:15:00Z" and o["from"] == "2026-03-01T11:15:00Z"
    assert o["totals"]["mentions"] == 11 and len(o["series"]) <= 200


def test_overview_unknown_brand_is_404(client: TestClient) -> None:
    r = client.get(V1 + "/brands/nobody/overview", headers=read_headers())
    assert r.status_code == 404 and r.json()["error"] == "unknown brand"


def test_trending_ranks_by_velocity_with_terms_and_samples(client: TestClient) -> None:
    t = get(client, "/conversations/trending", brand="acme", window="1h")
    assert (t["from"], t["to"]) == ("2026-03-02T10:15:00Z", "2026-03-02T11:15:00Z")
    got = [(c["conversation_id"], c["recent"], c["previous"], c["velocity"], c["acceleration"]) for c in t["items"]]
    assert got == [("c-new", 3, 0, 6.0, 6.0), ("c-delay", 1, 4, 2.0, -6.0)]
    delay = t["items"][1]
    assert delay["label"] == "flight delays" and delay["key_terms"] == ["delayed", "gate", "flight"]
    assert len(delay["sample_posts"]) == 3 and all("acme" in p["text"].lower() for p in delay["sample_posts"])
    food = get(client, "/conversations/trending", topic="food", window="6h")["items"]
    assert [(c["conversation_id"], c["posts"]) for c in food] == [("c-food", 5)]
    both = get(client, "/conversations/trending", brand="acme", topic="delays", window="6h")["items"]
    assert [(c["conversation_id"], c["posts"]) for c in both] == [("c-delay", 5), ("c-new", 3)]


def test_voices_show_only_the_latest_snapshot(client: TestClient) -> None:
    v = get(client, "/voices", subject="acme")
    assert v["snapshot_at"] == "2026-03-02T12:00:00Z"
    assert [(r["rank"], r["handle"], r["score"]) for r in v["items"]] == [(1, "erin", 5.0), (2, "carol", 4.0)]
    assert v["items"][0]["reasons"][0].startswith("erin:")
    assert get(client, "/voices", subject="nobody")["items"] == []


def test_alerts_filters(client: TestClient) -> None:
    # most severe first (a critical spike is never buried under newer information), then newest
    assert [a["id"] for a in get(client, "/alerts")["items"]] == ["al-1", "al-2", "al-3"]
    assert [a["id"] for a in get(client, "/alerts", brand="acme")["items"]] == ["al-1", "al-3"]
    assert [a["id"] for a in get(client, "/alerts", kind="rising_voice")["items"]] == ["al-3"]
    assert [a["id"] for a in get(client, "/alerts", severity="critical")["items"]] == ["al-1"]
    assert [a["id"] for a in get(client, "/alerts", **{"from": "2026-03-02T10:35:00Z"})["items"]] == ["al-2", "al-3"]
    first = get(client, "/alerts", limit=2)
    assert [a["id"] for a in first["items"]] == ["al-1", "al-2"] and first["next_cursor"]
    rest = get(client, "/alerts", limit=2, cursor=first["next_cursor"])
    assert [a["id"] for a in rest["items"]] == ["al-3"] and rest["next_cursor"] is None
    one = get(client, "/alerts", limit=1)
    two = get(client, "/alerts", limit=1, cursor=one["next_cursor"])
    assert [one["items"][0]["id"], two["items"][0]["id"]] == ["al-1", "al-2"]
    a1 = first["items"][0]
    assert a1["subject"]["id"] == "acme" and a1["incident_id"] == "inc-1" and a1["acknowledged"] is False


def test_post_search_filters_and_cursor_pagination(client: TestClient) -> None:
    neg = get(client, "/posts", brand="acme", sentiment="negative")["items"]
    assert sorted(p["id"] for p in neg) == ["test:a1", "test:a2", "test:a3", "test:a4", "test:x1"]
    # sentiment toward rival in x1 is positive even though the post is negative overall
    assert [p["id"] for p in get(client, "/posts", brand="rival", sentiment="positive")["items"]] == ["test:x1"]
    assert [p["id"] for p in get(client, "/posts", language="fr")["items"]] == ["test:a4"]
    assert [p["id"] for p in get(client, "/posts", author="dave")["items"]] == ["test:a4"]
    assert {p["id"] for p in get(client, "/posts", q="DELAYED")["items"]} == {"test:a1", "test:a2", "test:a3", "test:x1"}
    assert [p["id"] for p in get(client, "/posts", q="retardé")["items"]] == ["test:a4"]
    assert get(client, "/posts", topic="food", **{"from": "2026-03-02T10:25:00Z", "to": "2026-03-02T10:31:00Z"})[
        "items"][-1]["id"] == "test:a6"
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = get(client, "/posts", limit=4, **({"cursor": cursor} if cursor else {}))
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 16  # 11 acme-only/x1 + 5 rival, redeliveries deduplicated


def test_post_search_for_a_backslash(client: TestClient) -> None:
    r = client.get(V1 + "/posts", params={"q": "\\"}, headers=read_headers())
    assert r.status_code == 200 and r.json()["items"] == []


# -- auth ------------------------------------------------------------------------------------
def test_read_and_admin_scopes(client: TestClient) -> None:
    r = client.get(V1 + "/alerts")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer" and r.json()["error"]
    assert client.get(V1 + "/alerts", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get(V1 + "/alerts", headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.get(V1 + "/alerts", headers=admin_headers()).status_code == 200  # admin implies read
    r = client.post(V1 + "/alerts/al-1/ack", headers=read_headers())
    assert r.status_code == 403 and "act" in r.json()["detail"]  # acknowledging needs the act scope
    assert client.post(V1 + "/alerts/al-1/ack").status_code == 401
    me = client.get(V1 + "/me", headers=admin_headers()).json()
    assert me["scopes"] == ["act", "admin", "read"] and me["principal"].startswith("token:")
    assert client.get("/health").status_code == 200 and client.get("/metrics").status_code == 200


@pytest.mark.parametrize(("host", "open_read"), [("127.0.0.1", True), ("0.0.0.0", False)])
def test_no_tokens_open_reads_only_on_loopback(seeded_repo: Repository, tmp_path: Path, host: str,
                                               open_read: bool) -> None:
    settings = api_settings(tmp_path, api_read_tokens=[], api_admin_tokens=[], api_host=host)
    with TestClient(create_api(lambda: seeded_repo, settings)) as c:
        assert c.get(V1 + "/alerts").status_code == (200 if open_read else 401)
        assert c.post(V1 + "/alerts/al-1/ack").status_code == 401  # admin always needs a token
        assert c.get(V1 + "/me").json()["open_read"] is open_read


async def test_awaitable_repo_provider(seeded_repo: Repository, tmp_path: Path) -> None:
    async def provider() -> Repository:
        return seeded_repo

    with TestClient(create_api(provider, api_settings(tmp_path))) as c:
        assert c.get(V1 + "/voices", params={"subject": "acme"}, headers=read_headers()).json()["items"]


# -- acknowledgement -------------------------------------------------------------------------
def test_ack_flow(client: TestClient, seeded_repo: Repository) -> None:
    assert "al-1" in [a["id"] for a in get(client, "/alerts", acknowledged="false")["items"]]
    r = client.post(V1 + "/alerts/al-1/ack", json={"by": "Dana", "note": "on it"}, headers=admin_headers())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["acknowledged"] is True and body["ack"]["note"] == "on it"
    assert body["ack"]["by"].startswith("Dana (token:")
    assert [a["id"] for a in get(client, "/alerts", acknowledged="true")["items"]] == ["al-1"]
    assert "al-1" not in [a["id"] for a in get(client, "/alerts", acknowledged="false")["items"]]
    acks = seeded_repo.ch.query("SELECT incident_id, alert_id FROM alert_acks")
    assert acks == [{"incident_id": "inc-1", "alert_id": "al-1"}]
    assert client.post(V1 + "/alerts/al-2/ack", headers=admin_headers()).json()["acknowledged"] is True
    r = client.post(V1 + "/alerts/nope/ack", headers=admin_headers())
    assert r.status_code == 404 and r.json()["error"] == "unknown alert"


# -- validation and injection sweep ------------------------------------------------------------
PAYLOADS = [
    "' OR 1=1 --", '"; DROP TABLE posts; --', "acme') OR ('1'='1", "x\x00y", "\x00", "ünïcødé 🚀 ✈", "A" * 10_000,
    "-1", "0", "99999999999999999999999", "1e309", "2026-13-45T99:00:00", "not-a-date", "null", "../../etc/passwd",
    "%00", "{q:String}", "%(q)s", "\t\n", "",
]
# endpoint -> parameters it takes
ENDPOINTS: dict[str, list[str]] = {
    "/brands": [],
    "/brands/acme/overview": ["from", "to", "interval"],
    "/conversations/trending": ["brand", "topic", "window", "limit"],
    "/voices": ["subject", "limit"],
    "/alerts": ["kind", "brand", "severity", "from", "to", "acknowledged", "limit", "cursor"],
    "/posts": ["brand", "topic", "sentiment", "language", "author", "from", "to", "q", "limit", "cursor"],
}


def _clean(r: Any) -> None:
    assert r.status_code < 500, (r.request.url, r.status_code, r.text[:300])
    if r.status_code >= 400:
        body = r.json()
        assert isinstance(body["error"], str) and body["error"] and "detail" in body
        assert len(r.text) < 5000  # input is not echoed back


def test_injection_and_malformed_input_sweep(client: TestClient, seeded_repo: Repository) -> None:
    before = row_counts(seeded_repo.ch)
    statuses: dict[int, int] = {}
    for path, params in ENDPOINTS.items():
        for param in params:
            for payload in PAYLOADS:
                r = client.get(V1 + path, params={param: payload}, headers=admin_headers())
                _clean(r)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                if r.status_code == 200 and param in ("q", "brand", "topic", "author", "subject"):
                    items = r.json()["items"]
                    assert items == [], (path, param, payload)  # nothing matches junk, nothing leaks
    for payload in PAYLOADS:  # path parameters, percent-encoded (a raw NUL is not a valid URL)
        seg = quote(payload, safe="")
        for method, path in (("GET", f"/brands/{seg}/overview"), ("POST", f"/alerts/{seg}/ack")):
            _clean(client.request(method, V1 + path, headers=admin_headers()))
        _clean(client.post(V1 + "/alerts/al-1/ack", json={"note": payload[:2000], "by": payload[:200]},
                           headers=admin_headers()))
    for body in ("{", "[]", '{"note": 5}', '{"note": "' + "x" * 3000 + '"}'):
        r = client.post(V1 + "/alerts/al-2/ack", content=body, headers={**admin_headers(), "Content-Type": "application/json"})
        assert r.status_code == 422, body
        _clean(r)
    for token in ("' OR 1=1 --", "\u00fc" * 50, "x" * 10_000):
        r = client.get(V1 + "/alerts", headers={"Authorization": f"Bearer {token}".encode()})
        assert r.status_code == 401
    after = row_counts(seeded_repo.ch)
    assert {k: v for k, v in after.items() if k != "alert_acks"} == {k: v for k, v in before.items() if k != "alert_acks"}
    assert statuses.get(422, 0) > 100


@pytest.mark.parametrize(("path", "params", "message"), [
    ("/posts", {"limit": "0"}, "limit"), ("/posts", {"limit": "501"}, "limit"), ("/alerts", {"limit": "-5"}, "limit"),
    ("/posts", {"from": "2026-03-02T12:00:00Z", "to": "2026-03-02T10:00:00Z"}, "from"),
    ("/brands/acme/overview", {"from": "2026-01-01T00:00:00Z", "to": "2026-06-01T00:00:00Z"}, "to"),
    ("/brands/acme/overview", {"from": "1900-01-01T00:00:00Z"}, "from"),
    ("/brands/acme/overview", {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z", "interval": "1m"}, "interval"),
    ("/posts", {"cursor": "bm90IGEgY3Vyc29y"}, "cursor"), ("/posts", {"cursor": "!!!"}, "cursor"),
    ("/posts", {"sentiment": "angry"}, "sentiment"), ("/alerts", {"severity": "apocalyptic"}, "severity"),
    ("/conversations/trending", {"window": "3y"}, "window"), ("/posts", {"q": "a\x00b"}, "q"),
    ("/posts", {"language": "english please"}, "language"),
])
def test_invalid_parameters_name_the_parameter(client: TestClient, path: str, params: dict[str, str], message: str) -> None:
    r = client.get(V1 + path, params=params, headers=read_headers())
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid request" and any(d["param"] == message for d in body["detail"])


def test_cursor_round_trip_is_opaque_and_validated() -> None:
    from datetime import UTC, datetime

    c = Cursor(datetime(2026, 3, 2, 10, tzinfo=UTC), "test:a1")
    assert Cursor.decode(c.encode()) == c
    assert "test" not in c.encode()


# -- ops -------------------------------------------------------------------------------------
def test_metrics_count_requests_by_route(client: TestClient) -> None:
    get(client, "/posts", brand="acme")
    client.get(V1 + "/posts", params={"limit": "0"}, headers=read_headers())
    text = client.get("/metrics").text
    assert 'hypermicro_api_requests_total{method="GET",route="/api/v1/posts",status="200"}' in text
    assert 'hypermicro_api_requests_total{method="GET",route="/api/v1/posts",status="422"}' in text
    assert 'hypermicro_api_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/posts"}' in text


def test_health_reports_clickhouse(client: TestClient, tmp_path: Path) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["clickhouse"]["backend"] == "chdb"

    def broken() -> Repository:
        raise StorageError("clickhouse server unreachable: connection refused")

    with TestClient(create_api(broken, api_settings(tmp_path))) as c:
        r = c.get("/health")
        assert r.status_code == 503 and r.json()["status"] == "unavailable"
        r = c.get(V1 + "/voices", headers=read_headers())
        assert r.status_code == 503 and r.json()["error"] == "storage unavailable"


def test_openapi_docs_and_dashboard_are_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/api/v1/posts", "/api/v1/alerts/{alert_id}/ack", "/api/v1/brands/{brand_id}/overview"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    js = client.get("/static/app.js").text
    assert "http://" not in js.replace("http://www.w3.org/2000/svg", "") and "https://" not in js  # no CDN
    assert client.get("/nope").json()["error"] == "not found"
