"""Findings 4 and 5 for the webhook receiver, against the real server (uvicorn) and the real
broker: slow-dribbling clients are dropped, a captured request cannot be replayed, unsigned or
stale requests are refused before their body is read, and out-of-bounds posts are rejected."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from connectors.sources.webhook import TIMESTAMP_HEADER, WebhookConnector, sign, signature_headers
from pipeline.core.kafka import PostProducer
from tests.ports import free_port

pytestmark = pytest.mark.kafka
SECRET = "hostile-test-secret"


@pytest.fixture
def receiver(kafka_bootstrap: str, topic: str) -> Iterator[str]:
    port = free_port()
    conn = WebhookConnector.from_config({"secret": SECRET, "port": port, "request_timeout_s": 2,
                                         "max_connections": 100})
    producer = PostProducer(kafka_bootstrap, topic=topic, linger_ms=5)
    thread = threading.Thread(target=conn.serve, args=(producer, None), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(url + "/healthz", timeout=1)
            break
        except httpx.ConnectError:
            time.sleep(0.1)
    yield url
    conn.stop_event.set()
    thread.join(10)
    producer.close()


def _post(i: int, created_at: str | None = None) -> bytes:
    when = created_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return json.dumps({"id": f"h{i}", "source": "forum", "created_at": when, "text": f"acme {i}",
                       "author": {"id": "u1"}}).encode()


def test_slow_dribbling_connections_are_dropped_and_others_are_served(receiver: str, topic: str, consume) -> None:  # noqa: ANN001
    host, port = receiver.removeprefix("http://").split(":")
    socks = [socket.create_connection((host, int(port)), timeout=10) for _ in range(60)]
    head = b"POST /ingest HTTP/1.1\r\nHost: x\r\n"
    dropped = 0
    try:
        deadline = time.monotonic() + 8
        pending = {i: 0 for i in range(len(socks))}
        while pending and time.monotonic() < deadline:
            for i in list(pending):
                try:
                    socks[i].sendall(head[pending[i]:pending[i] + 1])  # one byte per round
                    pending[i] += 1
                except OSError:
                    pending.pop(i)
                    dropped += 1
            time.sleep(0.5)
        for i in list(pending):  # a closed connection reads EOF
            socks[i].settimeout(0.2)
            try:
                if socks[i].recv(1) == b"":
                    dropped += 1
            except (OSError, TimeoutError):
                pass
        body = _post(1)
        r = httpx.post(receiver + "/ingest", content=body, timeout=10,
                       headers={"Content-Type": "application/json", **signature_headers(SECRET, body)})
    finally:
        for s in socks:
            s.close()
    assert dropped == 60
    assert r.status_code == 200 and len(consume(topic, 1)) == 1


def test_replayed_and_stale_requests_are_refused(receiver: str, topic: str, consume) -> None:  # noqa: ANN001
    body = _post(2)
    headers = {"Content-Type": "application/json", **signature_headers(SECRET, body)}
    assert httpx.post(receiver + "/ingest", content=body, headers=headers).status_code == 200
    replay = httpx.post(receiver + "/ingest", content=body, headers=headers)
    assert replay.status_code == 409 and "replay" in replay.json()["error"]
    old = str(int(time.time()) - 3600)
    stale = httpx.post(receiver + "/ingest", content=body, headers={
        "Content-Type": "application/json", TIMESTAMP_HEADER: old, "X-Hypermicro-Signature": sign(SECRET, body, old)})
    assert stale.status_code == 403
    assert len(consume(topic, 1)) == 1  # only the first one reached Kafka


def test_unsigned_body_is_refused_before_it_is_read(receiver: str) -> None:
    host, port = receiver.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100000000\r\n\r\n" + b"x" * 1000)
        assert sock.recv(100).startswith(b"HTTP/1.1 401")


def test_posts_outside_the_bounds_are_rejected_with_the_field(receiver: str) -> None:
    body = _post(3, "2100-01-01T00:00:00Z")
    r = httpx.post(receiver + "/ingest", content=body,
                   headers={"Content-Type": "application/json", **signature_headers(SECRET, body)})
    assert r.status_code == 422 and r.json()["details"][0]["errors"][0]["field"] == "created_at"
