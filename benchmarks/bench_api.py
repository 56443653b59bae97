"""API latency on a large synthetic corpus: p50/p95 per endpoint over HTTP (FastAPI TestClient).

Generates ``--rows`` posts (default 10 million, 30 days, 20 brands with a skewed share, sentiments,
12 topics, time-local conversations, 200k authors) directly in ClickHouse with one
``INSERT INTO posts SELECT ... FROM numbers(n)`` (one expression per column in ``FILL``); the materialized views fill ``mention_minute`` and
``conversation_minute``. Then times each endpoint with realistic parameters. Runs on chDB and, when
reachable, on the local clickhouse-server (``--server``).

    .venv/bin/python benchmarks/bench_api.py --rows 10000000 --runs 30
    .venv/bin/python benchmarks/bench_api.py --rows 1000000 --server   # quick, both backends
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

BRANDS = [f"b{i:02d}" for i in range(20)]
TOPICS = ["delays", "pricing", "service", "food", "app", "safety", "baggage", "refunds", "wifi", "crew",
          "loyalty", "seats"]
WORDS = ["delayed", "refund", "great", "awful", "gate", "lounge", "crew", "luggage", "wifi", "upgrade",
         "cancelled", "seat", "boarding", "snack", "app", "points", "queue", "rebooked", "smooth", "lost"]
DAYS = 30

FILL = {
    "id": "concat('bench:', toString(number))",
    "source": "'bench'",
    "url": "concat('https://example.org/p/', toString(number))",
    "created_at": "toDateTime({base:DateTime}) + intDiv(number * {span:UInt64}, {n:UInt64})",
    "collected_at": "created_at",
    "enriched_at": "created_at",
    "text": "concat('about ', b1, ' ', arrayElement({words:Array(String)}, 1 + h % 20), ' and ', "
            "arrayElement({words:Array(String)}, 1 + intDiv(h, 20) % 20), ' #', toString(h % 997))",
    "lang": "lang_",
    "language": "lang_",
    "author_id": "concat('u', toString(h % 200000))",
    "author_handle": "concat('user', toString(h % 200000))",
    "author_name": "''",
    "author_followers": "toUInt32(pow((h % 1000) / 1000, 4) * 200000)",
    "author_following": "toUInt32(h % 500)",
    "reply_to_author": "''", "reply_to_post": "''", "repost_of_author": "''", "quote_of_author": "''",
    "mentions": "CAST([] AS Array(String))", "hashtags": "CAST([] AS Array(String))",
    "links": "CAST([] AS Array(String))",
    "likes": "toUInt32(h % 50)", "reposts": "toUInt32(h % 7)", "replies": "toUInt32(h % 5)",
    "quotes": "toUInt32(h % 3)",
    "brands": "if(h % 10 = 0 AND b2 != b1, [b1, b2], [b1])",
    "brand_rules": "arrayMap(x -> 'rule', brands)",
    "brand_sentiments": "arrayMap(i -> arrayElement(['negative', 'neutral', 'neutral', 'positive'], "
                        "multiIf(cityHash64(number, i) % 100 < 25, 1, cityHash64(number, i) % 100 < 70, 2, 4)), "
                        "arrayEnumerate(brands))",
    "brand_scores": "arrayMap(x -> toFloat32(0.5), brands)",
    "sentiment_label": "brand_sentiments[1]",
    "sentiment_score": "toFloat32(0)", "sentiment_confidence": "toFloat32(0.8)",
    "topics": "arraySlice([arrayElement({topics:Array(String)}, 1 + h3 % 12), "
              "arrayElement({topics:Array(String)}, 1 + intDiv(h3, 12) % 12)], 1, h3 % 3)",
    "topic_scores": "arrayMap(x -> toFloat32(0.7), topics)",
    "duplicate_of": "''",
    "conversation_id": "if(h % 10 < 6, concat('c', toString(intDiv(toUInt32(created_at) - "
                       "toUInt32(toDateTime({base:DateTime})), 21600)), '-', toString(h2 % 50)), '')",
    "_partition": "toInt32(0)", "_offset": "toInt64(number)", "_version": "toUInt64(1)",
    "repost_of_post": "''",
}
"""How the synthetic corpus fills each ``posts`` column (SQL over ``number`` and its hashes)."""


def generate_sql() -> str:
    """``INSERT INTO posts SELECT ...`` with one expression per column of the one column list
    (:data:`pipeline.storage.posts_table.POST_COLUMNS`); a column without a fill is an error."""
    from pipeline.storage.posts_table import POST_COLUMN_NAMES

    missing = [c for c in POST_COLUMN_NAMES if c not in FILL]
    extra = [c for c in FILL if c not in POST_COLUMN_NAMES]
    if missing or extra:
        raise SystemExit(f"bench_api FILL is out of date: missing {missing}, not columns {extra}")
    select = ",\n    ".join(f"{FILL[c]} AS {c}" for c in POST_COLUMN_NAMES)
    return f"""
INSERT INTO posts
SELECT
    {select}
FROM (
    SELECT number, cityHash64(number) AS h, cityHash64(number, 2) AS h2, cityHash64(number, 3) AS h3,
           arrayElement({{brands:Array(String)}}, 1 + toUInt32(pow((cityHash64(number, 7) % 10000) / 10000, 2) * 20)) AS b1,
           arrayElement({{brands:Array(String)}}, 1 + cityHash64(number, 8) % 20) AS b2,
           arrayElement(['en', 'en', 'en', 'en', 'en', 'en', 'en', 'en', 'fr', 'es'], 1 + cityHash64(number, 9) % 10) AS lang_
    FROM (SELECT number + {{start:UInt64}} AS number FROM numbers({{count:UInt64}}))
)
"""

ALERTS = """
INSERT INTO alerts
SELECT concat('al', toString(number)) AS id,
       arrayElement(['negative_spike', 'rising_voice', 'voice_negative'], 1 + number % 3) AS kind,
       'brand' AS subject_kind, arrayElement({brands:Array(String)}, 1 + number % 20) AS subject_id,
       subject_id AS brand_id, '' AS topic_id,
       arrayElement(['info', 'warning', 'critical'], 1 + cityHash64(number) % 3) AS severity,
       toFloat32(3.5) AS score, toDateTime({base:DateTime}) + number * 250 AS window_start,
       window_start + 600 AS window_end, 40. AS observed, 10. AS expected,
       concat(subject_id, ': 40 negative mentions vs 10 expected') AS explanation,
       concat('inc', toString(intDiv(number, 3))) AS incident_id, ['comms@example.com'] AS owners,
       window_end AS created_at, '{}' AS payload
FROM numbers({n:UInt64})
"""


def generate(ch: Any, rows: int, base: datetime) -> float:
    """Insert the synthetic corpus, 10k alerts, acks of a third of them and a voices snapshot; seconds taken."""
    t0 = time.perf_counter()
    chunk = 2_000_000  # bounded memory per INSERT (the views aggregate each block)
    sql = generate_sql()
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        ch.execute(sql, {"base": base, "span": DAYS * 86400, "n": rows, "start": start, "count": n,
                         "words": WORDS, "topics": TOPICS, "brands": BRANDS})
    ch.execute(ALERTS, {"base": base, "n": 10_000, "brands": BRANDS})
    now = datetime.now(UTC).replace(microsecond=0)
    ch.insert("alert_acks", [{"incident_id": f"inc{i // 3}", "alert_id": f"al{i}", "acked_by": "bench",
                              "note": "", "acked_at": now} for i in range(0, 10_000, 3)])
    ch.insert("conversations", [{"conversation_id": f"c{p}-{k}", "label": f"conversation {p}-{k}",
                                 "key_terms": [WORDS[k % 20], WORDS[(k * 7) % 20]], "size": 100,
                                 "first_seen": base, "last_seen": base, "merged_into": "", "updated_at": now}
                                for p in range(DAYS * 4) for k in range(50)])
    for subject in ["*", *BRANDS]:
        ch.insert("emerging_voices", [{
            "subject_id": subject, "author_id": f"u{i}", "handle": f"user{i}", "rank": i + 1, "score": 10.0 - i / 10,
            "growth": 2.0, "reach": 0.4, "resonance": 0.6, "relevance": 0.8,
            "reasons": ["replies from new authors", "reposted by larger accounts"], "snapshot_at": now,
        } for i in range(50)])
    return time.perf_counter() - t0


def cases(base: datetime) -> list[tuple[str, str, dict[str, Any]]]:
    end = base + timedelta(days=DAYS)
    day = {"from": (end - timedelta(days=1)).isoformat(), "to": end.isoformat()}
    return [
        ("brands", "/api/v1/brands", {}),
        ("overview 24h/15m", "/api/v1/brands/b00/overview", {}),
        ("overview 30d/6h", "/api/v1/brands/b00/overview",
         {"from": base.isoformat(), "to": end.isoformat(), "interval": "6h"}),
        ("overview small brand 7d/1h", "/api/v1/brands/b19/overview",
         {"from": (end - timedelta(days=7)).isoformat(), "to": end.isoformat(), "interval": "1h"}),
        ("trending all 1h", "/api/v1/conversations/trending", {}),
        ("trending brand 6h", "/api/v1/conversations/trending", {"brand": "b00", "window": "6h"}),
        ("trending brand+topic 24h", "/api/v1/conversations/trending", {"brand": "b01", "topic": "delays", "window": "24h"}),
        ("voices", "/api/v1/voices", {"subject": "b00"}),
        ("alerts", "/api/v1/alerts", {}),
        ("alerts brand open", "/api/v1/alerts", {"brand": "b03", "acknowledged": "false", "severity": "critical"}),
        ("posts brand+sentiment 1d", "/api/v1/posts", {"brand": "b00", "sentiment": "negative", **day}),
        ("posts q 1d", "/api/v1/posts", {"q": "Refund", **day}),
        ("posts author 30d", "/api/v1/posts", {"author": "user4242", "from": base.isoformat(), "to": end.isoformat()}),
        ("posts latest (no filter)", "/api/v1/posts", {"limit": 50}),
    ]


def measure(client: Any, headers: dict[str, str], base: datetime, runs: int) -> list[tuple[str, float, float, int]]:
    out = []
    for name, path, params in cases(base):
        times = []
        n_items = 0
        for i in range(runs + 1):
            t0 = time.perf_counter()
            r = client.get(path, params=params, headers=headers)
            dt = time.perf_counter() - t0
            if r.status_code != 200:
                raise RuntimeError(f"{name}: {r.status_code} {r.text[:300]}")
            if i:  # first call warms caches
                times.append(dt * 1000)
            body = r.json()
            n_items = len(body.get("items", body.get("series", [])))
        times.sort()
        out.append((name, statistics.median(times), times[max(0, int(round(0.95 * len(times))) - 1)], n_items))
        print(f"  {name:32s} p50={out[-1][1]:.1f} ms p95={out[-1][2]:.1f} ms", flush=True)
    return out


def run_backend(label: str, ch: Any, rows: int, runs: int, base: datetime, tmp: Path) -> tuple[list[tuple[str, float, float, int]], float]:
    from fastapi.testclient import TestClient

    from pipeline.api.app import create_api
    from pipeline.core.settings import load_settings
    from pipeline.storage.migrate import migrate
    from pipeline.storage.repository import Repository

    migrate(ch)
    gen = generate(ch, rows, base)
    n = int(ch.query("SELECT count() AS n FROM posts")[0]["n"])
    print(f"[{label}] generated {n} posts in {gen:.1f} s ({n / gen:,.0f} rows/s), version {ch.server_version()}")
    brands = tmp / "brands.yaml"
    brands.write_text("brands:\n" + "".join(
        f"  - {{id: {b}, name: Brand {b}, competitors: [{BRANDS[(i + 1) % 20]}, {BRANDS[(i + 2) % 20]}]}}\n"
        for i, b in enumerate(BRANDS)))
    settings = load_settings(brands_file=brands, api_read_tokens=["bench"])
    repo = Repository(ch)
    with TestClient(create_api(lambda: repo, settings)) as client:
        return measure(client, {"Authorization": "Bearer bench"}, base, runs), gen


def command(
    rows: int = typer.Option(10_000_000, "--rows", help="Synthetic posts to generate (30 days)."),
    runs: int = typer.Option(30, "--runs", help="Timed requests per endpoint."),
    server: bool = typer.Option(True, "--server/--no-server", help="Also run against the local clickhouse-server if reachable."),
    server_rows: int = typer.Option(0, "--server-rows", help="Rows for the server run (0 = same as --rows)."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(9000, "--port"),
) -> None:
    """Time every API endpoint over a generated corpus; last line: worst p95 per backend."""
    from pipeline.storage.backend import ChdbBackend, DriverBackend, StorageError

    base = (datetime.now(UTC) - timedelta(days=DAYS)).replace(minute=0, second=0, microsecond=0)
    results: dict[str, tuple[list[tuple[str, float, float, int]], float, int]] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ch = ChdbBackend(tmp / "chdb", "bench")
        try:
            res, gen = run_backend("chdb", ch, rows, runs, base, tmp)
            results["chdb"] = (res, gen, rows)
        finally:
            ch.close()
        if server:
            srv = DriverBackend(host, port, "hm_bench_" + uuid.uuid4().hex[:8], send_receive_timeout=600)
            try:
                srv.server_version()
            except StorageError as exc:
                print(f"[server] not reachable, skipped: {exc}")
            else:
                try:
                    n = server_rows or rows
                    res, gen = run_backend("server", srv, n, runs, base, tmp)
                    results["server"] = (res, gen, n)
                finally:
                    srv.execute(f"DROP DATABASE IF EXISTS {srv._database}")
                    srv.close()
    for label, (res, gen, n) in results.items():
        print(f"\n{label}: {n:,} posts, generated in {gen:.1f} s, {runs} runs per endpoint")
        print(f"{'endpoint':32s} {'p50 ms':>9s} {'p95 ms':>9s} {'items':>6s}")
        for name, p50, p95, items in res:
            print(f"{name:32s} {p50:9.1f} {p95:9.1f} {items:6d}")
    last = []
    for label, (res, gen, n) in results.items():
        worst = max(res, key=lambda r: r[2])
        last.append(f"{label}_rows={n} {label}_gen_s={gen:.1f} {label}_median_p50_ms={statistics.median(r[1] for r in res):.1f} "
                    f"{label}_worst_p95_ms={worst[2]:.1f} {label}_worst='{worst[0]}' "
                    f"{label}_over_200ms={sum(r[2] > 200 for r in res)}")
    print(" ".join(last))


if __name__ == "__main__":
    typer.run(command)
