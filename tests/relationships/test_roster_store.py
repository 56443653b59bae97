"""The roster on both backends (chDB and the 18.16 server): versioned voices, nothing silently
overwritten, interactions, people, and the posts reads behind suggestions and profiles."""

from __future__ import annotations

from datetime import timedelta

from pipeline.core.roster import Person, Voice
from pipeline.storage.backend import ClickHouse
from pipeline.storage.repository import Repository
from pipeline.storage.roster import RosterStore, voice_of
from pipeline.storage.roster_posts import VoicePosts
from tests.storage.test_storage import T0, ch, enriched  # noqa: F401 - the backend fixture

__all__ = ["ch"]


def test_every_change_is_kept_with_who_and_when(ch: ClickHouse) -> None:  # noqa: F811
    store = RosterStore(ch)
    v = Voice(voice_id="test:a1", accounts=["test:a1"], handles=["@h1"], brands=["acme"])
    store.save_voice(v, "bob", "added")
    store.save_voice(v.model_copy(update={"owner": "alice"}), "admin", "owner")
    store.save_voice(v.model_copy(update={"owner": "alice", "stage": "listening"}), "alice", "stage")
    store.log_interaction("test:a1", "replied", "thanked them for the review", "alice")
    row = store.voice("test:a1")
    assert row is not None and row["stage"] == "listening" and row["owner"] == "alice"
    assert row["added_by"] == "bob" and row["updated_by"] == "alice"
    hist = store.history("test:a1")
    assert [h["action"] for h in hist] == ["interaction", "stage", "owner", "added"]
    assert hist[1]["before"]["stage"] == "discovered" and hist[1]["after"]["stage"] == "listening"
    assert hist[0]["kind"] == "replied" and hist[0]["by"] == "alice"
    assert voice_of(row).stage == "listening"
    total, page = store.voices(owner="alice")
    assert total == 1 and page[0]["voice_id"] == "test:a1"
    assert store.voices(q="H1")[0] == 1 and store.voices(stage="engaged")[0] == 0
    assert store.voice_by_account(["x:1", "test:a1"])["voice_id"] == "test:a1"  # type: ignore[index]
    assert store.delete_voice("test:a1", "alice") and store.voice("test:a1") is None
    assert store.history("test:a1")[0]["action"] == "removed"


def test_people_are_versioned(ch: ClickHouse) -> None:  # noqa: F811
    store = RosterStore(ch)
    store.save_person(Person(name="alice", topics=["pricing"]), "admin")
    store.save_person(Person(name="alice", topics=["pricing", "delays"], digest="hourly"), "admin")
    assert [(p.name, p.topics, p.digest) for p in store.people()] == [("alice", ["pricing", "delays"], "hourly")]


def test_voice_posts_reads(ch: ClickHouse) -> None:  # noqa: F811
    Repository(ch).insert_posts([enriched(i, minute=i) for i in range(9)])  # authors a0..a2
    posts = VoicePosts(ch)
    found = posts.find_authors("@H1")
    assert [(f["source"], f["author_id"], int(f["posts"])) for f in found] == [("test", "a1", 3)]
    topics, brands = posts.activity(["test:a1"])
    assert topics == {"pricing": 3} and brands == {"acme": 3}
    neg = posts.negative_since(["test:a1"], 0)
    assert sorted(r["id"] for r in neg) == ["test:1", "test:4", "test:7"]
    assert posts.negative_since(["test:a1"], max(int(r["_version"]) for r in neg)) == []
    assert [r["id"] for r in posts.recent(["test:a1"], limit=2)] == ["test:7", "test:4"]
    assert [r["id"] for r in posts.facts(["test:a1"])] == ["test:7", "test:4", "test:1"]


def test_profile_and_digest_reads_run_on_both_backends(ch: ClickHouse) -> None:  # noqa: F811
    from pipeline.core.clock import utc_now
    from pipeline.relationships.digest import build_digest
    from pipeline.relationships.profile import voice_profile
    from pipeline.relationships.roster import Roster

    Repository(ch).insert_posts([enriched(i, minute=i) for i in range(9)])
    store = RosterStore(ch)
    store.save_person(Person(name="Ana Ruiz", topics=["pricing"]), "admin")
    roster = Roster(store, VoicePosts(ch))
    roster.add(["test:a1"], "admin", owner="Ana Ruiz")
    roster.interact("test:a1", "met", "coffee at the expo", "Ana Ruiz", False)
    p = voice_profile(roster, "test:a1")
    assert len(p["recent"]) == 3 and p["topics"] == [("pricing", 3)] and p["suggestion"]["person"] == "Ana Ruiz"
    assert sum(d["posts"] for d in p["attention"]) == 3 and p["amplifiers"] == []
    assert [h["action"] for h in p["history"]] == ["interaction", "added"]
    d = build_digest(store, VoicePosts(ch), "Ana Ruiz", utc_now(whole_seconds=True) - timedelta(hours=1), utc_now(whole_seconds=True) + timedelta(minutes=1))
    assert len(d.posts) == 3 and len(d.negative) == 1 and d.rising == []
    assert "Ana Ruiz met @h1: coffee at the expo" in d.lines()
    assert store.all_accounts()["test:a1"]["owner"] == "Ana Ruiz" and store.owner_load() == {"Ana Ruiz": 1}
