"""Helpers for integration tests: worker subprocesses, Kafka lag, a local webhook receiver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

REPO = Path(__file__).resolve().parents[2]


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``hypermicro worker`` in its own process group, logging to ``log_path``."""
    full = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    log = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "worker", "--loglevel", "warning"],
        cwd=REPO, env=full, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def stop_worker(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 60) -> int:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    return proc.returncode


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return {tp.partition: off for tp, off in ends.items()}
    finally:
        consumer.close()


def committed(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offs = admin.list_group_offsets(group).get(group, {})
        return {(tp.topic, tp.partition): getattr(meta, "offset", meta) for tp, meta in offs.items()}
    finally:
        admin.close()


def lag(bootstrap: str, group: str, topics: Iterable[str]) -> int:
    """Messages not yet committed by ``group`` on ``topics`` (0 when fully processed).

    While the group's coordinator moves (a broker restart) the offsets cannot be read: that is
    "not drained yet", so callers polling with :func:`wait_until` simply ask again."""
    try:
        done = committed(bootstrap, group)
        ends = {topic: end_offsets(bootstrap, topic) for topic in topics}
    except KafkaError as exc:
        if not exc.retriable:
            raise
        return 1 << 62
    return sum(max(0, end - max(done.get((topic, part), 0), 0))
               for topic, parts in ends.items() for part, end in parts.items())


def wait_until(pred: Any, timeout: float, every: float = 1.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def read_topic(bootstrap: str, topic: str, timeout_ms: int = 5000) -> list[Any]:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
        consumer_timeout_ms=timeout_ms, enable_auto_commit=False,
    )
    try:
        return list(consumer)
    finally:
        consumer.close()


class WebhookReceiver:
    """A local HTTP endpoint recording every POSTed JSON body."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append({"headers": dict(self.headers), "json": json.loads(body or b"{}"), "at": time.time()})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
