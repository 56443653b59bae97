"""Test helpers: local receivers (a real HTTP server, a real aiosmtpd SMTP server), a fake clock, alert factory."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pipeline.core.schema import Alert, AlertWindow, Evidence, Subject

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    body: bytes = b"ok"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class Receiver:
    """HTTP server on 127.0.0.1 that records POSTs and answers from a script, then ``default``."""

    def __init__(self, script: list[Reply] | None = None, default: Reply | None = None) -> None:
        self.script = list(script or [])
        self.default = default or Reply()
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.requests.append(Received(self.path, dict(self.headers.items()), body, time.monotonic()))
                    reply = receiver.script.pop(0) if receiver.script else receiver.default
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()




class SmtpSink:
    """aiosmtpd handler keeping every envelope; refuses RCPT for addresses in ``refuse``."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:  # noqa: N802
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class FakeClock:
    """Settable UTC clock for incident windows."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_alert(
    *,
    kind: str = "negative_spike",
    subject_kind: str = "brand",
    subject_id: str = "nimbus",
    brand_id: str | None = None,
    topic_id: str | None = None,
    severity: str = "warning",
    observed: float = 120.0,
    expected: float = 15.0,
    minute: int = 0,
    base: datetime = T0,
    **evidence: Any,
) -> Alert:
    """A detector-like alert; ``minute`` shifts its window (and so its id) from ``base``."""
    start = base + timedelta(minutes=minute)
    ev = Evidence(
        post_ids=evidence.get("post_ids", ["mastodon:1", "bluesky:2"]),
        authors=evidence.get("authors", ["@angry_flyer", "@travelwriter"]),
        key_terms=evidence.get("key_terms", ["lost luggage", "delay", "refund"]),
        links=evidence.get("links", ["https://social.example/@angry_flyer/1"]),
        negative_share=evidence.get("negative_share", 0.72),
    )
    return Alert(
        id=Alert.make_id(kind, subject_id, start),
        kind=kind,  # type: ignore[arg-type]
        subject=Subject(kind=subject_kind, id=subject_id, brand_id=brand_id, topic_id=topic_id),  # type: ignore[arg-type]
        severity=severity,  # type: ignore[arg-type]
        score=4.2,
        window=AlertWindow(start=start, end=start + timedelta(minutes=5)),
        observed=observed,
        expected=expected,
        explanation="Negative mentions are 8x the usual level.",
        evidence=ev,
    )
