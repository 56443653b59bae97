"""The alert dispatcher: incidents + routing + durable, independent per-channel delivery.

``submit(alert)`` decides (incident dedupe/escalation), routes, writes one outbox entry per
channel and returns at once; per-channel asyncio workers (:mod:`pipeline.alerts.delivery`)
deliver from bounded queues, so a slow or failing channel never blocks another channel or the
caller. Failed deliveries stay in the outbox and a periodic sweep retries them; a restart resumes
from the outbox.

Incident grouping, cooldowns and caps run on the alert's event time (see
:mod:`pipeline.alerts.incidents`); delivery timeouts, outbox retries and pruning run on the wall
clock, because they are about the channels and this process, not about the posts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pipeline.alerts.acks import INCIDENTS_DB, AckFeed
from pipeline.alerts.channels import (
    AlertChannel,
    EmailChannel,
    SlackChannel,
    SmtpConfig,
    WebhookChannel,
)
from pipeline.alerts.delivery import Deliveries, RetryReport
from pipeline.alerts.incidents import IncidentBook
from pipeline.alerts.metrics import ALERTS_SUPPRESSED, OUTBOX_SIZE
from pipeline.alerts.outbox import Outbox
from pipeline.alerts.owners import OwnerDirectory
from pipeline.alerts.routing import Router
from pipeline.core.clock import utc_now
from pipeline.core.routes import Destination, Route, RoutingConfig, load_routes
from pipeline.core.schema import Alert
from pipeline.core.settings import Settings

log = logging.getLogger(__name__)

OUTBOX_DB = "outbox.sqlite3"


@runtime_checkable
class AlertSink(Protocol):
    """Where every submitted alert is stored (e.g. the ClickHouse ``alerts`` table)."""

    async def record(self, alert: Alert, *, delivered: bool, reason: str) -> None:
        """Store ``alert`` (already annotated with ``incident_id``/``owners``).

        ``delivered`` says whether it was sent to anyone; ``reason`` is the incident decision
        (new, escalation, duplicate, acknowledged, cooldown, rate_limited, replay, no_route).
        Must be idempotent on ``alert.id``. Errors are logged by the dispatcher, never raised.
        """
        ...


@dataclass(frozen=True)
class Admission:
    """What :meth:`AlertDispatcher.review` did with one alert."""

    alert: Alert
    """The alert annotated with its ``incident_id`` and ``owners`` (also when not delivered)."""
    delivered: bool
    reason: str
    """The incident decision (new, escalation, duplicate, ...) or ``no_route``."""


def default_routing(channels: Iterable[str]) -> RoutingConfig:
    """Routing used without a routing file: owners by e-mail (their address) and Slack, the
    generic webhook gets everything, unowned subjects go to Slack (``pr-desk``)."""
    names = set(channels)
    fallback = tuple(Destination(channel=c) for c in ("email", "slack") if c in names)
    broadcast = tuple(Destination(channel=c) for c in ("webhook",) if c in names)
    return RoutingConfig(fallback=Route(destinations=fallback), broadcast=broadcast)




def channels_from_settings(settings: Settings, names: Mapping[str, str] | None = None) -> dict[str, AlertChannel]:
    """The channels whose settings are present: ``webhook``, ``slack``, ``email``."""
    channels: dict[str, AlertChannel] = {}
    if settings.webhook_url:
        channels["webhook"] = WebhookChannel(settings.webhook_url, settings.webhook_secret.get_secret_value(),
                                             allow_unsigned=settings.webhook_allow_unsigned)
    slack_url = settings.slack_webhook_url.get_secret_value()
    if slack_url:
        channels["slack"] = SlackChannel(slack_url, settings.public_url, names=names)
    if settings.smtp_host:
        smtp = SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() or None,
            starttls=settings.smtp_starttls,
            ssl=settings.smtp_ssl,
        )
        channels["email"] = EmailChannel(smtp, settings.public_url, names=names)
    return channels


class AlertDispatcher:
    """Dedupe, route and deliver alerts; see the module docstring."""

    def __init__(
        self,
        channels: dict[str, AlertChannel],
        router: Router,
        incidents: IncidentBook,
        outbox: Outbox,
        *,
        sink: AlertSink | None = None,
        queue_size: int = 1000,
        workers_per_channel: int = 2,
        delivery_timeout_s: float = 60.0,
        retry_interval_s: float = 30.0,
        drain_timeout_s: float = 10.0,
        sink_timeout_s: float = 10.0,
        prune_interval_s: float = 3600.0,
        clock: Callable[[], datetime] = utc_now,
        ack_feed: AckFeed | None = None,
    ) -> None:
        router.check_channels(channels)
        self.router = router
        self.incidents = incidents
        self.outbox = outbox
        self.deliveries = Deliveries(dict(channels), outbox, queue_size=queue_size,
                                     workers_per_channel=workers_per_channel,
                                     delivery_timeout_s=delivery_timeout_s, drain_timeout_s=drain_timeout_s)
        self.sink = sink
        self.retry_interval_s = retry_interval_s
        self.sink_timeout_s = sink_timeout_s
        self.prune_interval_s = prune_interval_s
        self.clock = clock
        self.ack_feed = ack_feed
        self._acks_since: datetime | None = None
        self._lock = threading.Lock()
        self._sweeper: asyncio.Task[None] | None = None
        if not self.channels:
            log.warning("no alert channels configured: alerts are recorded but delivered nowhere")
        OUTBOX_SIZE.set(self.outbox.count())

    @property
    def channels(self) -> dict[str, AlertChannel]:
        """The configured channels by name (the dict the delivery workers use)."""
        return self.deliveries.channels

    @classmethod
    def from_settings(cls, settings: Settings, state_dir: Path, *, sink: AlertSink | None = None,
                      **kwargs: Any) -> AlertDispatcher:
        """Build channels, router, incident book and outbox from settings; state under ``state_dir``."""
        state_dir = Path(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        directory = OwnerDirectory.from_files(settings.brands_file, settings.topics_file)
        channels = channels_from_settings(settings, directory.names)
        config = load_routes(settings.alert_routes_file) if settings.alert_routes_file else default_routing(channels)
        incidents = IncidentBook(
            state_dir / INCIDENTS_DB,
            window_s=settings.alert_incident_window_s,
            cooldown_s=settings.alert_cooldown_s,
            escalation_factor=settings.alert_escalation_factor,
            max_per_subject=settings.alert_max_per_subject,
            cap_window_s=settings.alert_cap_window_s,
        )
        outbox = Outbox(state_dir / OUTBOX_DB,
                        max_attempts=settings.alert_outbox_max_attempts)
        opts: dict[str, Any] = {
            "delivery_timeout_s": settings.alert_delivery_timeout_s,
            "retry_interval_s": settings.alert_outbox_retry_s,
        }
        opts.update(kwargs)
        return cls(channels, Router(config, directory), incidents, outbox, sink=sink, **opts)

    # ------------------------------------------------------------------ submission

    def _admit(self, alert: Alert) -> tuple[Alert, bool, str, list[tuple[int, str]]]:
        route = self.router.route(alert)
        with self._lock:
            decision = self.incidents.decide(alert)
            annotated = alert.model_copy(
                update={"incident_id": decision.incident_id, "owners": list(route.owners)}
            )
            deliver, reason = decision.deliver, decision.reason
            if deliver and not route.deliveries:
                deliver, reason = False, "no_route"
            entries: list[tuple[int, str]] = []
            if deliver:  # durable before the decision is recorded: a crash in between re-delivers
                entries = [(self.outbox.add(annotated, ch, rcpts), ch) for ch, rcpts in route.deliveries.items()]
            self.incidents.record(alert, decision, delivered=deliver)
        if deliver:
            OUTBOX_SIZE.set(self.outbox.count())
        else:
            ALERTS_SUPPRESSED.labels(reason=reason).inc()
            log.debug("alert %s suppressed (%s), incident %s", alert.id, reason, decision.incident_id)
        return annotated, deliver, reason, entries

    async def _record(self, alert: Alert, delivered: bool, reason: str) -> None:
        if self.sink is None:
            return
        try:
            await asyncio.wait_for(self.sink.record(alert, delivered=delivered, reason=reason), self.sink_timeout_s)
        except Exception:
            log.exception("alert sink failed for alert %s", alert.id)

    async def review(self, alert: Alert) -> Admission:
        """Admit one alert: decide, annotate (incident_id, owners), queue its deliveries.
        Delivery happens in the background (see :meth:`start`); channel failures never
        propagate here."""
        await self.sync_acks()
        annotated, deliver, reason, entries = self._admit(alert)
        if self.deliveries.running:
            for entry_id, channel in entries:
                self.deliveries.enqueue(entry_id, channel)
        await self._record(annotated, deliver, reason)
        return Admission(annotated, deliver, reason)

    async def submit(self, alert: Alert) -> Alert | None:
        """:meth:`review`; the annotated alert if it is to be delivered, None when suppressed."""
        admission = await self.review(alert)
        return admission.alert if admission.delivered else None

    def submit_sync(self, alert: Alert) -> Alert | None:
        """Outside an event loop: :meth:`submit` and deliver it now (failures stay in the outbox)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._submit_and_deliver(alert))
        raise RuntimeError("submit_sync() called inside an event loop: await submit() instead")

    async def _submit_and_deliver(self, alert: Alert) -> Alert | None:
        annotated, deliver, reason, entries = self._admit(alert)
        await self._record(annotated, deliver, reason)
        await asyncio.gather(*(self.deliveries.deliver_id(entry_id) for entry_id, _ in entries))
        return annotated if deliver else None

    async def sync_acks(self) -> int:
        """Apply acknowledgements made elsewhere (the API, via ``ack_feed``) to the incident book,
        so an acknowledged incident stops paging at once; returns incidents changed. A failing
        feed is logged and retried at the next pass (see :mod:`pipeline.alerts.acks`)."""
        if self.ack_feed is None:
            return 0
        try:
            records = await asyncio.wait_for(self.ack_feed(self._acks_since), self.sink_timeout_s)
        except Exception as exc:  # noqa: BLE001 - acks arrive at the next pass; alerts must not wait
            log.warning("could not read acknowledgements: %s", exc)
            return 0
        if not records:
            return 0
        with self._lock:
            changed = self.incidents.apply_acks((r.incident_id, r.by, r.at) for r in records)
        self._acks_since = max(r.at for r in records)
        if changed:
            log.info("applied %d acknowledgement(s) from the API", changed)
        return changed

    def acknowledge(self, incident_id: str, by: str) -> bool:
        """Acknowledge an incident (quiet until it worsens). False if unknown."""
        return self.incidents.acknowledge(incident_id, by)

    # ------------------------------------------------------------------ delivery

    async def _sweep(self) -> None:
        last_prune = 0.0
        while True:
            try:
                await self.sync_acks()
                self.deliveries.enqueue_due()
                now = self.clock().timestamp()
                if now - last_prune >= self.prune_interval_s:
                    last_prune = now
                    self.incidents.prune()
            except Exception:
                log.exception("alert outbox sweep failed")
            await asyncio.sleep(self.retry_interval_s)

    async def start(self) -> None:
        """Start per-channel delivery workers and the periodic outbox retry (resumes pending entries)."""
        if self.deliveries.running:
            return
        self.deliveries.start()
        self._sweeper = asyncio.create_task(self._sweep(), name="alerts-outbox-sweep")

    async def drain(self, timeout_s: float | None = None) -> bool:
        """Wait until the delivery queues are empty (True) or ``timeout_s`` passed (False)."""
        return await self.deliveries.drain(timeout_s)

    async def stop(self) -> None:
        """Stop the sweep, let queued deliveries finish for up to ``drain_timeout_s``, then stop;
        the rest stays in the outbox."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await self.deliveries.stop()

    async def retry_outbox(self, ids: Iterable[int] | None = None) -> RetryReport:
        """Make outbox entries (all, or ``ids``; failed ones included) due and deliver them now."""
        return await self.deliveries.retry(ids)

    def close(self) -> None:
        """Close the state databases (call after :meth:`stop`)."""
        self.incidents.close()
        self.outbox.close()
