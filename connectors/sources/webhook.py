"""Webhook push receiver: other systems POST posts; each accepted post is in Kafka before the 2xx.

``POST <path>`` with ``Content-Type: application/json`` (one post object, or an array) or
``application/x-ndjson`` (one post per line), in the interchange form of RawPost. The request
must be signed (:mod:`pipeline.core.signing`): ``X-Hypermicro-Timestamp: <unix seconds>`` and
``X-Hypermicro-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>``; the
headers are checked before the body is read, a timestamp more than ``signature_tolerance_s``
off is refused, and so is a signature already accepted (replay). A batch is all-or-nothing: it
is validated completely first (RawPost and :mod:`pipeline.core.bounds`), then produced and flushed;
``200 {"accepted": n, "ids": [...]}`` is sent only after Kafka acknowledged every post.
Errors: 400 malformed JSON (with the line), 401 missing signature headers, 403 bad or stale
signature, 408 body not received within ``request_timeout_s``, 409 replayed signature, 413
body too large, 415 unsupported content type, 422 invalid posts (each with its line and fields),
503 Kafka did not acknowledge (retry later; the receiver then stops so a supervisor restarts it
with a fresh producer) or too many connections. Re-sending a batch is safe when signed afresh:
posts are keyed by id. A client must send each whole request within ``request_timeout_s``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from connectors import metrics
from connectors.base import CheckError, ConnectorSpec, PushConnector, Sink
from pipeline.core.bounds import DEFAULT_BOUNDS, Bounds, OutOfBounds, check_post
from pipeline.core.httpserver import server_config
from pipeline.core.schema import RawPost
from pipeline.core.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ReplayGuard,
    SignatureError,
    check_headers,
    sign,
    signature_headers,
    verify,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette

log = logging.getLogger(__name__)
__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookConnector", "parse_body", "sign", "signature_headers"]


class WebhookSpec(ConnectorSpec):
    """Where the receiver listens and the shared secret."""

    model_config = SettingsConfigDict(env_prefix="HYPERMICRO_WEBHOOK_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = 8090
    path: str = "/ingest"
    secret: SecretStr = SecretStr("")
    """Shared HMAC-SHA256 key (required)."""
    max_body_bytes: int = 5 * 1024 * 1024
    max_batch: int = 10_000
    default_source: str = "webhook"
    """Source name for posts that do not carry one."""
    signature_tolerance_s: float = 300.0
    """Refuse signed timestamps further than this from the receiver's clock (and replays within it)."""
    request_timeout_s: float = 15.0
    """A client must send a whole request (headers and body) within this many seconds."""
    max_connections: int = 64
    """Connections served at once; more get 503 (slow clients cannot starve the rest)."""


class WebhookError(Exception):
    def __init__(self, status: int, error: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.details = status, error, details or []


def parse_body(body: bytes, content_type: str, default_source: str, max_batch: int,
               bounds: Bounds = DEFAULT_BOUNDS) -> list[RawPost]:
    """Parse and validate a request body into posts, or raise :class:`WebhookError` (4xx)."""
    ctype = content_type.split(";", 1)[0].strip().lower()
    records: list[tuple[int, Any]] = []
    if ctype in ("application/x-ndjson", "application/ndjson", "application/jsonl"):
        for lineno, line in enumerate(body.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append((lineno, orjson.loads(line)))
            except orjson.JSONDecodeError as exc:
                raise WebhookError(400, "malformed JSON", [{"line": lineno, "message": str(exc)}]) from None
    elif ctype == "application/json":
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise WebhookError(400, "malformed JSON", [{"line": 1, "message": str(exc)}]) from None
        records = [(i + 1, r) for i, r in enumerate(doc)] if isinstance(doc, list) else [(1, doc)]
    else:
        raise WebhookError(415, f"unsupported content type {ctype or '(none)'}; "
                                "use application/json or application/x-ndjson")
    if not records:
        raise WebhookError(422, "no posts in the body")
    if len(records) > max_batch:
        raise WebhookError(413, f"batch of {len(records)} posts exceeds the limit of {max_batch}")
    posts: list[RawPost] = []
    problems: list[dict[str, Any]] = []
    for lineno, rec in records:
        if not isinstance(rec, dict):
            problems.append({"line": lineno, "message": "not a JSON object"})
            continue
        if not rec.get("source"):
            rec = {**rec, "source": default_source}
        try:
            posts.append(check_post(RawPost.model_validate(rec), bounds))
        except ValidationError as exc:
            problems.append({"line": lineno, "errors": [
                {"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()]})
        except OutOfBounds as exc:
            problems.append({"line": lineno, "errors": [{"field": exc.field, "message": str(exc)}]})
    if problems:
        raise WebhookError(422, f"{len(problems)} invalid post(s); nothing was accepted", problems)
    return posts


class WebhookConnector(PushConnector[WebhookSpec]):
    """HTTP receiver for signed JSON/NDJSON posts (produced and flushed before the 2xx)."""

    name = "webhook"
    spec_class = WebhookSpec

    def check(self) -> None:
        import socket

        if not self.spec.secret.get_secret_value():
            raise CheckError("webhook: no shared secret; set HYPERMICRO_WEBHOOK_SECRET (or a file of that name in --secrets-dir)")
        with socket.socket() as s:
            try:
                s.bind((self.spec.host, self.spec.port))
            except OSError as exc:
                raise CheckError(f"webhook: cannot listen on {self.spec.host}:{self.spec.port}: {exc}") from exc

    def build_app(self, sink: Sink, dlq_topic: str | None = None) -> Starlette:
        """The Starlette app (also used in tests with an in-process client)."""
        from starlette.applications import Starlette
        from starlette.concurrency import run_in_threadpool
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        spec = self.spec
        secret = spec.secret.get_secret_value().encode()
        produce_lock = threading.Lock()
        replays = ReplayGuard(spec.signature_tolerance_s)

        def reply(status: int, body: dict[str, Any]) -> JSONResponse:
            metrics.WEBHOOK_REQUESTS.labels(self.name, str(status)).inc()
            if status >= 400:
                log.warning("webhook: %d %s", status, body.get("error"))
            return JSONResponse(body, status_code=status)

        def produce(posts: list[RawPost]) -> None:
            with produce_lock:  # a flush covers this request's posts; one batch at a time keeps it simple
                for post in posts:
                    sink.send(post)
                sink.flush(30.0)

        async def ingest(request: Request) -> JSONResponse:
            signature = request.headers.get(SIGNATURE_HEADER)
            timestamp = request.headers.get(TIMESTAMP_HEADER)
            try:  # before reading the body: unsigned or stale requests cost nothing
                check_headers(signature, timestamp, tolerance_s=spec.signature_tolerance_s)
            except SignatureError as exc:
                return reply(exc.status, {"error": str(exc)})
            length = request.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > spec.max_body_bytes:
                return reply(413, {"error": f"body larger than {spec.max_body_bytes} bytes"})
            body = bytearray()
            try:
                async with asyncio.timeout(spec.request_timeout_s):
                    async for chunk in request.stream():
                        body += chunk
                        if len(body) > spec.max_body_bytes:
                            return reply(413, {"error": f"body larger than {spec.max_body_bytes} bytes"})
            except TimeoutError:
                return reply(408, {"error": f"body not received within {spec.request_timeout_s:.0f} s"})
            try:
                ts = verify(secret, bytes(body), signature, timestamp, tolerance_s=spec.signature_tolerance_s)
                replays.claim(str(signature).strip(), ts)
            except SignatureError as exc:
                return reply(exc.status, {"error": str(exc)})
            try:
                posts = parse_body(bytes(body), request.headers.get("content-type", ""), spec.default_source,
                                   spec.max_batch, self.bounds)
            except WebhookError as exc:
                return reply(exc.status, {"error": exc.error, "details": exc.details})
            try:
                await run_in_threadpool(produce, posts)
            except Exception as exc:  # noqa: BLE001 - any failure to get acks is a 503, never a 2xx
                metrics.ERRORS.labels(self.name, "webhook", "delivery").inc()
                log.error("webhook: Kafka did not acknowledge a batch of %d: %r; stopping", len(posts), exc)
                self.stop_event.set()
                return reply(503, {"error": "posts were not stored; retry later"})
            metrics.POSTS.labels(self.name, "webhook").inc(len(posts))
            return reply(200, {"accepted": len(posts), "ids": [p.id for p in posts]})

        async def health(request: Request) -> JSONResponse:
            return JSONResponse({"ok": not self.stop_event.is_set()})

        return Starlette(routes=[Route(spec.path, ingest, methods=["POST"]),
                                 Route("/healthz", health, methods=["GET"])])

    def serve(self, sink: Sink, dlq_topic: str | None) -> None:
        import uvicorn

        if not self.spec.secret.get_secret_value():
            raise CheckError("webhook: no shared secret configured")
        server = uvicorn.Server(server_config(
            self.build_app(sink, dlq_topic), self.spec.host, self.spec.port, log_level="warning", lifespan="off",
            request_timeout_s=self.spec.request_timeout_s, max_connections=self.spec.max_connections))

        def watch() -> None:
            self.stop_event.wait()
            server.should_exit = True

        threading.Thread(target=watch, daemon=True, name="webhook-stop").start()
        log.info("webhook receiver on http://%s:%d%s", self.spec.host, self.spec.port, self.spec.path)
        server.run()
        self.stop_event.set()
