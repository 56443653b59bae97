"""The live detector over stored aggregates (chDB): event time end to end.

What users rely on: a planted spike alerts once, with evidence a person can read; the same posts
give the same alerts whether they arrive all at once (backfill, fast replay) or minute by minute
(live); a restart neither repeats nor misses an alert; outlier dates cannot blind the detector;
late posts within the lateness count and older ones never re-trigger a past alert.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.alerts.render import summary_line
from pipeline.core.schema import Alert, BrandMention, EnrichedPost, RawPost, Sentiment
from pipeline.runtime.live import STATE_NAME, LiveDetector, build_live_detector
from pipeline.storage.backend import ChdbBackend, ClickHouse, DriverBackend
from pipeline.storage.migrate import migrate
from pipeline.storage.repository import Repository

T0 = datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
QUIET_H = 7  # the detector needs 6 complete hours of history before it judges
SPIKE_AT = T0 + timedelta(hours=QUIET_H)
COMPLAINT = "nimbus lost my luggage again, refund now"


def post(i: int, at: datetime, label: str, text: str = "") -> EnrichedPost:
    raw = RawPost.model_validate({
        "id": str(i), "source": "t", "created_at": at.isoformat(), "url": f"https://t.example/{i}",
        "text": text or ("nimbus flight was fine" if label != "negative" else "nimbus is meh today"),
        "author": {"id": f"a{i}", "handle": f"user{i % 40}"},
    })
    return EnrichedPost(post=raw, sentiment=Sentiment(label=label), kafka_partition=i % 4, kafka_offset=i,
                        brands=[BrandMention(brand_id="nimbus", matched_text="nimbus", start=0, end=6,
                                             rule="name", sentiment=label)])


def stream(quiet_h: int = QUIET_H, spike_min: int = 5, after_min: int = 15) -> list[EnrichedPost]:
    """Quiet traffic (2 posts a minute, one negative every 4 minutes), a 30-a-minute negative
    burst of ``spike_min`` minutes, then quiet again so the burst's buckets become final."""
    rows: list[EnrichedPost] = []
    for minute in range(quiet_h * 60 + spike_min + after_min):
        at = T0 + timedelta(minutes=minute)
        in_spike = quiet_h * 60 <= minute < quiet_h * 60 + spike_min
        for k in range(30 if in_spike else 2):
            label = "negative" if in_spike or (k == 0 and minute % 4 == 0) else "positive"
            rows.append(post(len(rows), at + timedelta(seconds=k), label, COMPLAINT if in_spike else ""))
    return rows


class Harness:
    """A repository (chDB at ``path``, or the given backend) and a live detector publishing into a list."""

    def __init__(self, path: Path, backend: ClickHouse | None = None, **kw: object) -> None:
        self.ch = backend or ChdbBackend(path, "hypermicro")
        migrate(self.ch)
        self.repo = Repository(self.ch)
        self.published: list[Alert] = []
        self.kw = kw
        self.live = self.detector()

    def detector(self) -> LiveDetector:
        async def repo_factory() -> Repository:
            return self.repo

        async def publish(alert: Alert) -> None:
            self.published.append(alert)

        return LiveDetector(repo_factory, publish, **self.kw)  # type: ignore[arg-type]

    async def feed(self, posts: Sequence[EnrichedPost], step: timedelta | None = None) -> None:
        """Store posts all at once (``step`` None) or in event-time slices of ``step``, ticking after each."""
        if step is None:
            self.repo.insert_posts(list(posts))
            await self.live.tick()
            return
        start = posts[0].post.created_at
        while True:
            end = start + step
            batch = [p for p in posts if start <= p.post.created_at < end]
            if not batch and start > posts[-1].post.created_at:
                break
            if batch:
                self.repo.insert_posts(batch)
            await self.live.tick()
            start = end

    def spans(self) -> list[tuple[str, datetime, datetime]]:
        return [(a.subject.id, a.window.start, a.window.end) for a in self.published]


@pytest.fixture
def harness(tmp_path: Path):
    h = Harness(tmp_path / "chdb")
    yield h
    h.ch.close()


async def test_spike_raises_one_alert_a_person_can_read(harness: Harness) -> None:
    await harness.feed(stream())
    await harness.live.tick()  # a second pass over the same data raises nothing new
    assert len(harness.published) == 1
    alert = harness.published[0]
    assert alert.subject.id == "nimbus" and alert.kind == "negative_spike"
    assert SPIKE_AT < alert.window.end <= SPIKE_AT + timedelta(minutes=5)  # raised during the burst
    assert alert.window.start < alert.window.end
    assert alert.observed >= 30 and alert.expected < 2
    window_min = round((alert.window.end - alert.window.start).total_seconds() / 60)
    assert alert.explanation.startswith(f"{alert.observed:.0f} negative mentions in the last {window_min} minutes vs ")
    multiplier = f"({alert.observed / alert.expected:.0f}x)"
    assert multiplier in alert.explanation and multiplier in summary_line(alert)  # one multiplier everywhere
    ev = alert.evidence
    assert ev.samples and all(s.text == COMPLAINT and s.author.startswith("user") for s in ev.samples)
    assert ev.authors and all(a.startswith("@user") for a in ev.authors)
    assert {"lost", "luggage", "refund"} <= set(ev.key_terms) and "nimbus" not in ev.key_terms
    assert ev.negative_share and ev.negative_share > 0.75  # 31 of 38 posts in the 5-minute window
    assert harness.ch.query("SELECT count() AS n FROM alerts")[0]["n"] == 1


async def test_backfill_and_live_arrival_give_the_same_alerts(tmp_path: Path) -> None:
    posts = stream()
    runs = []
    for name, step in (("backfill", None), ("live", timedelta(minutes=7))):  # 7: slices off the buckets
        h = Harness(tmp_path / name)  # chDB: one data path per process at a time
        try:
            await h.feed(posts, step=step)
            runs.append([(a.id, *span) for a, span in zip(h.published, h.spans(), strict=True)])
        finally:
            h.ch.close()
    assert runs[0] and runs[0] == runs[1]


async def test_coarse_buckets_count_every_minute(tmp_path: Path) -> None:
    h = Harness(tmp_path / "chdb", bucket_s=300)
    try:
        posts = stream()
        await h.feed(posts)
        counts = h.repo.bucket_counts(SPIKE_AT, SPIKE_AT + timedelta(minutes=5), 300)
        assert [(c.total, c.negative) for c in counts] == [(150, 150)]  # 5 minutes x 30, none dropped
        (alert,) = h.published
        assert alert.window.end == SPIKE_AT + timedelta(minutes=5) and alert.observed >= 150
    finally:
        h.ch.close()


@pytest.mark.parametrize("backend", ["chdb", pytest.param("server", marks=pytest.mark.chserver)])
async def test_restart_resumes_without_repeating_or_missing(tmp_path: Path, backend: str,
                                                             request: pytest.FixtureRequest) -> None:
    posts = stream()
    server = None
    if backend == "server":  # several workers share a server: a new leader resumes the old one's state
        host, port = request.getfixturevalue("clickhouse_server")
        server = DriverBackend(host, port, "hm_live_" + uuid.uuid4().hex[:8])
    h = Harness(tmp_path / "chdb", server)
    try:
        before = [p for p in posts if p.post.created_at < SPIKE_AT + timedelta(minutes=2)]
        await h.feed(before)
        assert h.published == []
        saved = h.repo.detector_position(STATE_NAME)
        assert saved is not None and saved <= SPIKE_AT
        h.live = h.detector()  # a restarted worker, or another leader
        await h.feed([p for p in posts if p not in before])
        h.live = h.detector()
        await h.live.tick()  # and another restart after the alert: nothing again
        assert len(h.published) == 1 and SPIKE_AT < h.published[0].window.end <= SPIKE_AT + timedelta(minutes=5)
    finally:
        if server is not None:
            server.execute(f"DROP DATABASE IF EXISTS {server._database}")  # type: ignore[attr-defined]
        h.ch.close()


async def test_outlier_dates_neither_move_now_nor_skip_buckets(harness: Harness) -> None:
    posts = stream()
    cut = next(i for i, p in enumerate(posts) if p.post.created_at >= SPIKE_AT - timedelta(minutes=30))
    await harness.feed(posts[:cut])
    fed = harness.live.fed_until
    outliers = [post(10_000 + n, datetime(2100, 1, 1, tzinfo=UTC), "negative") for n in range(8)]  # 2 a partition
    outliers += [post(20_000 + n, datetime(2001, 1, 1, tzinfo=UTC), "negative") for n in range(4)]
    await harness.feed(outliers)
    assert harness.live.fed_until == fed  # the future did not become final
    await harness.feed(posts[cut:])
    assert [s[0] for s in harness.spans()] == ["nimbus"]  # the planted spike still alerts
    assert harness.repo.count_posts() == len(posts) + len(outliers)  # outliers are stored, not lost


async def test_late_posts_count_within_lateness_and_never_retrigger(harness: Harness) -> None:
    posts = stream()
    burst = [p for p in posts if SPIKE_AT <= p.post.created_at < SPIKE_AT + timedelta(minutes=5)]
    on_time = [p for p in posts if p not in burst[1::2]]
    late = burst[1::2]  # half the burst arrives a minute late: within the 2-minute lateness
    first = [p for p in on_time if p.post.created_at < SPIKE_AT + timedelta(minutes=6)]
    await harness.feed(first)
    await harness.feed(late)
    await harness.feed([p for p in on_time if p not in first])
    (alert,) = harness.published
    assert alert.observed >= 30  # the late half was counted
    # a burst that is only stored hours after its minutes were judged: stored, never alerted
    old = [post(50_000 + n, SPIKE_AT - timedelta(hours=2), "negative", COMPLAINT) for n in range(200)]
    await harness.feed(old)
    assert len(harness.published) == 1
    assert harness.repo.count_posts() == len(posts) + len(old)


async def test_alert_carries_owners_and_incident_from_the_dispatcher(tmp_path: Path) -> None:
    from pipeline.alerts.dispatcher import AlertDispatcher
    from pipeline.core.settings import load_settings

    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"
    settings = load_settings(brands_file=fixtures / "brands.yaml", topics_file=fixtures / "topics.yaml")
    dispatcher = AlertDispatcher.from_settings(settings, tmp_path / "alerts")  # no channels: recorded only
    h = Harness(tmp_path / "chdb", dispatcher=dispatcher)
    try:
        await h.feed(stream())
        (alert,) = h.published
        assert alert.owners == ["comms-nimbus@example.com"] and alert.incident_id
        (incident,) = dispatcher.incidents.list_incidents()
        assert incident.id == alert.incident_id and incident.last_seen_at == alert.window.end  # event time
        stored = h.ch.query("SELECT incident_id, owners FROM alerts")
        assert stored == [{"incident_id": alert.incident_id, "owners": ["comms-nimbus@example.com"]}]
    finally:
        await dispatcher.stop()
        dispatcher.close()
        h.ch.close()


async def test_detector_built_from_settings_routes_its_alert_and_keeps_the_book_in_the_state_dir(
        tmp_path: Path) -> None:
    from pipeline.core.settings import load_settings

    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"
    settings = load_settings(brands_file=fixtures / "brands.yaml", topics_file=fixtures / "topics.yaml",
                             alert_state_dir=tmp_path / "alerts", worker_data_dir=tmp_path / "worker")
    h = Harness(tmp_path / "chdb")

    async def repository() -> Repository:
        return h.repo

    async def publish(alert: Alert) -> None:
        h.published.append(alert)

    h.live = build_live_detector(settings, repository, publish)
    await h.live.start()
    try:
        await h.feed(stream())
    finally:
        await h.live.stop()
        h.live.close()
        h.ch.close()
    (alert,) = [a for a in h.published if a.kind == "negative_spike"]
    assert alert.subject.id == "nimbus" and alert.owners == ["comms-nimbus@example.com"] and alert.incident_id
    assert (tmp_path / "alerts" / "incidents.sqlite3").exists() and not (tmp_path / "worker").exists()


async def test_unusable_saved_state_restarts_baselines_where_it_stopped(harness: Harness) -> None:
    harness.repo.save_detector_state(STATE_NAME, SPIKE_AT, {"bucket_s": 60, "monitor": {"version": -1}})
    await harness.live.tick()  # no crash loop after a detector upgrade
    assert harness.live.monitor is not None and harness.live.fed_until == SPIKE_AT
