"""Roster rules on chDB: suggested owners from what a voice talks about, only the owner or an
admin changes a voice, interactions, CSV round trip and all-or-nothing import."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from pipeline.core.roster import Person
from pipeline.core.schema import BrandMention, EnrichedPost, RawPost, Sentiment, TopicTag
from pipeline.relationships.people import load_people
from pipeline.relationships.roster import NotAllowed, Roster
from pipeline.relationships.suggest import suggest_owner
from pipeline.storage.backend import ChdbBackend
from pipeline.storage.migrate import migrate
from pipeline.storage.repository import Repository
from pipeline.storage.roster import RosterStore
from pipeline.storage.roster_posts import VoicePosts
from tests.storage.test_storage import T0

PEOPLE = [Person(name="pr", topics=[], brands=[]),
          Person(name="alice", topics=["delays"], brands=[]),
          Person(name="bob", topics=["pricing"], brands=["acme"])]


def _post(i: int, author: str, topic: str, brand: str | None = None, label: str = "neutral") -> EnrichedPost:
    post = RawPost.model_validate({"id": str(i), "source": "masto", "created_at": (T0 + timedelta(minutes=i)).isoformat(),
                                   "text": f"post {i}", "author": {"id": author, "handle": author.upper()}})
    brands = [BrandMention(brand_id=brand, matched_text=brand, start=0, end=1, rule="name", sentiment=label)] if brand else []
    return EnrichedPost(post=post, sentiment=Sentiment(label=label, score=0.0), brands=brands,
                        topics=[TopicTag(topic_id=topic, score=0.9)], kafka_partition=0, kafka_offset=i)


@pytest.fixture
def roster(tmp_path: Path) -> Roster:
    ch = ChdbBackend(tmp_path / "chdb", "hypermicro")
    migrate(ch)
    Repository(ch).insert_posts([_post(i, "v1", "delays") for i in range(4)]
                                + [_post(10 + i, "v2", "pricing", "acme") for i in range(2)]
                                + [_post(20, "v3", "weather")])
    return Roster(RosterStore(ch), VoicePosts(ch), PEOPLE)


def test_suggestion_is_the_best_matching_person_with_reasons() -> None:
    s = suggest_owner({"delays": 4, "pricing": 1}, {"acme": 1}, PEOPLE)
    assert s is not None and (s.person, s.score, s.reasons) == ("alice", 4, ("4 posts about delays",))
    assert suggest_owner({"weather": 9}, {}, PEOPLE) is None  # nobody matches: no default to PR
    tie = suggest_owner({"delays": 2, "pricing": 2}, {}, PEOPLE, load={"alice": 3})
    assert tie is not None and tie.person == "bob"  # equal match: the one with fewer voices


def test_add_by_handle_suggests_an_owner_and_only_the_owner_changes_it(roster: Roster) -> None:
    row = roster.add_handle("@v1", "carol")
    assert row["voice_id"] == "masto:v1" and row["handles"] == ["@V1"] and row["suggested_owner"] == "alice"
    assert row["owner"] == "" and row["stage"] == "discovered" and row["topics"] == ["delays"]
    assert roster.add_handle("v1", "dave")["voice_id"] == "masto:v1"  # already rostered: same voice
    assert roster.store.history("masto:v1")[0]["note"] == "suggested owner: alice (4 posts about delays)"
    roster.update("masto:v1", "alice", False, owner="@suggested")  # unowned: anyone acting may claim
    with pytest.raises(NotAllowed):
        roster.update("masto:v1", "bob", False, stage="listening")
    with pytest.raises(NotAllowed):
        roster.interact("masto:v1", "note", "hi", "bob", False)
    roster.update("masto:v1", "alice", False, stage="listening")
    roster.update("masto:v1", "admin", True, tags=["frequent flyer"])
    roster.interact("masto:v1", "replied", "answered about the delay", "alice", False)
    with pytest.raises(ValueError, match="stage must be one of"):
        roster.update("masto:v1", "alice", False, stage="friends")
    with pytest.raises(ValueError, match="not a known person"):
        roster.update("masto:v1", "alice", False, owner="mallory")
    assert [h["action"] for h in roster.store.history("masto:v1")] == ["interaction", "updated", "stage", "owner", "added"]
    with pytest.raises(LookupError):
        roster.add_handle("@nobody", "carol")


def test_csv_round_trip_and_a_bad_row_rejects_the_file(roster: Roster) -> None:
    roster.add_handle("v2", "admin")
    roster.update("masto:v2", "admin", True, owner="bob", stage="engaged")
    text = roster.export_csv()
    assert "masto:v2" in text and "bob" in text and "acme" in text
    bad = text + "x,not-an-account,,,,,,,\n"
    with pytest.raises(ValueError, match="line 3: accounts"):
        roster.import_csv(bad, "admin", True)
    assert roster.store.voices()[0] == 1  # nothing written
    new = "accounts,handles,owner,stage,tags\nmasto:v3,@V3,alice,listening,weather;local\n"
    assert roster.import_csv(new, "admin", True) == {"added": 1, "updated": 0}
    row = roster.store.voice("masto:v3")
    assert row is not None and row["tags"] == ["weather", "local"] and row["stage"] == "listening"
    with pytest.raises(NotAllowed):  # alice may not overwrite bob's voice through a file
        roster.import_csv(text, "alice", False)


def test_people_file(tmp_path: Path) -> None:
    f = tmp_path / "people.yaml"
    f.write_text("people:\n  - {name: alice, topics: [delays], digest: hourly}\n", encoding="utf-8")
    assert load_people(f)[0].digest == "hourly"
    f.write_text("people:\n  - {name: alice, digest: sometimes}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"people\[0\]"):
        load_people(f)


def test_check_names_a_bad_people_file(tmp_path: Path) -> None:
    from pipeline.check import check_people

    f = tmp_path / "people.yaml"
    f.write_text("people:\n  - {name: alice, digest: sometimes}\n", encoding="utf-8")
    [line] = check_people(f)
    assert line.startswith("HYPERMICRO_PEOPLE_FILE: ") and "people[0]" in line
    assert check_people(None) == [] and "cannot read" in check_people(tmp_path / "missing.yaml")[0]


def test_the_people_example_in_the_docs_loads(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "relationships.md").read_text(encoding="utf-8")
    block = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "people.yaml").write_text(block, encoding="utf-8")
    people = load_people(tmp_path / "people.yaml")
    assert [(p.name, p.digest) for p in people] == [("Ana Ruiz", "daily"), ("Ben Ode", "weekly")]
