"""One stream of a connector run: the read loop, dedupe, normalise, produce, checkpoint after
the sink acknowledged (semantics in :mod:`connectors.runner`)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from connectors import metrics
from connectors.base import (
    AuthError,
    Connector,
    ConnectorSpec,
    Cursor,
    Record,
    Sink,
    SourceError,
    StateUpdate,
    Stream,
)
from connectors.http import ShutdownRequested
from connectors.run_types import RunnerOptions, StreamResult
from connectors.state import SeenIds, StateStore, StreamState
from pipeline.core.bounds import Bounds, check_post
from pipeline.core.decode import dead_letter
from pipeline.core.schema import RawPost

__all__ = ["StreamRunner"]

log = logging.getLogger(__name__)


def _max_cursor(a: Cursor, b: Cursor) -> Cursor:
    if a is None:
        return b
    if b is None:
        return a
    try:
        return b if b > a else a
    except TypeError:
        return b if str(b) > str(a) else a


def _older(cursor: Cursor, saved: Cursor) -> bool:
    """True when ``cursor`` sorts strictly before ``saved`` (False when not comparable)."""
    if cursor is None or saved is None:
        return False
    try:
        return bool(cursor < saved)
    except TypeError:
        return False


def _jsonable(record: Record) -> bytes:
    if isinstance(record, bytes):
        return record
    if hasattr(record, "model_dump_json"):
        return record.model_dump_json().encode()
    return json.dumps(record, default=str, ensure_ascii=False).encode()


class StreamRunner:
    """Drives one stream: the read loop, dedupe, produce, checkpoints."""

    def __init__(
        self,
        connector: Connector[ConnectorSpec],
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
    def _dead_letter(self, record: Record, exc: Exception) -> None:
        self.result.invalid += 1
        metrics.INVALID.labels(*self.labels).inc()
        message = str(exc).replace("\n", " ")[:500]
        log.warning("%s/%s: invalid record dead-lettered: %s", self.connector.name, self.stream.name, message)
        if self.options.dlq_topic:
            letter = dead_letter(_jsonable(record), None, f"connector:{self.instance}/{self.stream.name}", -1, -1,
                                 ValueError(message), stage="connector")
            letter.error_type = type(exc).__name__
            self.sink.send_raw(None, letter.model_dump_json().encode(), self.options.dlq_topic)

    def _normalise(self, record: Record) -> RawPost:
        out = self.stream.to_post(record)
        if isinstance(out, RawPost):
            return out
        if not isinstance(out, dict):
            raise ValueError(f"to_post returned {type(out).__name__}, expected RawPost or dict")
        if not out.get("source"):
            out = {**out, "source": self.connector.name}
        return RawPost.model_validate(out)

    def _post(self, record: Record) -> RawPost:
        return check_post(self._normalise(record), self.bounds)

    def handle(self, record: Record) -> None:
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
        state = self.state.view() | {"cursor": self._pending_cursor}
        gen: Iterator[Record | StateUpdate | None] = iter(self.stream.read(state))
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
