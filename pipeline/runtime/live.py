"""The live spike detector: every final bucket, in event-time order, exactly once.

Runs on the Faust leader every ``detect_interval_s``. Time is event time throughout:

- A bucket is *final* once it ends at or before the low watermark minus the allowed lateness
  (:meth:`Repository.low_watermark`: the oldest over active partitions of each partition's newest
  event time, robust to outlier dates). Only final buckets are judged, each once, in event-time
  order, from where the detector last stopped (or from the oldest stored minute within
  :data:`FRESH_START_HORIZON` of the watermark on a fresh start). So a replay at any speed or a
  backfill gives the same alerts as the same posts arriving live.
- Posts arriving within the lateness are counted; older ones are stored but never re-open a
  judged bucket, so they cannot re-trigger a past alert.
- Counts come from the per-minute aggregates, merged into ``bucket_s`` buckets (deduplicated by
  post id; brand rows use brand-targeted sentiment; reposts count).
- The detector's baselines and the event time it has judged everything before are saved to
  ClickHouse after every advance, so a restart or a new leader resumes without skipping a
  bucket; an alert id already stored is never raised again.

Each alert is dispatched (incidents on event time, routing to owners, delivery), published to
``social.alerts`` and stored in ClickHouse.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import mode
from pydantic import TypeAdapter

from pipeline.alerts import render
from pipeline.alerts.acks import repository_ack_feed, state_dir
from pipeline.alerts.dispatcher import AlertDispatcher
from pipeline.core.brands import load_brands
from pipeline.core.schema import (
    Alert,
    AlertWindow,
    Evidence,
    SamplePost,
    Subject,
    SubjectKind,
)
from pipeline.core.settings import Settings
from pipeline.detect.evidence import distinctive_terms
from pipeline.detect.live_voices import LiveVoices, own_accounts_from_brands
from pipeline.detect.spikes import Detection, SpikeMonitor, configured_monitors
from pipeline.relationships.watch import RosterWatch
from pipeline.runtime.ports import AlertPublisher
from pipeline.runtime.voice_process import ProcessFeed
from pipeline.storage.repository import BucketCount, Repository, RepositoryProvider

log = logging.getLogger(__name__)

_SUBJECT_KIND: TypeAdapter[SubjectKind] = TypeAdapter(SubjectKind)

STATE_NAME = "negative_spikes"
CHUNK = timedelta(days=1)
"""Event time read per query while catching up (bounds memory, saves progress daily)."""
FRESH_START_HORIZON = timedelta(days=35)
"""A fresh start reads at most five weeks behind the watermark: enough for the weekly baseline,
and a lone ancient post cannot make the detector walk years of empty buckets."""


def floor_to(ts: datetime, bucket_s: int) -> datetime:
    """Start of the ``bucket_s`` bucket (aligned to the epoch) holding ``ts``."""
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % bucket_s, ts.tzinfo)


@dataclass(frozen=True)
class _Fired:
    kind: str
    subject: str
    detection: Detection


class LiveDetector:
    """Negative-spike detection over stored aggregates for the configured subject kinds.

    Whoever holds the detector owns its lifecycle: :meth:`start` before the first :meth:`tick`,
    :meth:`stop` while the event loop still runs (:class:`DetectorService` does both with the
    Faust app), :meth:`close` at the end."""

    def __init__(
        self, repo_factory: RepositoryProvider, publish: AlertPublisher,
        dispatcher: AlertDispatcher | None = None, kinds: Sequence[str] = ("brand",), bucket_s: int = 60,
        public_url: str = "http://127.0.0.1:8080", lateness: timedelta = timedelta(minutes=2),
        voices: LiveVoices | None = None, monitor_factory: Callable[[int], SpikeMonitor] | None = None,
        roster: RosterWatch | None = None,
    ) -> None:
        if bucket_s <= 0 or bucket_s % 60:
            raise ValueError(f"spike_bucket_s must be a positive multiple of 60 seconds, got {bucket_s}")
        self.lateness = lateness
        self.voices = voices
        self.roster = roster
        self._repo_factory = repo_factory
        self._publish = publish
        self.dispatcher = dispatcher
        self.kinds = tuple(kinds)
        self.bucket_s = int(bucket_s)
        self._new_monitor = monitor_factory or (lambda b: SpikeMonitor(bucket_s=b))
        self.monitor: SpikeMonitor | None = None
        self.fed_until: datetime | None = None  # every bucket starting before this was judged
        self.public_url = public_url.rstrip("/")
        self.raised: list[Alert] = []
        self.ticks = 0

    # -- lifecycle (the dispatcher's delivery workers and outbox sweep) ----------------------
    async def start(self) -> None:
        """Start delivering: the dispatcher's channel workers and its outbox retry."""
        if self.dispatcher is not None:
            await self.dispatcher.start()

    async def stop(self) -> None:
        """Let queued deliveries finish (bounded); what is left stays in the outbox."""
        if self.dispatcher is not None:
            await self.dispatcher.stop()

    def close(self) -> None:
        """Close the dispatcher's incident book and outbox (after :meth:`stop`, or after a crash)
        and the emerging voices' feed (its process)."""
        if self.dispatcher is not None:
            self.dispatcher.close()
        if self.voices is not None:
            self.voices.close()

    # -- the loop ---------------------------------------------------------------------------
    async def tick(self) -> list[Alert]:
        """One pass: judge every bucket that became final since the last pass; returns the alerts raised."""
        repo = await self._repo_factory()
        loop = asyncio.get_running_loop()
        if self.voices is not None:
            await self.voices.tick(repo, self._emit, self.public_url)
        if self.roster is not None:  # rostered voices posting negatively: alert their owners
            await self.roster.tick(repo, self._emit)
        saved_at = await loop.run_in_executor(None, repo.detector_position, STATE_NAME)
        if self.monitor is None or saved_at != self.fed_until:  # first pass, or another leader moved on
            await loop.run_in_executor(None, self._restore, repo)
        low = await loop.run_in_executor(None, repo.low_watermark)
        if low is None:
            self.ticks += 1
            return []
        final_end = floor_to(low - self.lateness, self.bucket_s)  # buckets before it are final
        raised: list[Alert] = []
        while True:
            span = await loop.run_in_executor(None, self._next_span, repo, final_end)
            if span is None:
                break
            start, end = span
            rows = await loop.run_in_executor(None, repo.bucket_counts, start, end, self.bucket_s, self.kinds)
            fired = await loop.run_in_executor(None, self._feed, rows)
            for f in fired:
                alert = await self._alert(repo, f)
                if alert is not None:
                    raised.append(alert)
            self.fed_until = end
            assert self.monitor is not None
            await loop.run_in_executor(None, repo.save_detector_state, STATE_NAME, end,
                                       {"bucket_s": self.bucket_s, "monitor": self.monitor.to_dict()})
        self.ticks += 1
        return raised

    def _restore(self, repo: Repository) -> None:
        self.fed_until = None
        saved = repo.load_detector_state(STATE_NAME)
        if saved is not None:
            fed_until, state = saved
            self.fed_until = fed_until
            if int(state.get("bucket_s", 0)) == self.bucket_s:
                try:
                    self.monitor = SpikeMonitor.from_dict(state["monitor"])
                except (ValueError, KeyError, TypeError) as exc:  # e.g. a detector upgrade changed the state
                    log.warning("saved spike-detector state unusable (%s): baselines restart at %s",
                                exc, fed_until.isoformat())
                else:
                    configured = self._new_monitor(self.bucket_s)  # sensitivity as configured now
                    self.monitor.sensitivity = configured.sensitivity
                    self.monitor.overrides = configured.overrides
                    log.info("spike detector resumes at %s", fed_until.isoformat())
                    return
            else:
                log.warning("spike bucket changed from %ss to %ss: baselines restart at %s",
                            state.get("bucket_s"), self.bucket_s, fed_until.isoformat())
        self.monitor = self._new_monitor(self.bucket_s)

    def _next_span(self, repo: Repository, final_end: datetime) -> tuple[datetime, datetime] | None:
        """The next ``[start, end)`` of final buckets to judge, jumping over stretches with no data."""
        since = self.fed_until if self.fed_until is not None else final_end - FRESH_START_HORIZON
        if since >= final_end:
            return None
        first = repo.first_minute(since, self.kinds)
        if first is None or first >= final_end:
            return None  # nothing stored before the watermark yet
        start = max(since, floor_to(first, self.bucket_s))
        return start, min(final_end, start + CHUNK)

    def _feed(self, rows: Sequence[BucketCount]) -> list[_Fired]:
        """Feed final buckets (event-time order) to the monitor; runs off the event loop."""
        assert self.monitor is not None
        fired = []
        for r in rows:
            det = self.monitor.update(f"{r.kind}:{r.subject}", r.start, float(r.negative), float(r.total))
            if det is not None:
                fired.append(_Fired(r.kind, r.subject, det))
        return fired

    # -- alerts -----------------------------------------------------------------------------
    async def _alert(self, repo: Repository, fired: _Fired) -> Alert | None:
        kind, subject, det = fired.kind, fired.subject, fired.detection
        brand_id = subject if kind == "brand" else subject.split("|")[0] if kind == "brand_topic" else None
        topic_id = subject if kind == "topic" else subject.split("|")[1] if kind == "brand_topic" else None
        alert_id = Alert.make_id("negative_spike", f"{kind}:{subject}|{det.window_s}", det.start)
        loop = asyncio.get_running_loop()
        if await loop.run_in_executor(None, repo.stored_alert_ids, [alert_id]):
            return None  # raised before a restart: never twice
        ev: dict[str, Any] = {}
        if brand_id:
            ev = await loop.run_in_executor(None, repo.spike_evidence, brand_id, det.start, det.at)
        terms = await loop.run_in_executor(
            None, lambda: distinctive_terms(ev.get("spike_texts", []), ev.get("baseline_texts", []),
                                            exclude=[brand_id or ""]))
        share = det.negative_share if det.negative_share is not None else ev.get("negative_share")
        explanation = render.spike_sentence(det.observed, det.expected, det.window_s)
        if share is not None:
            explanation += f"; negative share {share:.0%}"
            if det.baseline_share is not None:
                explanation += f" vs {det.baseline_share:.0%} usual"
        alert = Alert(
            id=alert_id,
            kind="negative_spike",
            subject=Subject(kind=_SUBJECT_KIND.validate_python(kind), id=subject, brand_id=brand_id, topic_id=topic_id),
            severity=det.severity,
            score=det.score,
            window=AlertWindow(start=det.start, end=det.at),
            observed=det.observed, expected=det.expected,
            explanation=explanation + ".",
            evidence=Evidence(
                post_ids=ev.get("post_ids", []),
                samples=[SamplePost(**p) for p in ev.get("samples", [])],
                authors=[render.handle(a) for a in ev.get("authors", [])],
                key_terms=terms, conversations=ev.get("conversations", []), negative_share=share,
                links=[f"{self.public_url}/#/posts?" + urlencode({  # the negative posts of the evidence window
                    "brand": brand_id or "", "sentiment": "negative",
                    "from": det.start.strftime("%Y-%m-%dT%H:%M:%SZ"), "to": det.at.strftime("%Y-%m-%dT%H:%M:%SZ")})],
                details={"p_value": det.p_value, "baseline_share": det.baseline_share, "window_s": det.window_s},
            ),
        )
        return await self._emit(alert, repo)

    async def _emit(self, alert: Alert, repo: Repository | None = None) -> Alert | None:
        """Dispatch (incident, owners, delivery), publish to ``social.alerts`` and store one alert.

        An alert the incident rules hold back (a duplicate of an open incident, a cap, a
        cooldown, a replay) is neither published nor stored; one without a delivery route is."""
        if self.dispatcher is not None:
            admission = await self.dispatcher.review(alert)
            if not admission.delivered and admission.reason != "no_route":
                log.info("alert %s held back (%s)", alert.id, admission.reason)
                return None
            if not admission.delivered:
                log.warning("alert %s has no delivery route; recorded in Kafka and ClickHouse only", alert.id)
            alert = admission.alert
        log.warning("ALERT %s %s %s: %s", alert.severity, alert.kind, alert.subject.id, alert.explanation)
        await self._publish(alert)
        repo = repo or await self._repo_factory()
        await asyncio.get_running_loop().run_in_executor(None, repo.insert_alerts, [alert])
        self.raised.append(alert)
        return alert


def build_live_detector(settings: Settings, repository: RepositoryProvider, publish: AlertPublisher) -> LiveDetector:
    """The leader's detector as configured: negative spikes, emerging voices and the roster
    watch, each alert dispatched (incidents, owners, delivery) before it is published."""
    dispatcher = AlertDispatcher.from_settings(settings, state_dir(settings), ack_feed=repository_ack_feed(repository))
    return LiveDetector(
        repository, publish, dispatcher, kinds=settings.spike_subject_kinds, bucket_s=settings.spike_bucket_s,
        public_url=settings.public_url, lateness=timedelta(seconds=settings.spike_lateness_s),
        voices=LiveVoices(ProcessFeed(own_accounts_from_brands(settings.brands_file))), monitor_factory=configured_monitors(
            settings.spike_ratio, settings.spike_excess_per_hour, load_brands(settings.brands_file)),
        roster=RosterWatch(settings.public_url, settings.people_file),
    )


class DetectorService(mode.Service):
    """A detector's lifecycle as a child of the Faust app: started when added to the running app,
    stopped with it while its event loop still runs."""

    def __init__(self, detector: LiveDetector) -> None:
        super().__init__()
        self.detector = detector

    async def on_start(self) -> None:
        await self.detector.start()

    async def on_stop(self) -> None:
        await self.detector.stop()
