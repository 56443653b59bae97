"""The live detector loop: reads ClickHouse aggregates, feeds the streaming detectors, raises alerts.

Runs on the Faust leader every ``detect_interval_s``. Time is event time: the newest minute in
the aggregates is the open bucket (fed with ``final=False`` so a spike can alert before its
minute closes); older minutes are final. Each alert is published to ``social.alerts``, stored
in ClickHouse and handed to the alert dispatcher (webhook, Slack, e-mail).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pipeline.detect.spikes import Detection, SpikeMonitor
from pipeline.schema import Alert, AlertWindow, Evidence, Subject, utcnow

log = logging.getLogger(__name__)

Publish = Callable[[Alert], Awaitable[None]]


class _Decisions:
    """AlertSink that remembers why the dispatcher did or did not deliver each alert."""

    def __init__(self) -> None:
        self.reasons: dict[str, str] = {}

    async def record(self, alert: Alert, *, delivered: bool, reason: str) -> None:
        self.reasons[alert.id] = "delivered" if delivered else reason
        if len(self.reasons) > 10_000:
            self.reasons.pop(next(iter(self.reasons)))


def severity_of(score: float) -> str:
    return "critical" if score >= 1.0 else "warning" if score >= 0.4 else "info"


class LiveDetector:
    """Negative-spike detection over per-minute aggregates for the configured subject kinds."""

    def __init__(
        self, repo_factory: Callable[[], Awaitable[Any]], publish: Publish,
        dispatcher: Any | None = None, kinds: Sequence[str] = ("brand",), bucket_s: int = 60,
        warmup: timedelta = timedelta(hours=24), public_url: str = "http://127.0.0.1:8080",
        lateness: timedelta = timedelta(minutes=2), voices: Any | None = None,
    ) -> None:
        self.lateness = lateness
        self.voices = voices
        self._repo_factory = repo_factory
        self._publish = publish
        self.dispatcher = dispatcher
        self.kinds = tuple(kinds)
        self.monitor = SpikeMonitor(bucket_s=bucket_s)
        self.warmup = warmup
        self.public_url = public_url.rstrip("/")
        self._fed_until: dict[str, datetime] = {}  # subject -> last final minute fed
        self._since: datetime | None = None
        self.raised: list[Alert] = []
        self.ticks = 0
        self.decisions: _Decisions | None = None

    @classmethod
    def from_worker(cls, worker: Any) -> LiveDetector:
        s = worker.settings
        dispatcher = None
        decisions = _Decisions()
        try:
            from pipeline.alerts.dispatcher import AlertDispatcher

            dispatcher = AlertDispatcher.from_settings(s, s.alert_state_dir or s.worker_data_dir / "alerts",
                                                       sink=decisions)
        except ModuleNotFoundError:
            log.warning("alert dispatcher not available; alerts go to Kafka and ClickHouse only")
        from pipeline.detect.live_voices import LiveVoices, own_accounts_from_brands

        live = cls(worker.repository, worker.publish_alert, dispatcher, kinds=s.spike_subject_kinds,
                   bucket_s=s.spike_bucket_s, public_url=s.public_url,
                   lateness=timedelta(seconds=s.spike_lateness_s),
                   voices=LiveVoices(own_accounts_from_brands(s.brands_file)))
        live.decisions = decisions
        return live

    async def tick(self, now: datetime | None = None) -> list[Alert]:
        """One detection pass; returns the alerts raised."""
        import asyncio

        repo = await self._repo_factory()
        loop = asyncio.get_running_loop()
        if self.dispatcher is not None and not getattr(self, "_dispatcher_started", False):
            await self.dispatcher.start()
            self._dispatcher_started = True
        if self._since is None:  # warm up on the last hours of event time, not wall-clock time
            latest = await loop.run_in_executor(None, repo.latest_minute)
            if latest is None:
                return []
            self._since = min(latest, now or utcnow()) - self.warmup
        since = self._since
        if self.voices is not None:
            await self.voices.tick(repo, self._emit, self.public_url)
        rows = await loop.run_in_executor(None, repo.minute_counts, since, self.kinds)
        if not rows:
            return []
        watermark = max(r.minute for r in rows)
        low = await loop.run_in_executor(None, repo.low_watermark)
        if low is not None:  # never finalise minutes a lagging partition may still fill
            watermark = min(watermark, low.replace(second=0))
        raised: list[Alert] = []
        for r in rows:
            key = f"{r.kind}:{r.subject}"
            final = r.minute < watermark - self.lateness
            if not final and r.minute != watermark:
                continue  # neither final nor the newest complete-able minute: wait
            if final and r.minute <= self._fed_until.get(key, datetime.min.replace(tzinfo=r.minute.tzinfo)):
                continue
            det = self.monitor.update(key, r.minute, float(r.negative), float(r.total), final=final)
            if final:
                self._fed_until[key] = r.minute
            if det is not None:
                alert = await self._alert(repo, r.kind, r.subject, det)
                if alert is not None:
                    raised.append(alert)
        # next pass re-reads the minutes that are not final yet (they may still grow)
        self._since = watermark - self.lateness
        self.ticks += 1
        return raised

    async def _alert(self, repo: Any, kind: str, subject: str, det: Detection) -> Alert | None:
        import asyncio

        start = det.ts
        end = det.ts + timedelta(seconds=self.monitor.bucket_s)
        brand_id = subject if kind == "brand" else subject.split("|")[0] if kind == "brand_topic" else None
        topic_id = subject if kind == "topic" else subject.split("|")[1] if kind == "brand_topic" else None
        ev: dict[str, Any] = {}
        if brand_id:
            ev = await asyncio.get_running_loop().run_in_executor(
                None, repo.spike_evidence, brand_id, start - timedelta(minutes=5), end)
        share = det.negative_share if det.negative_share is not None else ev.get("negative_share")
        alert = Alert(
            id=Alert.make_id("negative_spike", f"{kind}:{subject}", start),
            kind="negative_spike",
            subject=Subject(kind=kind, id=subject, brand_id=brand_id, topic_id=topic_id),  # type: ignore[arg-type]
            severity=severity_of(det.score),  # type: ignore[arg-type]
            score=det.score,
            window=AlertWindow(start=start, end=end),
            observed=det.observed, expected=det.expected,
            explanation=det.explanation,
            evidence=Evidence(
                post_ids=ev.get("post_ids", []), authors=ev.get("authors", []),
                conversations=ev.get("conversations", []), negative_share=share,
                links=[f"{self.public_url}/#/posts?brand={brand_id or ''}&sentiment=negative"],
                details={"p_value": det.p_value, "baseline_share": det.baseline_share,
                         "sample_texts": ev.get("texts", [])[:3]},
            ),
        )
        return await self._emit(alert, repo)

    async def _emit(self, alert: Alert, repo: Any | None = None) -> Alert | None:
        """Dispatch (dedupe, route, deliver), publish to ``social.alerts`` and store one alert."""
        import asyncio

        if self.dispatcher is not None:
            annotated = await self.dispatcher.submit(alert)
            if annotated is None:
                reason = self.decisions.reasons.get(alert.id, "") if self.decisions else ""
                if reason != "no_route":  # a duplicate of an open incident, a cap, a cooldown
                    log.info("alert %s suppressed (%s)", alert.id, reason or "incident")
                    return None
                log.warning("alert %s has no delivery route; recorded in Kafka and ClickHouse only", alert.id)
            else:
                alert = annotated
        log.warning("ALERT %s %s %s: %s", alert.severity, alert.kind, alert.subject.id, alert.explanation)
        await self._publish(alert)
        repo = repo or await self._repo_factory()
        await asyncio.get_running_loop().run_in_executor(None, repo.insert_alerts, [alert])
        self.raised.append(alert)
        return alert
