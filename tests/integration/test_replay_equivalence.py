"""Event time end to end against the real Kafka: one generated file replayed through the file
replay connector and a real worker as fast as possible (``--speed 0``) and time-warped gives the
same negative-spike alerts (brand, event time raised, evidence window) as ``eval buzz`` on the
same file, which runs the same tagging, counting and detection without Kafka. The fast replay
also carries a few posts with stray dates (months ahead of the stream), which must change nothing."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.file_replay import replay_file
from pipeline.core.kafka import PostProducer
from pipeline.evaluation.live_stack import start_worker, stop_worker
from pipeline.evaluation.sample import SampleSpec, write_sample
from tests.integration.harness import lag, read_topic, wait_until
from tests.integration.test_pipeline_e2e import worker_env

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SPEC = SampleSpec(posts=1500, spike_posts=150)  # 8 h, three brands, a 6-minute burst at 7h10
WARP = 1200.0  # 8 h of event time in 24 s


def with_outliers(posts: Path, out: Path, n: int = 4) -> int:
    """``posts`` with ``n`` posts dated an hour before the wall clock (months after the stream:
    a stray date of a replayed feed) inserted early in the file; returns the number of posts."""
    lines = posts.read_text(encoding="utf-8").splitlines()
    stray = []
    for k in range(n):
        post = json.loads(lines[k])
        post["id"] = f"stray{k}"
        post["created_at"] = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        stray.append(json.dumps(post))
    lines[300:300] = stray
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def live_alerts(posts: Path, speed: float, namespace: str, tmp: Path, bootstrap: str) -> list[tuple[str, str, str]]:
    """(brand, at, window start) of the alerts a worker publishes for ``posts`` replayed at ``speed``."""
    group = f"{namespace}.hypermicro-worker"
    topics = [f"{namespace}.social.posts.raw", f"{namespace}.social.posts.enriched"]
    tmp.mkdir(parents=True, exist_ok=True)
    proc = start_worker(worker_env(namespace, tmp, bootstrap), tmp / "worker.log")
    try:
        with PostProducer(bootstrap) as producer:
            stats = replay_file(posts, producer, topics[0], speed=speed, progress=False)
        assert stats.sent == sum(1 for _ in posts.open(encoding="utf-8"))
        wait_until(lambda: lag(bootstrap, group, topics) == 0, timeout=240, what="worker to store every post")
        wait_until(lambda: read_topic(bootstrap, f"{namespace}.social.alerts", 1000) != [], timeout=60,
                   what="the spike alert")
        time.sleep(8)  # a few more detector passes: any further alert would be published by now
        assert proc.poll() is None, (tmp / "worker.log").read_text()[-3000:]
    finally:
        stop_worker(proc)
    out = []
    for m in read_topic(bootstrap, f"{namespace}.social.alerts"):
        a: dict[str, Any] = json.loads(m.value)
        if a["kind"] == "negative_spike":
            out.append((a["subject"]["id"], _iso(a["window"]["end"]), _iso(a["window"]["start"])))
    return sorted(out)


def _iso(text: str) -> str:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()


def test_replay_at_any_speed_gives_the_alerts_of_eval_buzz(kafka_bootstrap: str, namespace: str, tmp_path: Path) -> None:
    posts = tmp_path / "posts.jsonl"
    truth = write_sample(posts, SPEC)
    stray = tmp_path / "posts_with_stray_dates.jsonl"  # speed 0 only: a time-warped replay would wait for them
    with_outliers(posts, stray)
    fast = live_alerts(stray, 0.0, namespace + "f", tmp_path / "fast", kafka_bootstrap)
    warped = live_alerts(posts, WARP, namespace + "w", tmp_path / "warped", kafka_bootstrap)
    assert fast == warped  # and stray dates neither moved the detector's "now" nor made it skip buckets
    assert [a[0] for a in fast] == [truth["spike"]["brand"]]  # the planted episode, nothing else
    assert truth["spike"]["start"] < fast[0][1] <= truth["spike"]["end"]

    from pipeline.core.settings import load_settings
    from pipeline.evaluation.buzz import run

    settings = load_settings()
    expected, _ = run(posts, settings.brands_file, settings)
    offline = sorted((a.brand, a.at.isoformat(), (a.at - timedelta(seconds=a.window_s)).isoformat()) for a in expected)
    assert fast == offline
