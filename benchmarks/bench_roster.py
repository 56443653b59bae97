"""Roster pages on a large roster: 10,000 rostered voices with 1 M of their posts on chDB (or the
local server with ``--server``); p50/p95 per page over HTTP (FastAPI TestClient).

Posts come from ``benchmarks/bench_api.py``'s generator (one ``INSERT ... SELECT FROM numbers()``)
with its authors folded onto the 10,000 voices and one post in seven a reply to another voice
(so "who amplifies them" has work to do); the roster is one ``INSERT ... SELECT`` as well, with
owners, stages, tags, and 20 logged changes per voice.

    .venv/bin/python benchmarks/bench_roster.py --posts 1000000 --voices 10000 --runs 30
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from benchmarks.bench_api import BRANDS, DAYS, GENERATE, TOPICS, WORDS

PEOPLE = [f"person{i}" for i in range(40)]
STAGES = ["discovered", "listening", "participating", "engaged", "paused"]

ROSTER = """
INSERT INTO roster_voices
SELECT concat('bench:u', toString(number)) AS voice_id, [voice_id] AS accounts,
       [concat('@user', toString(number))] AS handles, concat('User ', toString(number)) AS display_name,
       if(number % 5 = 0, '', arrayElement({people:Array(String)}, 1 + number % 40)) AS owner,
       arrayElement({people:Array(String)}, 1 + cityHash64(number) % 40) AS suggested_owner,
       arrayElement({stages:Array(String)}, 1 + number % 5) AS stage,
       [arrayElement({brands:Array(String)}, 1 + number % 20)] AS brands,
       [arrayElement({topics:Array(String)}, 1 + number % 12)] AS topics,
       if(number % 3 = 0, ['press'], CAST([] AS Array(String))) AS tags,
       'bench' AS added_by, toDateTime({now:DateTime}) - number AS added_at, 'bench' AS updated_by,
       added_at AS updated_at, toUInt8(0) AS deleted, toUInt64(number + 1) AS version
FROM numbers({n:UInt64})
"""
CHANGES = """
INSERT INTO roster_changes
SELECT 'voice' AS entity, concat('bench:u', toString(intDiv(number, 20))) AS entity_id,
       toUInt64(number + 1) AS seq, toDateTime({now:DateTime}) - number AS at,
       arrayElement({people:Array(String)}, 1 + number % 40) AS by,
       if(number % 4 = 0, 'stage', 'interaction') AS action,
       if(action = 'interaction', 'note', '') AS kind, concat('note ', toString(number)) AS note,
       '' AS before, if(action = 'stage', '{"stage": "listening"}', '') AS after
FROM numbers({n:UInt64})
"""


def generate(ch: Any, posts: int, voices: int, base: datetime) -> float:
    t0 = time.perf_counter()
    sql = (GENERATE.replace("h % 200000", f"h % {voices}")
           .replace("'' AS reply_to_author", f"if(h % 7 = 0, concat('u', toString(h2 % {voices})), '') AS reply_to_author"))
    for start in range(0, posts, 2_000_000):
        ch.execute(sql, {"base": base, "span": DAYS * 86400, "n": posts, "start": start,
                         "count": min(2_000_000, posts - start), "words": WORDS, "topics": TOPICS, "brands": BRANDS})
    now = datetime.now(UTC).replace(microsecond=0)
    common = {"now": now, "people": PEOPLE}
    ch.execute(ROSTER, {**common, "n": voices, "stages": STAGES, "brands": BRANDS, "topics": TOPICS})
    ch.execute(CHANGES, {**common, "n": voices * 20})
    ch.insert("roster_people", [{"name": p, "email": f"{p}@example.com", "brands": [BRANDS[i % 20]],
                                 "topics": [TOPICS[i % 12]], "digest": "daily", "updated_by": "bench",
                                 "updated_at": now, "deleted": 0, "version": 1} for i, p in enumerate(PEOPLE)])
    return time.perf_counter() - t0


def cases(voices: int, rng: random.Random) -> list[tuple[str, Any]]:
    v = lambda: f"bench:u{rng.randrange(voices)}"  # noqa: E731 - a different voice every request
    return [
        ("roster page", lambda: ("/api/v1/roster/voices", {"limit": 50})),
        ("roster by owner", lambda: ("/api/v1/roster/voices", {"owner": rng.choice(PEOPLE), "limit": 50})),
        ("roster by stage", lambda: ("/api/v1/roster/voices", {"stage": rng.choice(STAGES), "limit": 50})),
        ("roster search", lambda: ("/api/v1/roster/voices", {"q": f"user{rng.randrange(voices)}", "limit": 50})),
        ("voice + history", lambda: (f"/api/v1/roster/voices/{v()}", {})),
        ("voice profile", lambda: (f"/api/v1/roster/voices/{v()}/profile", {})),
        ("owner digest 24h", lambda: (f"/api/v1/roster/digest/{rng.choice(PEOPLE)}", {"hours": 24})),
    ]


def command(posts: int = typer.Option(1_000_000, "--posts"), voices: int = typer.Option(10_000, "--voices"),
            runs: int = typer.Option(30, "--runs"), server: bool = typer.Option(False, "--server/--no-server")) -> None:
    """Generate the roster and its posts, then time each roster page; last line: worst p95."""
    from fastapi.testclient import TestClient

    from pipeline.api.app import create_api
    from pipeline.core.settings import load_settings
    from pipeline.storage.backend import ChdbBackend, DriverBackend
    from pipeline.storage.migrate import migrate
    from pipeline.storage.repository import Repository

    base = (datetime.now(UTC) - timedelta(days=DAYS)).replace(minute=0, second=0, microsecond=0)
    with tempfile.TemporaryDirectory() as d:
        ch: Any = (DriverBackend("127.0.0.1", 9000, f"hm_bench_roster_{int(time.time())}", send_receive_timeout=600)
                   if server else ChdbBackend(Path(d) / "chdb", "bench"))
        try:
            migrate(ch)
            gen = generate(ch, posts, voices, base)
            n = int(ch.query("SELECT count() AS n FROM posts")[0]["n"])
            print(f"[{ch.name}] {n:,} posts, {voices:,} voices generated in {gen:.1f} s", flush=True)
            repo = Repository(ch)
            settings = load_settings(api_read_tokens=["bench"])
            rng = random.Random(7)
            results = []
            with TestClient(create_api(lambda: repo, settings)) as client:
                for name, make in cases(voices, rng):
                    times = []
                    for i in range(runs + 1):
                        path, params = make()
                        t0 = time.perf_counter()
                        r = client.get(path, params=params, headers={"Authorization": "Bearer bench"})
                        dt = (time.perf_counter() - t0) * 1000
                        if r.status_code != 200:
                            raise RuntimeError(f"{name}: {r.status_code} {r.text[:300]}")
                        if i:  # the first call warms caches
                            times.append(dt)
                    times.sort()
                    p50, p95 = statistics.median(times), times[max(0, round(0.95 * len(times)) - 1)]
                    results.append((name, p50, p95))
                    print(f"  {name:20s} p50={p50:7.1f} ms p95={p95:7.1f} ms", flush=True)
        finally:
            if server:
                ch.execute(f"DROP DATABASE IF EXISTS {ch._database}")
            ch.close()
    worst = max(results, key=lambda r: r[2])
    print(f"backend={ch.name} posts={n} voices={voices} runs={runs} worst_p95_ms={worst[2]:.1f} worst='{worst[0]}' "
          f"over_300ms={sum(r[2] > 300 for r in results)}")


if __name__ == "__main__":
    typer.run(command)
