"""Seeded ClickHouse data for the API tests: a small, hand-countable world.

acme: 8 mentions 10:00-10:59 (5 negative, 2 positive, 1 neutral) + 3 positive at 11:10-11:14 = 11.
rival (acme's competitor): 5 neutral at 10:30 + 1 positive (post x1 mentions both) = 6.
Conversations: c-delay (a1-a4 at 10:20-10:23, x1 at 10:45), c-new (a8-a10 at 11:10-11:14), c-food (r1-r5).
Alerts al-1 (acme critical), al-2 (rival warning), al-3 (acme rising voice, info).
Voices for acme: an old snapshot (carol, dave) and the latest (erin, carol).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.schema import Alert, BrandMention, EnrichedPost, RawPost, Sentiment, TopicTag
from pipeline.core.settings import Settings, load_settings
from pipeline.storage.backend import ChdbBackend, ClickHouse
from pipeline.storage.migrate import migrate
from pipeline.storage.repository import Repository

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
READ_TOKEN = "read-token-0123456789"
ADMIN_TOKEN = "admin-token-9876543210"
TABLES = ("posts", "mention_minute", "conversation_minute", "conversations", "alerts", "alert_acks", "emerging_voices")

# id, minutes after T0, {brand: sentiment}, topics, conversation, author, text, language
POSTS: list[tuple[str, int, dict[str, str], list[str], str, str, str, str]] = [
    ("a1", 20, {"acme": "negative"}, ["delays"], "c-delay", "alice", "Acme flight DELAYED again at gate 4", "en"),
    ("a2", 21, {"acme": "negative"}, ["delays"], "c-delay", "bob", "acme delayed my flight, no updates", "en"),
    ("a3", 22, {"acme": "negative"}, ["delays"], "c-delay", "carol", "Still waiting, acme. Delayed 3 hours", "en"),
    ("a4", 23, {"acme": "negative"}, ["delays"], "c-delay", "dave", "acme vol retardé encore", "fr"),
    ("a5", 24, {"acme": "positive"}, ["food"], "", "erin", "Acme snacks are great", "en"),
    ("a6", 25, {"acme": "positive"}, ["food"], "", "frank", "Loved the acme lounge food", "en"),
    ("a7", 26, {"acme": "neutral"}, [], "", "grace", "Flying acme tomorrow", "en"),
    ("x1", 45, {"acme": "negative", "rival": "positive"}, ["delays"], "c-delay", "heidi",
     "acme delayed, rival was on time", "en"),
    ("a8", 70, {"acme": "positive"}, ["delays"], "c-new", "ivan", "acme new app shows delays live", "en"),
    ("a9", 72, {"acme": "positive"}, ["delays"], "c-new", "judy", "the acme app is handy", "en"),
    ("a10", 74, {"acme": "positive"}, ["delays"], "c-new", "mallory", "acme app + rebooking = nice", "en"),
    *[(f"r{i}", 30, {"rival": "neutral"}, ["food"], "c-food", f"user{i}", f"rival meal number {i}", "en")
      for i in range(1, 6)],
]


def enriched(pid: str, minute: int, brands: dict[str, str], topics: list[str], conv: str, author: str,
             text: str, lang: str) -> EnrichedPost:
    post = RawPost.model_validate({
        "id": pid, "source": "test", "created_at": (T0 + timedelta(minutes=minute)).isoformat(), "text": text,
        "url": f"https://example.org/{pid}", "author": {"id": f"u-{author}", "handle": author, "followers": 100},
    })
    label = next(iter(brands.values()))
    return EnrichedPost(
        post=post, sentiment=Sentiment(label=label, score={"negative": -0.6, "positive": 0.6}.get(label, 0.0)),
        brands=[BrandMention(brand_id=b, matched_text=b, start=0, end=len(b), rule="name", sentiment=s)
                for b, s in brands.items()],
        topics=[TopicTag(topic_id=t, score=0.8) for t in topics], language=lang, conversation_id=conv or None,
    )


def alert(aid: str, kind: str, brand: str, severity: str, minute: int, incident: str = "") -> Alert:
    start = T0 + timedelta(minutes=minute - 10)
    return Alert.model_validate({
        "id": aid, "kind": kind, "severity": severity, "observed": 12, "expected": 2.5, "score": 4.2,
        "subject": {"kind": "brand", "id": brand, "brand_id": brand},
        "window": {"start": start, "end": T0 + timedelta(minutes=minute)},
        "explanation": f"{brand}: 12 negative mentions vs 2.5 expected", "incident_id": incident or None,
        "created_at": T0 + timedelta(minutes=minute), "owners": [f"comms-{brand}@example.com"],
    })


class _Rank:
    def __init__(self, author_id: str, handle: str, score: float) -> None:
        self.author_id, self.handle, self.score = author_id, handle, score
        self.growth, self.reach, self.resonance, self.relevance = 2.0, 0.5, 0.7, 0.9
        self.reasons = [f"{handle}: replies from 4 new authors", "mostly about acme"]


def seed(repo: Repository) -> None:
    """Write the world described in the module docstring."""
    posts = [enriched(*p) for p in POSTS]
    repo.insert_posts(posts)
    repo.insert_posts(posts[:3])  # at-least-once redelivery: must not change any figure
    repo.upsert_conversations([
        {"conversation_id": "c-delay", "label": "flight delays", "key_terms": ["delayed", "gate", "flight"],
         "size": 5, "first_seen": T0 + timedelta(minutes=20), "last_seen": T0 + timedelta(minutes=45)},
        {"conversation_id": "c-new", "label": "", "key_terms": ["app", "rebooking"], "size": 3,
         "first_seen": T0 + timedelta(minutes=70), "last_seen": T0 + timedelta(minutes=74)},
    ])
    repo.insert_alerts([
        alert("al-1", "negative_spike", "acme", "critical", 30, "inc-1"),
        alert("al-2", "negative_spike", "rival", "warning", 40),
        alert("al-3", "rising_voice", "acme", "info", 50),
    ])
    old, new = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    for snap, ranks in ((old, [_Rank("u-carol", "carol", 3.0), _Rank("u-dave", "dave", 2.0)]),
                        (new, [_Rank("u-erin", "erin", 5.0), _Rank("u-carol", "carol", 4.0)])):
        repo.ch.insert("emerging_voices", [{
            "subject_id": "acme", "author_id": r.author_id, "handle": r.handle, "rank": i + 1, "score": r.score,
            "growth": r.growth, "reach": r.reach, "resonance": r.resonance, "relevance": r.relevance,
            "reasons": r.reasons, "snapshot_at": snap,
        } for i, r in enumerate(ranks)])


def row_counts(ch: ClickHouse) -> dict[str, int]:
    return {t: int(ch.query(f"SELECT count() AS n FROM {t}")[0]["n"]) for t in TABLES}


def write_brands(path: Path) -> Path:
    path.write_text(
        "brands:\n"
        "  - {id: acme, name: Acme Air, competitors: [rival], owner: comms-acme@example.com}\n"
        "  - {id: rival, name: Rival Jet, competitors: [acme]}\n", encoding="utf-8")
    return path


def api_settings(tmp: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "brands_file": write_brands(tmp / "brands.yaml"), "chdb_path": tmp / "chdb",
        "api_read_tokens": [READ_TOKEN], "api_admin_tokens": [ADMIN_TOKEN],
    }
    base.update(overrides)
    return load_settings(**base)


@pytest.fixture
def seeded_repo(tmp_path: Path) -> Iterator[Repository]:
    """A freshly seeded chDB (one embedded chDB per process at a time, so one per test)."""
    ch = ChdbBackend(tmp_path / "chdb", "hypermicro")
    migrate(ch)
    repo = Repository(ch)
    seed(repo)
    yield repo
    ch.close()


def read_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {READ_TOKEN}"}


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}




@contextmanager
def serve(app: Any, port: int) -> Iterator[str]:
    """Run ``app`` with uvicorn on 127.0.0.1:``port`` in a thread; yields its base URL."""
    import threading
    import time

    import uvicorn

    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)
