"""The same endpoints against the local clickhouse-server (Debian's 18.16): the SQL must run there too."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.api.app import create_api
from pipeline.storage.backend import DriverBackend
from pipeline.storage.migrate import migrate
from pipeline.storage.repository import Repository
from tests.api.conftest import admin_headers, api_settings, read_headers, seed

pytestmark = pytest.mark.chserver
V1 = "/api/v1"


@pytest.fixture
def server_client(clickhouse_server: tuple[str, int], tmp_path: Path) -> Iterator[TestClient]:
    host, port = clickhouse_server
    ch = DriverBackend(host, port, "hm_api_" + uuid.uuid4().hex[:8])
    try:
        migrate(ch)
        repo = Repository(ch)
        seed(repo)
        settings = api_settings(tmp_path, clickhouse_backend="server")
        with TestClient(create_api(lambda: repo, settings)) as c:
            yield c
    finally:
        ch.execute(f"DROP DATABASE IF EXISTS {ch._database}")  # type: ignore[attr-defined]
        ch.close()


def test_endpoints_on_clickhouse_server(server_client: TestClient) -> None:
    c, h = server_client, read_headers()
    o = c.get(V1 + "/brands/acme/overview", params={"from": "2026-03-02T09:00:00Z", "to": "2026-03-02T12:00:00Z",
                                                    "interval": "1h"}, headers=h).json()
    assert [(p["total"], p["negative"]) for p in o["series"]] == [(0, 0), (8, 5), (3, 0)]
    assert {r["brand"]: r["mentions"] for r in o["share_of_voice"]} == {"acme": 11, "rival": 6}
    neg = c.get(V1 + "/posts", params={"brand": "acme", "sentiment": "negative", "limit": 3}, headers=h).json()
    assert [p["id"] for p in neg["items"]] == ["test:x1", "test:a4", "test:a3"] and neg["next_cursor"]
    more = c.get(V1 + "/posts", params={"brand": "acme", "sentiment": "negative", "limit": 3,
                                        "cursor": neg["next_cursor"]}, headers=h).json()
    assert [p["id"] for p in more["items"]] == ["test:a2", "test:a1"]
    found = c.get(V1 + "/posts", params={"q": "DELAYED", "limit": 50}, headers=h).json()["items"]
    assert {p["id"] for p in found} == {"test:a1", "test:a2", "test:a3", "test:x1"}
    junk = c.get(V1 + "/posts", params={"q": "' OR 1=1 --"}, headers=h).json()["items"]
    assert junk == []
    t = c.get(V1 + "/conversations/trending", params={"brand": "acme"}, headers=h).json()["items"]
    assert [(x["conversation_id"], x["recent"], x["previous"]) for x in t] == [("c-new", 3, 0), ("c-delay", 1, 4)]
    assert t[1]["key_terms"] == ["delayed", "gate", "flight"] and len(t[1]["sample_posts"]) == 3
    v = c.get(V1 + "/voices", params={"subject": "acme"}, headers=h).json()["items"]
    assert [x["handle"] for x in v] == ["erin", "carol"]
    assert c.post(V1 + "/alerts/al-1/ack", headers=admin_headers()).json()["acknowledged"] is True
    acked = c.get(V1 + "/alerts", params={"acknowledged": "true"}, headers=h).json()["items"]
    assert [a["id"] for a in acked] == ["al-1"]
    assert c.get("/health").json()["clickhouse"]["backend"] == "server"


def test_health_and_why_on_clickhouse_server(server_client: TestClient) -> None:
    c, h = server_client, read_headers()
    hour = {"from": "2026-03-02T10:00:00Z", "to": "2026-03-02T11:00:00Z"}
    items = c.get(V1 + "/brands", params=hour, headers=h).json()["items"]
    assert [(b["id"], b["mentions"], b["negative"], b["change"]["negative"]) for b in items] == [
        ("acme", 8, 5, 5), ("rival", 6, 0, 0)]
    why = c.get(V1 + "/brands/acme/why", params=hour, headers=h).json()
    assert {p["id"] for p in why["top_negative_posts"]} == {f"test:{i}" for i in ("a1", "a2", "a3", "a4", "x1")}
    assert why["sources"] == [{"source": "test", "mentions": 8, "negative": 5, "negative_share": 0.625}]
    assert [(x["conversation_id"], x["posts"], x["negative"]) for x in why["conversations"]] == [("c-delay", 5, 5)]
    assert isinstance(why["terms"], list) and [v["handle"] for v in why["voices"]] == ["erin", "carol"]
    assert c.get(V1 + "/alerts/al-1", headers=h).json()["link"].startswith("#/brands/acme?from=")
