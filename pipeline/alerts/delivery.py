"""Durable, independent per-channel delivery of outbox entries.

Each channel has a bounded queue of outbox entry ids and its own asyncio workers, so a slow or
failing channel never blocks another. A delivery that fails stays in the outbox with its error
(retryable or not, with the receiver's ``Retry-After``); :meth:`Deliveries.enqueue_due` queues
what is due again. Timeouts and retries run on the wall clock: they are about the channels.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.alerts.channels import AlertChannel, AlertDeliveryError
from pipeline.alerts.metrics import ALERTS_DELIVERED, ALERTS_FAILED, OUTBOX_SIZE
from pipeline.alerts.outbox import Outbox, OutboxEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryReport:
    """Outcome of :meth:`Deliveries.retry`."""

    attempted: int
    delivered: int
    failed: int


class Deliveries:
    """Per-channel queues and workers delivering outbox entries through ``channels``."""

    def __init__(self, channels: dict[str, AlertChannel], outbox: Outbox, *, queue_size: int = 1000,
                 workers_per_channel: int = 2, delivery_timeout_s: float = 60.0,
                 drain_timeout_s: float = 10.0) -> None:
        self.channels = channels
        self.outbox = outbox
        self.queue_size = queue_size
        self.workers_per_channel = max(1, workers_per_channel)
        self.delivery_timeout_s = delivery_timeout_s
        self.drain_timeout_s = drain_timeout_s
        self.running = False
        self._queues: dict[str, asyncio.Queue[int]] = {}
        self._queued: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []

    def _failed(self, entry: OutboxEntry, error: str, *, retryable: bool, retry_after: float | None = None,
                recipients: list[str] | None = None) -> None:
        ALERTS_FAILED.labels(channel=entry.channel).inc()
        status = self.outbox.mark_failed(entry.id, error, retryable=retryable, retry_after=retry_after,
                                         recipients=recipients)
        level = logging.ERROR if status == "failed" else logging.WARNING
        log.log(level, "alert %s via %s not delivered (attempt %d, now %s): %s",
                entry.alert.id, entry.channel, entry.attempts + 1, status, error)

    async def deliver_entry(self, entry: OutboxEntry) -> bool:
        """Deliver one entry now; True when delivered, else the failure is in the outbox."""
        channel = self.channels.get(entry.channel)
        try:
            if channel is None:
                self._failed(entry, f"channel {entry.channel!r} is not configured", retryable=False)
                return False
            try:
                await asyncio.wait_for(channel.deliver(entry.alert, list(entry.recipients)), self.delivery_timeout_s)
            except AlertDeliveryError as exc:
                self._failed(entry, str(exc), retryable=exc.retryable, retry_after=exc.retry_after,
                             recipients=exc.failed_recipients)
                return False
            except TimeoutError:
                self._failed(entry, f"timed out after {self.delivery_timeout_s:g}s", retryable=True)
                return False
            except Exception as exc:  # a bug in a channel must not lose the alert or stop the worker
                log.exception("channel %s crashed delivering alert %s", entry.channel, entry.alert.id)
                self._failed(entry, f"{type(exc).__name__}: {exc}", retryable=True)
                return False
            self.outbox.mark_delivered(entry.id)
            ALERTS_DELIVERED.labels(channel=entry.channel).inc()
            log.info("alert %s delivered via %s", entry.alert.id, entry.channel)
            return True
        finally:
            OUTBOX_SIZE.set(self.outbox.count())

    async def deliver_id(self, entry_id: int) -> bool | None:
        """:meth:`deliver_entry` by id; None when the entry is gone."""
        entry = self.outbox.get(entry_id)
        return None if entry is None else await self.deliver_entry(entry)

    def enqueue(self, entry_id: int, channel: str) -> None:
        """Queue an entry for its channel's workers (a full queue leaves it in the outbox)."""
        if entry_id in self._queued:
            return
        queue = self._queues.get(channel)
        if queue is None:  # routed to a channel that is not configured: keep it, visibly failed
            entry = self.outbox.get(entry_id)
            if entry is not None:
                self._failed(entry, f"channel {channel!r} is not configured", retryable=False)
            return
        try:
            queue.put_nowait(entry_id)
        except asyncio.QueueFull:
            log.warning("%s delivery queue full: alert entry %d waits in the outbox", channel, entry_id)
            return
        self._queued.add(entry_id)

    def enqueue_due(self) -> None:
        """Queue every outbox entry that is due."""
        for entry in self.outbox.due(limit=self.queue_size * max(1, len(self._queues))):
            self.enqueue(entry.id, entry.channel)

    async def _worker(self, queue: asyncio.Queue[int]) -> None:
        while True:
            entry_id = await queue.get()
            try:
                await self.deliver_id(entry_id)
            except Exception:
                log.exception("alert delivery worker error on outbox entry %d", entry_id)
            finally:
                self._queued.discard(entry_id)
                queue.task_done()

    def start(self) -> None:
        """Start the workers of every channel (inside a running event loop)."""
        if self.running:
            return
        self.running = True
        for name in self.channels:
            queue: asyncio.Queue[int] = asyncio.Queue(maxsize=self.queue_size)
            self._queues[name] = queue
            for i in range(self.workers_per_channel):
                self._tasks.append(asyncio.create_task(self._worker(queue), name=f"alerts-{name}-{i}"))

    async def drain(self, timeout_s: float | None = None) -> bool:
        """Wait until the queues are empty (True) or ``timeout_s`` passed (False)."""
        try:
            await asyncio.wait_for(asyncio.gather(*(q.join() for q in self._queues.values())), timeout_s)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        """Let queued deliveries finish for up to ``drain_timeout_s``, then stop; the rest stays in the outbox."""
        if not self.running:
            return
        self.running = False
        if not await self.drain(self.drain_timeout_s):
            log.warning("alert dispatcher stopped with deliveries in flight: they stay in the outbox")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._queues.clear()
        self._queued.clear()

    async def retry(self, ids: Iterable[int] | None = None) -> RetryReport:
        """Make outbox entries (all, or ``ids``; failed ones included) due and deliver them now."""
        wanted = None if ids is None else {int(i) for i in ids}
        self.outbox.requeue(wanted)
        entries = [e for e in self.outbox.due(limit=1_000_000)
                   if (wanted is None or e.id in wanted) and e.id not in self._queued]
        self._queued.update(e.id for e in entries)  # keep the background sweep off them
        try:
            results = await asyncio.gather(*(self.deliver_entry(e) for e in entries))
        finally:
            self._queued.difference_update(e.id for e in entries)
        delivered = sum(1 for r in results if r)
        return RetryReport(attempted=len(entries), delivered=delivered, failed=len(entries) - delivered)
