"""Findings 4 and 5 of the hostile-input review against the real HTTP server (uvicorn): junk
methods do not grow /metrics, bodies are refused before they are read (size, then auth), the
dashboard sends CSP / X-Frame-Options / nosniff, and a post id over 256 characters paginates."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline.storage.backend import ChdbBackend
from pipeline.storage.migrate import migrate
from pipeline.storage.repository import Repository
from tests.api.conftest import (
    admin_headers,
    api_settings,
    enriched,
    read_headers,
    seed,
    serve,
)
from tests.ports import free_port

LONG_IDS = ["L" * 300 + str(i) for i in range(3)]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from pipeline.api.app import create_api

    tmp: Path = tmp_path_factory.mktemp("hostile-api")
    ch = ChdbBackend(tmp / "chdb", "hypermicro")
    migrate(ch)
    repo = Repository(ch)
    seed(repo)
    repo.insert_posts([enriched(pid, 80 + i, {"acme": "negative"}, [], "", "zed", f"long id post {i}", "en")
                       for i, pid in enumerate(LONG_IDS)])
    port = free_port()
    with serve(create_api(lambda: repo, api_settings(tmp, api_port=port)), port) as base:
        yield base
    ch.close()


def _series(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.startswith("hypermicro_api_"))


def test_junk_methods_do_not_create_metric_series(server: str) -> None:
    with httpx.Client(base_url=server) as c:
        c.get("/metrics")
        for i in range(30):  # warm up every series a junk request can touch
            c.request(f"JUNK{i}", f"/api/v1/x{i}")
        before = c.get("/metrics").text
        for i in range(500):
            c.request(f"M{i}X", f"/api/v1/p{i}/{i}")
        after = c.get("/metrics").text
    assert _series(after) == _series(before)
    methods = set(re.findall(r'hypermicro_api_requests_total\{method="([^"]+)"', after))
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"}


def _raw_request(server: str, head: bytes, body_part: bytes, wait: float = 5.0) -> bytes:
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(head + body_part)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            pass
        return data


def test_huge_body_is_refused_before_it_is_read(server: str) -> None:
    head = (b"POST /api/v1/alerts/al-1/ack HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000\r\n\r\n")
    started = time.monotonic()
    answer = _raw_request(server, head, b"{" + b" " * 1000)  # 1 kB of a declared 100 MB
    assert answer.startswith(b"HTTP/1.1 413") and time.monotonic() - started < 3


def test_unauthenticated_chunked_body_is_refused_before_it_is_read(server: str) -> None:
    head = (b"POST /api/v1/alerts/al-1/ack HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    answer = _raw_request(server, head, b"400\r\n" + b" " * 1024 + b"\r\n")  # body never finished
    assert answer.startswith(b"HTTP/1.1 401")


def test_oversize_chunked_body_with_a_token_is_413(server: str) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 4096
    r = httpx.post(f"{server}/api/v1/alerts/al-1/ack", content=chunks(),
                   headers={**admin_headers(), "Content-Type": "application/json"})
    assert r.status_code == 413


def test_dashboard_and_api_send_security_headers(server: str) -> None:
    for path in ("/", "/static/app.js", "/api/v1/brands", "/nope"):
        r = httpx.get(server + path, headers=read_headers())
        csp = r.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"


def test_ack_still_works_with_a_body(server: str) -> None:
    r = httpx.post(f"{server}/api/v1/alerts/al-3/ack", json={"by": "Dana", "note": "<b>on it</b>"},
                   headers=admin_headers())
    assert r.status_code == 200 and r.json()["acknowledged"] is True
    bad = httpx.post(f"{server}/api/v1/alerts/al-3/ack", content=b'{"by": 5', headers=admin_headers())
    assert bad.status_code == 422


def test_cursor_pages_through_post_ids_longer_than_256_characters(server: str) -> None:
    seen: list[str] = []
    cursor = None
    with httpx.Client(base_url=server, headers=read_headers()) as c:
        for _ in range(5):
            params = {"author": "zed", "limit": "1", **({"cursor": cursor} if cursor else {})}
            r = c.get("/api/v1/posts", params=params)
            assert r.status_code == 200, r.text
            body = r.json()
            seen += [p["id"] for p in body["items"]]
            cursor = body["next_cursor"]
            if not cursor:
                break
    assert sorted(seen) == sorted(f"test:{i}" for i in LONG_IDS)
