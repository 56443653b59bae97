"""The Faust app, built from settings: topics, the enrich and sink agents, the detector timer.

Business logic lives in plain modules (processing, enrich, storage, detect); this module only
wires them to streams. Offsets: a batch (``take_batches``) is acked when the loop moves on, so
each agent finishes its side effects (produce acknowledged / ClickHouse acknowledged) inside
the loop body, retrying transient failures there; an unexpected error ends the process at once
(``fatal``) so nothing is committed for a batch that was not written.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import faust
from faust.types import TP

from pipeline.core import metrics as M
from pipeline.core import topics as T
from pipeline.core.bounds import Bounds
from pipeline.core.decode import (
    MAX_DLQ_KEY_BYTES,
    DlqLimit,
    DlqLimitExceeded,
    PoisonMessage,
    dead_letter,
    decode_post,
)
from pipeline.core.decode import dumps as dump_model
from pipeline.core.envelope import pack, unpack
from pipeline.core.kafka import ensure_topics
from pipeline.core.schema import Alert, EnrichedPost, RawPost
from pipeline.core.settings import Settings, topic_name
from pipeline.enrich import Enricher, build_enricher
from pipeline.runtime.batching import take_batches
from pipeline.runtime.heap import freeze_long_lived
from pipeline.runtime.live import DetectorService, LiveDetector
from pipeline.runtime.ports import AlertPublisher
from pipeline.storage.backend import StorageError, connect
from pipeline.storage.migrate import migrate
from pipeline.storage.repository import Repository, RepositoryProvider

log = logging.getLogger(__name__)

DetectorFactory = Callable[[Settings, RepositoryProvider, AlertPublisher], LiveDetector]
"""Builds the leader's detector from settings and the worker's ports (:func:`build_live_detector`)."""


def fatal(message: str, exc: BaseException | None = None) -> None:
    """Stop the worker now, without committing offsets of unfinished batches."""
    log.critical("fatal: %s", message, exc_info=exc)
    for h in logging.getLogger().handlers:
        h.flush()
    sys.stderr.flush()
    os._exit(70)


class Worker:
    """Holds the app, its topics and the lazily built components of one worker process."""

    def __init__(
        self, settings: Settings, enricher_factory: Callable[[], Enricher] | None = None,
        repository_factory: Callable[[], Repository] | None = None, detector_factory: DetectorFactory | None = None,
    ) -> None:
        self.settings = settings
        settings.worker_data_dir.mkdir(parents=True, exist_ok=True)
        self.app = create_app(settings)
        p = settings.topic_partitions
        def name(base: str) -> str:
            return topic_name(settings, base)

        self.raw = self.app.topic(name(T.RAW_POSTS), key_serializer="raw", value_serializer="raw", partitions=p)
        self.enriched = self.app.topic(name(T.ENRICHED_POSTS), key_serializer="raw", value_serializer="raw", partitions=p)
        self.dlq = self.app.topic(name(T.DLQ), key_serializer="raw", value_serializer="raw", partitions=p)
        self.alerts = self.app.topic(name(T.ALERTS), key_serializer="raw", value_serializer="raw", partitions=p)
        self._enricher_factory = enricher_factory or self._default_enricher
        self._repository_factory = repository_factory or self._default_repository
        self._detector_factory = detector_factory
        self._enricher: Enricher | None = None
        self._repo: Repository | None = None
        self._repo_lock = asyncio.Lock()  # one Repository (and one migration run) per process
        self._detector: LiveDetector | None = None
        self.dlq_limit = DlqLimit(settings.dlq_max_invalid_ratio, settings.dlq_max_consecutive)
        self.bounds = Bounds.from_settings(settings)
        self._wire()

    def declare_topics(self) -> list[str]:
        """Create the pipeline's topics if missing (before the consumer subscribes)."""
        names = [t.get_topic_name() for t in (self.raw, self.enriched, self.dlq, self.alerts)]
        return ensure_topics(self.settings.kafka_bootstrap, names, self.settings.topic_partitions,
                             self.settings.topic_replication)

    # -- components (built once per process, off the event loop) ---------------------------
    def _default_enricher(self) -> Enricher:
        return build_enricher(self.settings)

    def _default_repository(self) -> Repository:
        ch = connect(self.settings)
        migrate(ch)
        return Repository(ch)

    async def enricher(self) -> Enricher:
        """The process's enricher (models load once, off the event loop)."""
        if self._enricher is None:
            self._enricher = await asyncio.get_running_loop().run_in_executor(None, self._enricher_factory)
            freeze_long_lived()
        return self._enricher

    async def repository(self) -> Repository:
        """The process's Repository (a :data:`RepositoryProvider`); waits while ClickHouse is unreachable."""
        async with self._repo_lock:  # the sink and the detector ask at once on start-up
            while self._repo is None:
                try:
                    self._repo = await asyncio.get_running_loop().run_in_executor(None, self._repository_factory)
                except StorageError as exc:
                    if not exc.retryable:
                        raise
                    log.warning("ClickHouse not reachable yet (%s); retrying in 2 s", exc)
                    await asyncio.sleep(2)
        return self._repo

    def close(self) -> None:
        """Release ClickHouse once the app has stopped (before the interpreter exits).

        An open chDB session keeps ClickHouse's background pools (merges, moves, schedulers)
        running into interpreter shutdown, where they race the library's teardown and can crash
        the process after its work is done. Closing the session stops and joins them. The
        detector's alert state (incident book, outbox) is closed too.
        """
        detector, self._detector = self._detector, None
        if detector is not None:
            detector.close()
        repo, self._repo = self._repo, None
        if repo is not None:
            repo.ch.close()

    # -- agents ---------------------------------------------------------------------------
    def _wire(self) -> None:
        s = self.settings

        @self.app.agent(self.raw, name="enrich")
        async def enrich(stream: faust.StreamT) -> None:
            async for events in take_batches(stream, s.batch_max, within=s.batch_within_s):
                await self._complete(self.enrich_batch(events), "enrich")

        @self.app.agent(self.enriched, name="sink")
        async def sink(stream: faust.StreamT) -> None:
            async for events in take_batches(stream, sink_envelopes(s), within=s.batch_within_s):
                await self._complete(self.sink_batch(events), "sink")

        @self.app.timer(interval=s.detect_interval_s, on_leader=True)
        async def detect() -> None:
            detector = await self._leader_detector()
            if detector is None:
                return
            try:
                with M.DETECT_SECONDS.time():
                    await detector.tick()
            except StorageError as exc:
                log.warning("detector skipped a tick: %s", exc)
            except Exception:  # noqa: BLE001 - detection must never stop ingestion
                log.exception("detector tick failed; ingestion continues")

        @self.app.timer(interval=max(5.0, s.detect_interval_s * 3))
        async def conversations() -> None:
            try:
                await self.store_conversations()
            except Exception:  # noqa: BLE001 - labels are best effort; the next tick retries
                log.exception("storing conversation labels failed")

        self.enrich_agent, self.sink_agent, self.detect_timer = enrich, sink, detect
        self._conv_written: dict[str, tuple[int, str | None]] = {}

    async def _leader_detector(self) -> LiveDetector | None:
        """The detector, built on the first pass on the leader and run as a child of the app, which
        starts it now and stops it with itself (None if no detector is configured)."""
        if self._detector is None and self._detector_factory is not None:
            detector = self._detector_factory(self.settings, self.repository, self.publish_alert)
            await self.app.add_runtime_dependency(DetectorService(detector))
            self._detector = detector
        return self._detector

    async def _complete(self, batch: Awaitable[None], stage: str) -> None:
        """Run one batch to completion, even through a graceful stop.

        ``take_batches`` acks the batch when the loop is left, also when the agent is cancelled
        by a shutdown or rebalance; so a cancelled batch is first finished (bounded wait), and
        a batch that cannot finish ends the process before anything is committed.
        """
        task = asyncio.ensure_future(batch)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            try:
                await asyncio.wait_for(task, timeout=self.settings.shutdown_batch_timeout_s)
            except BaseException as exc:  # noqa: BLE001 - unfinished batch: exit without commit
                fatal(f"{stage} batch could not finish during shutdown", exc)
            raise
        except DlqLimitExceeded as exc:
            fatal(f"DLQ limit exceeded: {exc}")
        except Exception as exc:  # noqa: BLE001 - a bug: stop without committing this batch
            fatal(f"{stage} batch failed", exc)

    async def enrich_batch(self, events: Sequence[faust.EventT]) -> None:
        """Decode, dead-letter poison, tag and serialise the rest off the loop, produce and await acks."""
        M.ENRICH_BATCH_POSTS.observe(len(events))
        loop = asyncio.get_running_loop()
        decoded = await loop.run_in_executor(None, _decode_all, [ev.value for ev in events], self.bounds)
        good: list[RawPost] = []
        lineage: list[tuple[int, int]] = []
        pending = []
        for ev, post in zip(events, decoded, strict=True):
            msg = ev.message
            if isinstance(post, PoisonMessage):
                self.dlq_limit.record(False)
                letter = dead_letter(ev.value, msg.key, msg.topic, msg.partition, msg.offset, post)
                log.warning("dead-lettered %s[%s]@%s: %s", msg.topic, msg.partition, msg.offset, post)
                M.DLQ_MESSAGES.labels(post.error_type).inc()
                key = msg.key[:MAX_DLQ_KEY_BYTES] if msg.key else msg.key  # a huge key must not sink the DLQ
                pending.append(await self.dlq.send(key=key, value=dump_model(letter)))
                continue
            self.dlq_limit.record(True)
            good.append(post)
            lineage.append((msg.partition, msg.offset))
        if good:
            enricher = await self.enricher()
            with M.ENRICH_SECONDS.time():
                envelopes = await loop.run_in_executor(None, _tag_and_pack, enricher, good, lineage)
            M.POSTS_ENRICHED.inc(len(good))
            send = self.enriched.send
            for partition, value in envelopes:  # same partition as the raw messages: per-partition event-time order holds
                pending.append(await send(key=None, value=value, partition=partition))
        if pending:
            await asyncio.gather(*pending)  # produce acknowledged before these offsets are acked
        self._observe_lag(events)

    async def sink_batch(self, events: Sequence[faust.EventT]) -> None:
        """Write a batch to ClickHouse in inserts of at most ``sink_batch_max`` posts; never ack before the writes."""
        loop = asyncio.get_running_loop()
        posts = await loop.run_in_executor(None, _parse_enriched, [ev.value for ev in events])
        step = self.settings.sink_batch_max
        for i in range(0, len(posts), step):
            await self._insert(posts[i : i + step])
        self._observe_lag(events)

    async def _insert(self, posts: list[EnrichedPost]) -> None:
        """One ClickHouse insert; retry outages with backoff (storage absorbs a repeated write)."""
        M.SINK_BATCH_POSTS.observe(len(posts))
        loop = asyncio.get_running_loop()
        repo = await self.repository()
        delay = 0.5
        while True:
            try:
                with M.SINK_SECONDS.time():
                    await loop.run_in_executor(None, repo.insert_posts, posts)
                M.POSTS_STORED.inc(len(posts))
                now = time.time()
                for p in posts:
                    M.INGEST_LATENCY.observe(max(0.0, now - p.post.collected_at.timestamp()))
                return
            except StorageError as exc:
                if not exc.retryable:
                    raise
                M.SINK_RETRIES.inc()
                log.warning("ClickHouse insert failed (%s); retrying in %.1f s without committing", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.sink_retry_max_s)

    async def store_conversations(self) -> int:
        """Upsert changed conversation labels (key terms, size, merges) of this worker's clusterer."""
        if self._enricher is None or self._enricher.conversations is None:
            return 0
        loop = asyncio.get_running_loop()
        snaps = await loop.run_in_executor(None, self._enricher.conversation_snapshot)
        changed = [c for c in snaps if self._conv_written.get(c.id) != (c.size, c.merged_into)]
        if not changed:
            return 0
        rows = [{"conversation_id": c.id, "key_terms": c.key_terms, "size": c.size,
                 "first_seen": datetime.fromtimestamp(c.first_seen, UTC),
                 "last_seen": datetime.fromtimestamp(c.last_seen, UTC), "merged_into": c.merged_into}
                for c in changed]
        repo = await self.repository()
        await loop.run_in_executor(None, repo.upsert_conversations, rows)
        for c in changed:
            self._conv_written[c.id] = (c.size, c.merged_into)
        return len(rows)

    def _observe_lag(self, events: Sequence[faust.EventT]) -> None:
        last: dict[TP, int] = {}
        for ev in events:
            last[ev.message.tp] = max(last.get(ev.message.tp, -1), ev.message.offset)
        for tp, offset in last.items():
            try:
                high = self.app.consumer.highwater(tp)
            except (AssertionError, KeyError, RuntimeError):  # partition revoked by a rebalance
                continue
            if high is not None:
                M.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, high - offset - 1))

    async def publish_alert(self, alert: Alert) -> None:
        """Publish one alert to ``social.alerts`` (an :data:`AlertPublisher`); returns once Kafka acknowledged it."""
        M.ALERTS_RAISED.labels(alert.kind).inc()
        fut = await self.alerts.send(key=alert.subject.id.encode(), value=alert.model_dump_json().encode())
        await fut


def _decode_all(values: list[bytes | None], bounds: Bounds) -> list[RawPost | PoisonMessage]:
    """Each raw message as a post, or the reason it is poison (runs off the event loop)."""
    out: list[RawPost | PoisonMessage] = []
    for value in values:
        try:
            out.append(decode_post(value, bounds))
        except PoisonMessage as exc:
            out.append(exc)
    return out


def _tag_and_pack(enricher: Enricher, posts: list[RawPost], lineage: list[tuple[int, int]]) -> list[tuple[int, bytes]]:
    """Tag a batch and pack the enriched posts per raw partition as (partition, message), off the event loop."""
    by_partition: dict[int, list[bytes]] = {}
    for e in enricher.enrich(posts, lineage):
        by_partition.setdefault(e.kafka_partition, []).append(e.model_dump_json().encode())
    return [(partition, message) for partition, docs in by_partition.items() for message in pack(docs)]


def _parse_enriched(values: list[bytes]) -> list[EnrichedPost]:
    return [EnrichedPost.model_validate_json(doc) for v in values for doc in unpack(v)]


def sink_envelopes(settings: Settings) -> int:
    """Enriched messages the sink takes per batch: enough for ``sink_batch_max`` posts when each
    full tagging batch is spread over every partition (at full load), so inserts stay large."""
    return -(-settings.sink_batch_max // settings.batch_max) * settings.topic_partitions


def create_app(settings: Settings) -> faust.App:
    """A Faust app configured from settings (no globals)."""
    return faust.App(
        topic_name(settings, T.WORKER_GROUP),
        broker=[f"kafka://{h.strip()}" for h in settings.kafka_bootstrap.split(",")],
        store="memory://",
        datadir=str(settings.worker_data_dir),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        producer_acks=-1,
        producer_max_request_size=16 * 1024 * 1024,
        consumer_max_fetch_size=16 * 1024 * 1024,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        web_enabled=settings.web_port > 0,
        web_port=settings.web_port or 6066,
        web_host="127.0.0.1",
        topic_allow_declare=True,
        stream_wait_empty=False,
    )
