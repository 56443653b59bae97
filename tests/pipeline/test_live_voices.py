"""Emerging voices in the live loop: stored posts replayed from ClickHouse through the same
tracker as ``eval voices`` flag the planted authors and snapshot a ranking for the API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.core.schema import Alert, BrandMention, EnrichedPost, RawPost, Sentiment
from pipeline.detect.live_voices import LiveVoices, LocalFeed, own_accounts_from_brands
from pipeline.detect.voices_cli import replay_file
from pipeline.evaluation.scenario import generate_scenario
from pipeline.runtime.voice_process import ProcessFeed
from pipeline.storage.backend import ChdbBackend
from pipeline.storage.migrate import migrate
from pipeline.storage.repository import Repository


@pytest.mark.parametrize("host", ["local", "process"])
async def test_planted_authors_rise_from_stored_posts(tmp_path: Path, host: str) -> None:
    """The same with the feed in this process and in its own (as the worker runs it)."""
    posts, truth = generate_scenario(seed=321, duration_h=4, n_emerging=3)
    ch = ChdbBackend(tmp_path / "chdb", "hypermicro")
    migrate(ch)
    repo = Repository(ch)
    enriched = [EnrichedPost(post=RawPost.model_validate(p), sentiment=Sentiment(label="neutral"),
                             brands=[BrandMention(brand_id="acme", matched_text="acme", start=0, end=4, rule="name")])
                for p in posts]
    voices = LiveVoices(ProcessFeed() if host == "process" else LocalFeed(), snapshot_every=1)
    raised: list[Alert] = []

    async def emit(alert: Alert) -> None:
        raised.append(alert)

    for i in range(0, len(enriched), 500):  # posts arrive over several detector ticks
        repo.insert_posts(enriched[i:i + 500])
        await voices.tick(repo, emit, "http://dash")
    repo.insert_posts(enriched[:200])  # redelivery must not count twice
    await voices.tick(repo, emit, "http://dash")

    planted = {e["author_id"] for e in truth["emerging"]}
    flagged = {v["author_id"] for a in raised for v in a.evidence.details["voices"]}
    assert len(planted & flagged) >= 2
    assert len(flagged - planted) <= 3
    assert all(a.kind == "rising_voice" and a.explanation for a in raised)
    # one digest per subject and 30-minute window; re-issued with more voices, it keeps the earlier ones
    assert len({a.id for a in raised}) == len({(a.subject.id, a.window.end.timestamp() // 1800) for a in raised})
    seen: dict[str, set[str]] = {}
    for a in raised:
        voices_now = {v["author_id"] for v in a.evidence.details["voices"]}
        assert seen.get(a.id, set()) < voices_now  # strictly more voices than the last issue
        seen[a.id] = voices_now
    for a in raised:
        assert a.explanation.split("\n")[0].endswith("in the last 30 min:")
        assert all(v["author_id"] not in a.explanation for v in a.evidence.details["voices"])  # handles only
        assert "p~" not in a.explanation and "1e-" not in a.explanation
    # the stream went idle: everything was fed and the stored ranking is the tracker's final ranking
    stored = ch.query("SELECT subject_id, author_id FROM emerging_voices FINAL WHERE (subject_id, snapshot_at) IN "
                      "(SELECT subject_id, max(snapshot_at) FROM emerging_voices GROUP BY subject_id) "
                      "ORDER BY subject_id, rank")
    assert {"*", "acme"} <= {r["subject_id"] for r in stored}
    assert [r["author_id"] for r in stored if r["subject_id"] == "*"] == \
        [r.author_id for r in await voices.ranking("*", k=20)]
    # ...and it is the ranking `hypermicro voices --posts` gives for the same posts
    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8")
    offline, _ = replay_file(path)
    assert [(r.author_id, round(r.score, 6)) for r in await voices.ranking("*", k=20)] == \
        [(r.author_id, round(r.score, 6)) for r in offline.ranking("*", k=20)]
    voices.close()
    ch.close()


async def test_a_lost_voice_process_is_replaced_and_fed_every_stored_post_again(tmp_path: Path) -> None:
    posts, _ = generate_scenario(seed=322, duration_h=3, n_emerging=2)
    ch = ChdbBackend(tmp_path / "chdb", "hypermicro")
    migrate(ch)
    repo = Repository(ch)
    enriched = [EnrichedPost(post=RawPost.model_validate(p), sentiment=Sentiment(label="neutral")) for p in posts]
    voices = LiveVoices(ProcessFeed(), snapshot_every=1)

    async def emit(alert: Alert) -> None:
        pass

    half = len(enriched) // 2
    repo.insert_posts(enriched[:half])
    await voices.tick(repo, emit, "http://dash")
    host = voices.host
    assert isinstance(host, ProcessFeed) and host.pid is not None
    os.kill(host.pid, signal.SIGKILL)
    repo.insert_posts(enriched[half:])
    for _ in range(4):  # the tick that finds the process gone, then every stored post again, then idle
        await voices.tick(repo, emit, "http://dash")
    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8")
    offline, _ = replay_file(path)
    assert [(r.author_id, round(r.score, 6)) for r in await voices.ranking("*", k=20)] == \
        [(r.author_id, round(r.score, 6)) for r in offline.ranking("*", k=20)]
    voices.close()
    ch.close()


def test_the_offline_listing_counts_a_repeated_post_id_once_as_the_pipeline_stores_it(tmp_path: Path) -> None:
    posts, _ = generate_scenario(seed=323, duration_h=3, n_emerging=2)
    once, twice = tmp_path / "once.jsonl", tmp_path / "twice.jsonl"
    once.write_text("".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8")
    replies = [p for p in posts if p.get("reply_to_author")]  # attention: what a repeat would inflate
    twice.write_text("".join(json.dumps(p) + "\n" for p in posts + replies), encoding="utf-8")
    (a, _), (b, _) = replay_file(once), replay_file(twice)
    assert replies and a.ranking("*", k=20)
    assert [(r.author_id, r.score) for r in a.ranking("*", k=20)] == [(r.author_id, r.score) for r in b.ranking("*", k=20)]


def test_the_voice_process_ends_when_its_worker_is_killed() -> None:
    script = (
        "import asyncio, os, signal\n"
        "from pipeline.runtime.voice_process import ProcessFeed\n"
        "async def main():\n"
        "    feed = ProcessFeed()\n"
        "    await feed.step([], None)\n"
        "    print(feed.pid, flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    child = int(out.stdout.split()[0])

    def alive() -> bool:
        try:
            return Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    deadline = time.monotonic() + 15
    while alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive()


def test_a_digest_reissued_in_its_window_keeps_its_earlier_voices() -> None:
    from datetime import UTC, datetime, timedelta

    from pipeline.detect.voices import RisingVoice

    t0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

    def rv(aid: str, subject: str, minute: int) -> RisingVoice:
        return RisingVoice(author_id=aid, handle=f"h{aid}", subject=subject, score=3.0,
                           at=t0 + timedelta(minutes=minute), reasons=[], facts={"people_reply": 4})

    lv = LiveVoices()
    first = lv._digests([rv("1", "acme", 2), rv("2", "rival", 3)], "http://dash")
    later = lv._digests([rv("3", "acme", 20)], "http://dash")  # same window, a new acme voice only
    assert [a.subject.id for a in first] == ["voices:acme", "voices:rival"]
    assert [a.subject.id for a in later] == ["voices:acme"] and later[0].id == first[0].id
    assert later[0].evidence.authors == ["@h1", "@h3"] and later[0].explanation.startswith("2 rising voices")
    nxt = lv._digests([rv("4", "acme", 35)], "http://dash")  # the next window starts afresh
    assert nxt[0].id != first[0].id and nxt[0].evidence.authors == ["@h4"]
    assert lv._digests([], "http://dash") == []


def test_a_brand_without_handles_owns_the_handle_its_name_makes(tmp_path: Path) -> None:
    brands = tmp_path / "brands.yaml"
    brands.write_text(
        "brands:\n"
        "  - {id: united, name: United}\n"  # the matcher counts '@united' as a mention of it
        "  - {id: acme, name: Acme Corp, handles: ['@AcmeHelp']}\n"  # listed handles are the whole list
    )
    own = own_accounts_from_brands(brands)
    assert own["united"] == {"united"} and own["acme"] == {"acmehelp"}
    assert own["*"] == {"united", "acmehelp"}
