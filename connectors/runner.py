"""Run a connector: read streams, normalise, produce, checkpoint after acks, shut down cleanly.

Delivery semantics: at-least-once. A stream's cursor, extra state and seen-id set are saved
only after ``flush()`` returned, i.e. after Kafka acknowledged every post read before the
checkpoint. After a crash the stream re-reads from the last saved cursor and the persisted
seen-id set skips what was already acknowledged; posts produced after the last checkpoint may
be produced again (same key; storage deduplicates on the post id).

Errors: transient source errors are retried by :class:`connectors.http.HttpClient`; a
:class:`~connectors.base.SourceError` left after retries checkpoints what was acknowledged,
logs, counts ``errors{kind="fatal"}`` and retries the stream after ``poll_interval_s`` (or ends
it with ``--once``); credential errors end the stream; a Kafka delivery error or a bug stops
the connector without saving state.

Untrusted records: every post passes :func:`pipeline.core.bounds.check_post` (``created_at``
window, field sizes); a record that fails, however large, is dead-lettered (a truncated copy
with size and hash when it is too large, see :func:`pipeline.core.decode.dead_letter`) and the
stream goes on. Dedup is durable beyond the seen-id window: a record whose cursor is older than
the stream's saved cursor counts as already seen.

This module runs a connector (threads, signals, the sink); one stream's loop is
:class:`connectors.stream_runner.StreamRunner`; options and results are in :mod:`connectors.run_types`.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

from connectors.base import Connector, ConnectorSpec, PushConnector, Sink
from connectors.run_types import RunnerOptions, RunResult
from connectors.state import SeenIds, StateStore
from connectors.stream_runner import StreamRunner
from pipeline.core.bounds import Bounds

if TYPE_CHECKING:
    from pipeline.core.kafka import PostProducer

log = logging.getLogger(__name__)


def _install_signals(stop: threading.Event) -> Callable[[], None]:
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: finishing the current record, checkpointing, then stopping", signum)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def run_connector(
    connector: Connector[ConnectorSpec],
    options: RunnerOptions | None = None,
    *,
    once: bool = False,
    sink: Sink | None = None,
) -> RunResult:
    """Run every stream of ``connector`` (one thread each) until stopped (SIGTERM/SIGINT), or
    for one pass with ``once``. Creates a :class:`PostProducer` unless ``sink`` is given."""
    options = options or RunnerOptions()
    stop = connector.stop_event
    if options.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(options.metrics_port)
    producer: PostProducer | None = None  # the sink this run created (and closes)
    if sink is None:
        from pipeline.core.kafka import PostProducer, ensure_topics

        if options.create_topics:
            ensure_topics(options.bootstrap, [t for t in (options.topic, options.dlq_topic) if t],
                          options.partitions)
        sink = producer = PostProducer(options.bootstrap, topic=options.topic)
    restore = _install_signals(stop)
    connector.bounds = Bounds.from_settings(options)
    log.info("connector %s starting with %s", connector.name, connector.spec.safe_dump())
    result = RunResult()
    try:
        if isinstance(connector, PushConnector):
            connector.serve(sink, options.dlq_topic)
            return result
        store = StateStore(options.state_dir, options.instance or connector.name, options.seen_capacity)
        streams = connector.streams()
        shared = SeenIds(capacity=options.seen_capacity * max(1, len(streams))) if len(streams) > 1 else None
        lock = threading.Lock()
        runners = [StreamRunner(connector, s, sink, store, options, stop, shared, lock) for s in streams]
        if shared is not None:  # records are keyed per connector: one stream's post is another's duplicate
            for r in runners:
                for key in r.state.seen.to_list():
                    shared.add(key)
        names = [r.stream.name for r in runners]
        if len(set(names)) != len(names):
            raise ValueError(f"{connector.name}: stream names must be unique, got {names}")
        result.streams = [r.result for r in runners]
        if len(runners) == 1:
            runners[0].run(once)
        else:
            _run_threads(runners, once, stop)
        return result
    finally:
        restore()
        connector.close()
        if producer is not None:
            producer.close()


def _run_threads(runners: list[StreamRunner], once: bool, stop: threading.Event) -> None:
    errors: list[BaseException] = []

    def target(r: StreamRunner) -> None:
        try:
            r.run(once)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller below
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=target, args=(r,), name=f"stream-{r.stream.name}", daemon=True)
               for r in runners]
    for t in threads:
        t.start()
    try:
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(0.2)
    except KeyboardInterrupt:
        stop.set()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
