"""A live stack for measurements as a user sees them: the ``hypermicro worker`` in a
subprocess and a local webhook endpoint recording the alerts it delivers.

Used by ``benchmarks/bench_spike_latency.py`` and the integration tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypedDict

__all__ = ["Received", "WebhookReceiver", "start_worker", "stop_worker"]

ROOT = Path(__file__).resolve().parents[2]
"""Directory holding the ``pipeline`` package: the worker subprocess runs this copy of it."""


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``hypermicro worker`` in its own process group, logging to ``log_path``."""
    full = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    log = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "worker", "--loglevel", "warning"],
        cwd=ROOT, env=full, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def stop_worker(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 60) -> int:
    """Signal the worker's process group and wait (SIGKILL after ``timeout`` seconds); its exit code."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    return proc.returncode


class Received(TypedDict):
    """One POST the receiver recorded."""

    headers: dict[str, str]
    json: dict[str, Any]
    """The decoded JSON body (a boundary: whatever the sender posted)."""
    at: float
    """Arrival time (``time.time()``)."""


class WebhookReceiver:
    """A local HTTP endpoint recording every POSTed JSON body (``url`` ends in ``/hook``)."""

    def __init__(self) -> None:
        received: list[Received] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append({"headers": dict(self.headers), "json": json.loads(body or b"{}"), "at": time.time()})
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
