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
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from pydantic import ValidationError

from connectors import metrics
from connectors.base import AuthError, Connector, PushConnector, SourceError, StateUpdate, Stream
from connectors.http import ShutdownRequested
from connectors.state import (
    DEFAULT_SEEN_CAPACITY,
    DEFAULT_STATE_DIR,
    SeenIds,
    StateStore,
    StreamState,
)
from pipeline.core.bounds import DEFAULT_MAX_AGE_DAYS, DEFAULT_MAX_FUTURE_S, Bounds, check_post
from pipeline.core.decode import dead_letter
from pipeline.core.kafka import DEFAULT_BOOTSTRAP
from pipeline.core.schema import RawPost
from pipeline.core.topics import DLQ, RAW_POSTS

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where posts go: :class:`pipeline.core.kafka.PostProducer` (or a test double)."""

    def send(self, post: RawPost, topic: str | None = None) -> Any: ...

    def send_raw(self, key: bytes | None, value: bytes, topic: str | None = None) -> Any: ...

    def flush(self, timeout: float | None = None) -> None: ...


@dataclass
class RunnerOptions:
    """Runner settings (the non-spec keys of a connector config file)."""

    bootstrap: str = DEFAULT_BOOTSTRAP
    topic: str = RAW_POSTS
    dlq_topic: str | None = DLQ
    state_dir: Path = DEFAULT_STATE_DIR
    instance: str | None = None
    """State namespace; defaults to the connector name (set it to run two configs of one connector)."""
    poll_interval_s: float = 60.0
    checkpoint_every: int = 500
    checkpoint_interval_s: float = 5.0
    seen_capacity: int = DEFAULT_SEEN_CAPACITY
    metrics_port: int | None = None
    create_topics: bool = True
    partitions: int = 4
    flush_timeout_s: float = 60.0
    max_items: int | None = None
    """Stop each stream after this many records (backfills, tests)."""
    idle_exit_s: float | None = None
    """Stop a stream when it yielded no record for this long (streaming sources, tests)."""
    post_max_future_s: float = DEFAULT_MAX_FUTURE_S
    """Dead-letter posts dated further in the future than this (as the worker's setting)."""
    post_max_age_days: float = DEFAULT_MAX_AGE_DAYS
    """Dead-letter posts older than this (as the worker's setting; raise it to backfill)."""

    @classmethod
    def config_keys(cls) -> set[str]:
        return {f.name for f in fields(cls)}

    @classmethod
    def from_config(cls, config: Mapping[str, Any], state_dir: Path | None = None) -> RunnerOptions:
        values = {k: v for k, v in config.items() if k in cls.config_keys()}
        if state_dir is not None:
            values["state_dir"] = state_dir
        if "state_dir" in values:
            values["state_dir"] = Path(values["state_dir"])
        return cls(**values)


@dataclass
class StreamResult:
    """What one stream did in a run."""

    name: str
    posts: int = 0
    duplicates: int = 0
    invalid: int = 0
    checkpoints: int = 0
    cursor: Any = None
    cursors: list[Any] = field(default_factory=list)
    """The cursor saved at each checkpoint, in order."""
    error: str | None = None


@dataclass
class RunResult:
    streams: list[StreamResult] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(getattr(s, name) for s in self.streams)

    @property
    def errors(self) -> list[str]:
        return [f"{s.name}: {s.error}" for s in self.streams if s.error]

    def as_dict(self) -> dict[str, Any]:
        return {"streams": len(self.streams), "posts": self.total("posts"),
                "duplicates": self.total("duplicates"), "invalid": self.total("invalid"),
                "checkpoints": self.total("checkpoints"), "errors": len(self.errors)}


def _max_cursor(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    try:
        return b if b > a else a
    except TypeError:
        return b if str(b) > str(a) else a


def _older(cursor: Any, saved: Any) -> bool:
    """True when ``cursor`` sorts strictly before ``saved`` (False when not comparable)."""
    if cursor is None or saved is None:
        return False
    try:
        return bool(cursor < saved)
    except TypeError:
        return False


def _jsonable(record: Any) -> bytes:
    if isinstance(record, bytes):
        return record
    if hasattr(record, "model_dump_json"):
        return record.model_dump_json().encode()
    return json.dumps(record, default=str, ensure_ascii=False).encode()


class StreamRunner:
    """Drives one stream: the read loop, dedupe, produce, checkpoints."""

    def __init__(
        self,
        connector: Connector[Any],
        stream: Stream,
        sink: Sink,
        store: StateStore,
        options: RunnerOptions,
        stop: threading.Event,
        shared_seen: SeenIds | None = None,
        shared_lock: threading.Lock | None = None,
    ) -> None:
        self.connector = connector
        self.shared_seen = shared_seen
        self.shared_lock = shared_lock or threading.Lock()
        self.stream = stream
        self.sink = sink
        self.store = store
        self.options = options
        self.stop = stop
        self.instance = options.instance or connector.name
        self.labels = (connector.name, stream.name)
        self.result = StreamResult(stream.name)
        self.state: StreamState = store.load(stream.name)
        self.result.cursor = self.state.cursor
        self._pending_cursor = self.state.cursor
        self._pending_extra: dict[str, Any] = {}
        self._dirty = False
        self._since_ckpt = 0
        self._last_ckpt = time.monotonic()
        self._items = 0
        self.bounds = Bounds.from_settings(options)

    # -- checkpoints ---------------------------------------------------------
    def checkpoint(self) -> None:
        """Flush the sink (raises on delivery failure), then persist the stream's state."""
        self.sink.flush(self.options.flush_timeout_s)
        self._since_ckpt, self._last_ckpt = 0, time.monotonic()
        if not self._dirty and not self._pending_extra and self._pending_cursor == self.state.cursor:
            return
        self.state.cursor = self._pending_cursor
        self.state.extra.update(self._pending_extra)
        self._pending_extra = {}
        self.store.save(self.stream.name, self.state)
        self._dirty = False
        self.result.checkpoints += 1
        self.result.cursor = self.state.cursor
        self.result.cursors.append(self.state.cursor)
        metrics.CHECKPOINTS.labels(*self.labels).inc()

    def _maybe_checkpoint(self) -> None:
        if self._since_ckpt and (
            self._since_ckpt >= self.options.checkpoint_every
            or time.monotonic() - self._last_ckpt >= self.options.checkpoint_interval_s
        ):
            self.checkpoint()

    # -- records -------------------------------------------------------------
    def _dead_letter(self, record: Any, exc: Exception) -> None:
        self.result.invalid += 1
        metrics.INVALID.labels(*self.labels).inc()
        message = str(exc).replace("\n", " ")[:500]
        log.warning("%s/%s: invalid record dead-lettered: %s", self.connector.name, self.stream.name, message)
        if self.options.dlq_topic:
            letter = dead_letter(_jsonable(record), None, f"connector:{self.instance}/{self.stream.name}", -1, -1,
                                 ValueError(message), stage="connector")
            letter.error_type = type(exc).__name__
            self.sink.send_raw(None, letter.model_dump_json().encode(), self.options.dlq_topic)

    def _normalise(self, record: Any) -> RawPost:
        out = self.stream.to_post(record)
        if isinstance(out, RawPost):
            return out
        if not isinstance(out, dict):
            raise ValueError(f"to_post returned {type(out).__name__}, expected RawPost or dict")
        if not out.get("source"):
            out = {**out, "source": self.connector.name}
        return RawPost.model_validate(out)

    def _post(self, record: Any) -> RawPost:
        return check_post(self._normalise(record), self.bounds)

    def handle(self, record: Any) -> None:
        """Dedupe, normalise, produce one record and advance the pending cursor."""
        self._since_ckpt += 1
        self._dirty = True
        try:
            key = self.stream.key_of(record)
            cursor = self.stream.cursor_of(record)
        except (ValueError, TypeError) as exc:
            self._dead_letter(record, exc)
            return
        with self.shared_lock:
            seen = key in self.state.seen or (self.shared_seen is not None and key in self.shared_seen)
            seen = seen or _older(cursor, self.state.cursor)
            if not seen and self.shared_seen is not None:
                self.shared_seen.add(key)  # claimed: other streams of this connector skip it
        if seen:
            self.result.duplicates += 1
            metrics.DUPLICATES.labels(*self.labels).inc()
            self._pending_cursor = _max_cursor(self._pending_cursor, cursor)
            return
        try:
            post = self._post(record)
        except (ValidationError, ValueError, TypeError, KeyError) as exc:
            self._dead_letter(record, exc)
            self.state.seen.add(key)
            self._pending_cursor = _max_cursor(self._pending_cursor, cursor)
            return
        self.sink.send(post, self.options.topic)
        self.state.seen.add(key)
        self._pending_cursor = _max_cursor(self._pending_cursor, cursor)
        self.result.posts += 1
        metrics.POSTS.labels(*self.labels).inc()
        metrics.LAG.labels(*self.labels).set(max(0.0, time.time() - post.created_at.timestamp()))

    # -- the loop ------------------------------------------------------------
    def _one_pass(self) -> bool:
        """Read the stream once. Returns True when the stream should end (limits reached)."""
        last_record = time.monotonic()
        gen: Iterator[Any] = iter(self.stream.read(self.state.view() | {"cursor": self._pending_cursor}))
        try:
            for item in gen:
                if self.stop.is_set():
                    return True
                if item is None:
                    self._maybe_checkpoint()
                    idle = self.options.idle_exit_s
                    if idle is not None and time.monotonic() - last_record >= idle:
                        return True
                    continue
                if isinstance(item, StateUpdate):
                    self._pending_extra.update(item.values)
                    continue
                last_record = time.monotonic()
                self.handle(item)
                self._items += 1
                if self.options.max_items is not None and self._items >= self.options.max_items:
                    return True
                self._maybe_checkpoint()
        finally:
            close = getattr(gen, "close", None)
            if close is not None:
                close()
        return False

    def run(self, once: bool = False) -> StreamResult:
        name = f"{self.connector.name}/{self.stream.name}"
        try:
            while not self.stop.is_set():
                try:
                    done = self._one_pass()
                except ShutdownRequested:
                    done = True
                except AuthError as exc:
                    self._fail(name, exc, "auth")
                    done = True
                except SourceError as exc:
                    self._fail(name, exc, "fatal")
                    done = once
                self.checkpoint()
                if done or once:
                    break
                wait = 1.0 if self.stream.streaming else self.options.poll_interval_s
                if self.stop.wait(wait):
                    break
        except BaseException:
            log.exception("%s: stopped without saving state past the last checkpoint", name)
            raise
        log.info("%s: %d posts, %d duplicates skipped, %d invalid, cursor=%r", name, self.result.posts,
                 self.result.duplicates, self.result.invalid, self.result.cursor)
        return self.result

    def _fail(self, name: str, exc: Exception, kind: str) -> None:
        metrics.ERRORS.labels(*self.labels, kind).inc()
        self.result.error = f"{type(exc).__name__}: {exc}"
        log.error("%s: %s (acknowledged posts are checkpointed)", name, self.result.error)
        self.checkpoint()


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
    connector: Connector[Any],
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
    own_sink = sink is None
    if sink is None:
        from pipeline.core.kafka import PostProducer, ensure_topics

        if options.create_topics:
            ensure_topics(options.bootstrap, [t for t in (options.topic, options.dlq_topic) if t],
                          options.partitions)
        sink = PostProducer(options.bootstrap, topic=options.topic)
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
        if own_sink:
            sink.close()  # type: ignore[attr-defined]


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
