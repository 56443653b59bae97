"""An in-memory sink for connector tests, and one runner pass into it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from connectors.base import Connector, ConnectorSpec
from connectors.run_types import RunnerOptions, RunResult
from connectors.runner import run_connector
from pipeline.core.kafka import KafkaDeliveryError
from pipeline.core.schema import DeadLetter, RawPost

__all__ = ["MemorySink", "run_once"]


class _Done:
    """A resolved send future."""

    def __init__(self, value: object = None) -> None:
        self.value = value

    def get(self, timeout: float | None = None) -> object:
        return self.value


class MemorySink:
    """Records what a connector produces; ``flush()`` is the acknowledgement point.

    ``fail_flush_after`` makes the N-th and later flushes raise :class:`KafkaDeliveryError` (a Kafka
    outage); what was pending then is lost, like messages Kafka never acknowledged.
    """

    def __init__(self, fail_flush_after: int | None = None) -> None:
        self.fail_flush_after = fail_flush_after
        self.flushes = 0
        self.posts: list[RawPost] = []
        self.raw: list[tuple[str | None, bytes | None, bytes]] = []
        self._pending_posts: list[RawPost] = []
        self._pending_raw: list[tuple[str | None, bytes | None, bytes]] = []
        self._lock = threading.Lock()

    def send(self, post: RawPost, topic: str | None = None) -> _Done:
        with self._lock:
            self._pending_posts.append(post)
        return _Done(post)

    def send_raw(self, key: bytes | None, value: bytes, topic: str | None = None) -> _Done:
        with self._lock:
            self._pending_raw.append((topic, key, value))
        return _Done()

    def flush(self, timeout: float | None = None) -> None:
        with self._lock:
            self.flushes += 1
            if self.fail_flush_after is not None and self.flushes >= self.fail_flush_after:
                self._pending_posts.clear()
                self._pending_raw.clear()
                raise KafkaDeliveryError([RuntimeError("simulated Kafka outage")], 1)
            self.posts.extend(self._pending_posts)
            self.raw.extend(self._pending_raw)
            self._pending_posts.clear()
            self._pending_raw.clear()

    def close(self, timeout: float | None = None) -> None:
        self.flush(timeout)

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.posts]

    @property
    def dead_letters(self) -> list[DeadLetter]:
        return [DeadLetter.model_validate_json(v) for _, _, v in self.raw]


def run_once(
    connector: Connector[ConnectorSpec],
    state_dir: Path,
    sink: MemorySink | None = None,
    **options: Any,  # RunnerOptions fields
) -> tuple[RunResult, MemorySink]:
    """One pass of every stream into a :class:`MemorySink` (``idle_exit_s`` 1.5 s by default)."""
    sink = sink or MemorySink()
    opts = RunnerOptions(state_dir=state_dir, create_topics=False, checkpoint_interval_s=0.2, poll_interval_s=0.1,
                         idle_exit_s=options.pop("idle_exit_s", 1.5), **options)
    result = run_connector(connector, opts, once=True, sink=sink)
    return result, sink
