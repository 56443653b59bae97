"""Webhook receiver: signatures, precise 4xx, all-or-nothing batches, produce+flush before 2xx."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from starlette.testclient import TestClient

from connectors.base import CheckError
from connectors.sources.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookConnector,
    sign,
    signature_headers,
)
from connectors.testing import MemorySink
from pipeline.core.kafka import PostProducer
from pipeline.core.schema import RawPost
from tests.ports import free_port

SECRET = "s3cret-shared-key"


def _post(i: int, **extra: object) -> dict:
    return {"id": f"w{i}", "source": "forum", "created_at": "2024-05-01T12:00:00Z", "text": f"acme {i}",
            "author": {"id": "u1", "handle": "poster"}, **extra}


def _client(sink: MemorySink, **spec: object) -> tuple[TestClient, WebhookConnector]:
    conn = WebhookConnector.from_config({"secret": SECRET, **spec})
    return TestClient(conn.build_app(sink)), conn  # type: ignore[arg-type]


NOW = str(int(time.time()))


def _send(client: TestClient, body: bytes, ctype: str = "application/json", signature: str | None = "auto",  # noqa: ANN202
          timestamp: str | None = None):
    timestamp = timestamp or str(int(time.time()))
    headers = {"Content-Type": ctype, TIMESTAMP_HEADER: timestamp}
    if signature == "auto":
        headers[SIGNATURE_HEADER] = sign(SECRET, body, timestamp)
    elif signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return client.post("/ingest", content=body, headers=headers)


def test_single_post_is_flushed_before_200() -> None:
    sink = MemorySink()
    client, _ = _client(sink)
    res = _send(client, json.dumps(_post(1)).encode())
    assert res.status_code == 200 and res.json() == {"accepted": 1, "ids": ["forum:w1"]}
    assert sink.ids == ["forum:w1"]  # MemorySink only shows posts after flush()


def test_ndjson_and_array_batches() -> None:
    sink = MemorySink()
    client, _ = _client(sink)
    nd = b"\n".join(json.dumps(_post(i)).encode() for i in range(3)) + b"\n\n"
    assert _send(client, nd, "application/x-ndjson").json()["accepted"] == 3
    arr = json.dumps([_post(7), {**_post(8), "source": None}]).encode()
    res = _send(client, arr, "application/json; charset=utf-8")
    assert res.json()["ids"] == ["forum:w7", "webhook:w8"]
    assert len(sink.posts) == 5


@pytest.mark.parametrize(("signature", "status", "phrase"), [
    (None, 401, "missing"),
    ("sha256=" + "0" * 64, 403, "does not match"),
    ("garbage", 403, "does not match"),
])
def test_signature_is_required_and_checked(signature: str | None, status: int, phrase: str) -> None:
    sink = MemorySink()
    client, _ = _client(sink)
    res = _send(client, json.dumps(_post(1)).encode(), signature=signature)
    assert res.status_code == status and phrase in res.json()["error"]
    assert sink.posts == []


def test_signature_over_a_different_body_is_refused() -> None:
    sink = MemorySink()
    client, _ = _client(sink)
    body = json.dumps(_post(1)).encode()
    res = _send(client, body.replace(b"acme", b"evil"), signature=sign(SECRET, body, NOW), timestamp=NOW)
    assert res.status_code == 403 and sink.posts == []


def test_malformed_json_reports_the_line() -> None:
    client, _ = _client(MemorySink())
    nd = json.dumps(_post(1)).encode() + b"\n{broken\n"
    res = _send(client, nd, "application/x-ndjson")
    assert res.status_code == 400 and res.json()["details"][0]["line"] == 2


def test_invalid_posts_reject_the_whole_batch_with_precise_errors() -> None:
    sink = MemorySink()
    client, _ = _client(sink)
    bad = _post(2)
    del bad["text"]
    nd = b"\n".join(json.dumps(x).encode() for x in (_post(1), bad, [1, 2])) + b"\n"
    res = _send(client, nd, "application/x-ndjson")
    assert res.status_code == 422
    details = res.json()["details"]
    assert details[0] == {"line": 2, "errors": [{"field": "text", "message": "Field required"}]}
    assert details[1]["line"] == 3 and "object" in details[1]["message"]
    assert sink.posts == []  # all or nothing


def test_unsupported_type_and_size_limits() -> None:
    client, _ = _client(MemorySink(), max_body_bytes=200, max_batch=2)
    assert _send(client, b"id,text\n1,x\n", "text/csv").status_code == 415
    big = json.dumps({**_post(1), "text": "x" * 500}).encode()
    assert _send(client, big).status_code == 413
    three = json.dumps([{"id": i} for i in range(3)]).encode()
    res = _send(client, three)
    assert res.status_code == 413 and "limit of 2" in res.json()["error"]


def test_kafka_failure_answers_503_and_stops_the_receiver() -> None:
    sink = MemorySink(fail_flush_after=1)
    client, conn = _client(sink)
    res = _send(client, json.dumps(_post(1)).encode())
    assert res.status_code == 503 and conn.stop_event.is_set()
    assert client.get("/healthz").json() == {"ok": False}


def test_check_requires_a_secret() -> None:
    with pytest.raises(CheckError, match="secret"):
        WebhookConnector.from_config({}).check()
    assert SECRET not in str(WebhookConnector.from_config({"secret": SECRET}).spec)




@pytest.mark.kafka
def test_accepted_posts_are_in_kafka_when_the_sender_gets_200(kafka_bootstrap: str, topic: str, consume) -> None:  # noqa: ANN001
    port = free_port()
    conn = WebhookConnector.from_config({"secret": SECRET, "port": port})
    producer = PostProducer(kafka_bootstrap, topic=topic, linger_ms=1000)  # long linger: flush must force it
    thread = threading.Thread(target=conn.serve, args=(producer, None), daemon=True)
    thread.start()
    try:
        body = b"\n".join(json.dumps(_post(i)).encode() for i in range(20))
        for _ in range(50):
            try:
                res = httpx.post(f"http://127.0.0.1:{port}/ingest", content=body, timeout=10,
                                 headers={"Content-Type": "application/x-ndjson", **signature_headers(SECRET, body)})
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert res.status_code == 200
        msgs = consume(topic, 20, timeout_s=5)
        assert sorted(RawPost.model_validate_json(m.value).id for m in msgs) == sorted(f"forum:w{i}" for i in range(20))
    finally:
        conn.stop_event.set()
        thread.join(10)
        producer.close()
    assert not thread.is_alive()
