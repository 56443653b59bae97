"""The Grafana dashboard's SQL runs against the real schema (migrations) and shows the right numbers.

Grafana's macros and the ``brand`` variable are expanded the way grafana-clickhouse-datasource
does it (``$__timeFilter(c)`` -> ``c >= toDateTime(from) AND c <= toDateTime(to)``,
``$__timeInterval(c)`` -> ``toStartOfInterval(toDateTime(c), INTERVAL n second)``), then each
panel query runs on embedded ClickHouse (chDB) after ``pipeline.storage.migrate``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.storage.backend import ChdbBackend
from pipeline.storage.migrate import migrate
from pipeline.storage.repository import Repository

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards" / "hypermicro.json"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
RANGE = (T0 - timedelta(hours=1), T0 + timedelta(hours=1))
ALL = ("__all",)


def _dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def _sql(title: str) -> str:
    (panel,) = [p for p in _dashboard()["panels"] if p["title"] == title]
    (target,) = panel["targets"]
    return target["rawSql"]


def expand(sql: str, brands: Sequence[str] = ALL, interval_s: int = 60,
           time_range: tuple[datetime, datetime] = RANGE) -> str:
    """Expand Grafana variables/macros like Grafana + the ClickHouse plugin do."""
    var = _dashboard()["templating"]["list"][0]
    quoted = var["allValue"] if tuple(brands) == ALL else ",".join(f"'{b}'" for b in brands)
    sql = sql.replace("${brand:singlequote}", quoted)
    lo, hi = (int(t.timestamp()) for t in time_range)
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)",
                 lambda m: f"{m[1]} >= toDateTime({lo}) AND {m[1]} <= toDateTime({hi})", sql)
    sql = re.sub(r"\$__timeInterval\(([^)]+)\)",
                 lambda m: f"toStartOfInterval(toDateTime({m[1]}), INTERVAL {interval_s} second)", sql)
    assert "$" not in sql, sql
    return sql


def _post(n: int, minute: int, brands: list[str], sentiments: list[str], conversation: str = "") -> dict[str, Any]:
    return {
        "id": f"test:{n}", "source": "test", "created_at": T0 + timedelta(minutes=minute),
        "text": f"post {n}", "brands": brands, "brand_sentiments": sentiments,
        "sentiment_label": sentiments[0] if sentiments else "neutral",
        "conversation_id": conversation, "_version": 1,
    }


class _Voice:
    def __init__(self, author_id: str, score: float) -> None:
        self.author_id, self.handle, self.score = author_id, "@" + author_id, score
        self.growth = self.reach = self.resonance = self.relevance = score
        self.reasons = ["growing reach", "on topic"]


@pytest.fixture(scope="module")
def ch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbBackend]:
    backend = ChdbBackend(tmp_path_factory.mktemp("chdb"), "hypermicro")
    migrate(backend)
    backend.insert("posts", [
        _post(1, 0, ["acme"], ["negative"], "c1"),
        _post(1, 0, ["acme"], ["negative"], "c1"),  # Kafka redelivery: must count once
        _post(2, 1, ["acme", "globex"], ["positive", "negative"], "c1"),
        _post(3, 1, ["acme"], ["negative"], "c2"),
        _post(4, 2, ["globex"], ["neutral"], "c2"),
        _post(5, 3, ["acme"], ["unsupported"], "c1"),
        _post(6, 300, ["initech"], ["negative"], "c3"),  # outside the time range
    ])
    repo = Repository(backend)
    repo.upsert_conversations([
        {"conversation_id": "c1", "label": "battery fire", "key_terms": ["battery", "fire"], "size": 40,
         "first_seen": T0, "last_seen": T0 + timedelta(minutes=3)},
        {"conversation_id": "c2", "label": "refund delays", "key_terms": ["refund"], "size": 90,
         "first_seen": T0, "last_seen": T0 + timedelta(minutes=2)},
        {"conversation_id": "c3", "label": "old news", "key_terms": ["old"], "size": 5,
         "first_seen": T0, "last_seen": T0 + timedelta(hours=5)},
    ])
    backend.insert("alerts", [
        {"id": "a1", "kind": "negative_spike", "subject_kind": "brand", "subject_id": "acme", "brand_id": "acme",
         "severity": "critical", "explanation": "negative mentions x4", "created_at": T0 + timedelta(minutes=5)},
        {"id": "a2", "kind": "negative_spike", "subject_kind": "brand", "subject_id": "globex",
         "brand_id": "globex", "severity": "warning", "explanation": "x2", "created_at": T0 + timedelta(minutes=6)},
        {"id": "a3", "kind": "negative_spike", "subject_kind": "brand", "subject_id": "acme", "brand_id": "acme",
         "severity": "info", "explanation": "old", "created_at": T0 - timedelta(days=2)},
    ])
    # Two ranking snapshots for acme: only the newest may show; bob dropped out of it.
    backend.insert("emerging_voices", [
        {"subject_id": "acme", "author_id": a, "handle": "@" + a, "rank": r, "score": s,
         "reasons": ["old"], "snapshot_at": T0 - timedelta(minutes=10)}
        for a, r, s in (("alice", 2, 0.4), ("bob", 1, 0.9))
    ])
    repo.replace_voices("acme", [_Voice("carol", 0.8), _Voice("alice", 0.7)])
    yield backend
    backend.close()


def test_panels_present() -> None:
    titles = {p["title"]: p for p in _dashboard()["panels"]}
    assert set(titles) == {"Mentions per brand", "Negative share per brand", "Share of voice",
                           "Trending conversations", "Emerging voices", "Alerts"}
    for title in ("Mentions per brand", "Negative share per brand"):
        (target,) = titles[title]["targets"]
        assert (target["queryType"], target["format"]) == ("timeSeries", 0)
    assert titles["Trending conversations"]["targets"][0]["format"] == 1


def test_volume_counts_unique_posts_per_brand_and_bucket(ch: ChdbBackend) -> None:
    rows = ch.query(expand(_sql("Mentions per brand")))
    got = {(r["time"], r["brand"]): int(r["posts"]) for r in rows}
    m = lambda k: T0 + timedelta(minutes=k)  # noqa: E731
    assert got == {(m(0), "acme"): 1, (m(1), "acme"): 2, (m(1), "globex"): 1, (m(2), "globex"): 1,
                   (m(3), "acme"): 1}
    hourly = ch.query(expand(_sql("Mentions per brand"), interval_s=3600))
    assert {r["brand"]: int(r["posts"]) for r in hourly} == {"acme": 4, "globex": 2}
    only = ch.query(expand(_sql("Mentions per brand"), brands=["globex"]))
    assert {r["brand"] for r in only} == {"globex"}


def test_negative_share_uses_brand_sentiment(ch: ChdbBackend) -> None:
    rows = ch.query(expand(_sql("Negative share per brand"), interval_s=3600))
    share = {r["brand"]: float(r["negative_share"]) for r in rows}
    # acme: posts 1,2,3 have a supported sentiment toward acme, 1 and 3 negative; post 5 is unsupported.
    assert share["acme"] == pytest.approx(2 / 3)
    # globex: post 2 is negative toward globex (though positive toward acme), post 4 neutral.
    assert share["globex"] == pytest.approx(1 / 2)


def test_share_of_voice(ch: ChdbBackend) -> None:
    rows = ch.query(expand(_sql("Share of voice")))
    assert [(r["brand"], int(r["posts"])) for r in rows] == [("acme", 4), ("globex", 2)]


def test_trending_conversations_rank_by_posts_in_range(ch: ChdbBackend) -> None:
    rows = ch.query(expand(_sql("Trending conversations")))
    assert [(r["conversation"], int(r["posts_in_range"])) for r in rows] == [
        ("battery fire", 3), ("refund delays", 2)]
    assert rows[0]["key_terms"] == "battery, fire"
    globex = ch.query(expand(_sql("Trending conversations"), brands=["globex"]))
    # ties broken by the most recent activity
    assert [(r["conversation"], int(r["posts_in_range"])) for r in globex] == [
        ("battery fire", 1), ("refund delays", 1)]


def test_emerging_voices_show_latest_snapshot_only(ch: ChdbBackend) -> None:
    rows = ch.query(expand(_sql("Emerging voices")))
    assert [(r["handle"], int(r["rank"])) for r in rows] == [("@carol", 1), ("@alice", 2)]
    assert rows[0]["reasons"] == "growing reach; on topic"
    assert ch.query(expand(_sql("Emerging voices"), brands=["globex"])) == []


def test_alerts_in_range_newest_first(ch: ChdbBackend) -> None:
    rows = ch.query(expand(_sql("Alerts")))
    assert [(r["id"], r["severity"]) for r in rows] == [("a2", "warning"), ("a1", "critical")]
    assert [r["id"] for r in ch.query(expand(_sql("Alerts"), brands=["acme"]))] == ["a1"]


def test_brand_variable_lists_brands(ch: ChdbBackend) -> None:
    var = _dashboard()["templating"]["list"][0]
    rows = ch.query(var["query"])
    assert [r["subject"] for r in rows] == ["acme", "globex", "initech"]
