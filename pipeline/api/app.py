"""The HTTP API (FastAPI) and the dashboard it serves, over the Repository of either backend.

``create_api(repo_provider, settings)`` builds the app; database calls run in a threadpool
because the backends are synchronous (and serialise their own calls).
"""
# No ``from __future__ import annotations``: FastAPI must resolve the closures' annotations.

import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Concatenate, Literal, ParamSpec, TypeVar

from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.alerts.acks import acknowledge_in_book
from pipeline.api import queries as Q
from pipeline.api import why as W
from pipeline.api.auth import Authenticator, Principal, require_act, require_read
from pipeline.api.guard import MAX_BODY_BYTES, SecurityHeaders, method_label
from pipeline.api.params import (
    ALERT_ID_PATTERN,
    CURSOR_MAX,
    ID_PATTERN,
    LANGUAGE_PATTERN,
    WINDOWS,
    ApiError,
    Cursor,
    check_text,
    optional_range,
    pick_interval,
    time_range,
)
from pipeline.api.roster_routes import roster_router
from pipeline.core.brands import BrandConfigError, load_brands
from pipeline.core.schema import AlertKind, SentimentLabel, Severity
from pipeline.core.settings import Settings
from pipeline.storage.backend import StorageError
from pipeline.storage.reads.alerts import AlertFilter
from pipeline.storage.reads.posts import PostFilter
from pipeline.storage.repository import Repository

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
API_PREFIX = "/api/v1"
T = TypeVar("T")
P = ParamSpec("P")

REQUESTS = Counter("hypermicro_api_requests_total", "API requests by route template, method and status.",
                   ["method", "route", "status"])
LATENCY = Histogram("hypermicro_api_request_duration_seconds", "API request latency by route template.",
                    ["method", "route"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10))

RepoProvider = Callable[[], Repository] | Callable[[], Awaitable[Repository]]
Sentiment = SentimentLabel
Interval = Literal["1m", "5m", "15m", "1h", "6h", "1d"]
Window = Literal["15m", "1h", "6h", "24h"]
IdQuery = Annotated[str | None, Query(pattern=ID_PATTERN)]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size, 1..500.")]
CursorQ = Annotated[str | None, Query(max_length=CURSOR_MAX, description="Opaque cursor from `next_cursor`.")]
From = Annotated[datetime | None, Query(alias="from", description="ISO 8601 start (inclusive), UTC if no offset.")]
To = Annotated[datetime | None, Query(alias="to", description="ISO 8601 end (exclusive), UTC if no offset.")]


class AckBody(BaseModel):
    """Optional details of an acknowledgement."""

    by: str = Field("", max_length=200, description="Who acknowledges; ignored for a named access key "
                    "(its person's name is recorded), shown with the fingerprint of an unnamed one.")
    note: str = Field("", max_length=2000, description="Free-text note.")


def _error(status: int, message: str, detail: Any = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "detail": detail}, status_code=status, headers=headers)


def create_api(repo_provider: RepoProvider, settings: Settings) -> FastAPI:
    """The API and dashboard. ``repo_provider`` returns the Repository (sync or awaitable)."""
    auth = Authenticator(settings)
    brands_cache: dict[str, Any] = {}
    app = FastAPI(title="hypermicro API", version="1", docs_url="/docs", openapi_url="/openapi.json",
                  max_body_size=MAX_BODY_BYTES,
                  description="Social-listening read API: brand overview, trending conversations, "
                              "emerging voices, alerts and post search. Bearer-token auth (read/act/admin).")
    app.state.auth = auth  # read by the dependencies in pipeline.api.auth
    read = Depends(require_read)

    async def repo() -> Repository:
        r = repo_provider()
        return await r if inspect.isawaitable(r) else r

    async def db(fn: Callable[Concatenate[Repository, P], T], *args: P.args, **kw: P.kwargs) -> T:
        """``fn(repository, *args, **kw)`` in the threadpool (the backends are synchronous)."""
        r = await repo()
        return await run_in_threadpool(fn, r, *args, **kw)

    async def data_now(kind: str, subject: str | None = None, table: str = "mention_minute") -> datetime:
        r = await repo()
        return await run_in_threadpool(r.mentions.data_now, table, kind, subject)

    def brands() -> dict[str, Q.Brand]:
        mtime = settings.brands_file.stat().st_mtime if settings.brands_file.exists() else 0.0
        if brands_cache.get("mtime") != mtime:
            brands_cache["mtime"] = mtime
            try:
                loaded = load_brands(settings.brands_file) if settings.brands_file.exists() else []
            except BrandConfigError as exc:  # an edit broke the file: keep serving the last good brands
                log.error("brands file not reloaded: %s", exc)
            else:
                brands_cache["brands"] = {b.id: Q.Brand(b.id, b.name, tuple(b.competitors), ", ".join(b.owner))
                                          for b in loaded}
        return brands_cache.get("brands", {})

    # -- errors and metrics ----------------------------------------------------------------
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return _error(exc.status, exc.message, exc.detail, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [{"in": str(e["loc"][0]) if e.get("loc") else "request",
                   "param": ".".join(str(x) for x in e.get("loc", ())[1:]), "message": e.get("msg", "invalid")}
                  for e in exc.errors()]  # never echo the input back (it may be 10 kB of junk)
        return _error(422, "invalid request", detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        return _error(exc.status_code, message.lower(), None, getattr(exc, "headers", None))

    @app.exception_handler(StorageError)
    async def _storage(_: Request, exc: StorageError) -> JSONResponse:
        log.error("storage error: %s", exc)
        if exc.retryable:
            return _error(503, "storage unavailable", "ClickHouse is not reachable; retry later")
        return _error(500, "storage error", "the query failed; see the server log")

    @app.middleware("http")
    async def _metrics(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        t0 = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            name = getattr(route, "path", None) or "unmatched"
            method = method_label(request.method)  # junk methods and paths never create new series
            REQUESTS.labels(method, name, str(status)).inc()
            LATENCY.labels(method, name).observe(time.perf_counter() - t0)

    # -- operations ------------------------------------------------------------------------
    @app.get("/health", tags=["ops"], summary="Liveness and ClickHouse reachability (no auth)")
    async def health() -> JSONResponse:
        try:
            r = await repo()
            version = await run_in_threadpool(r.server_version)
        except Exception as exc:  # noqa: BLE001 - any failure means unhealthy; reported, not raised
            return JSONResponse({"status": "unavailable", "clickhouse": {"ok": False, "error": str(exc)[:300]}},
                                status_code=503)
        return JSONResponse({"status": "ok", "clickhouse": {"ok": True, "backend": r.backend,
                                                             "version": ".".join(map(str, version))}})

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics of this process (no auth)")
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    @app.get(f"{API_PREFIX}/me", tags=["ops"], summary="Scopes of the presented token")
    async def me(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(HTTPBearer(auto_error=False))]) -> dict[str, Any]:
        who = auth.principal(creds.credentials if creds else None)
        return {"principal": who.name, "named": who.named, "scopes": sorted(who.scopes), "open_read": auth.open_read}

    # -- brands ----------------------------------------------------------------------------
    @app.get(f"{API_PREFIX}/brands", tags=["brands"], dependencies=[read],
             summary="Every brand's mentions and negative share vs the previous period, most trouble first")
    async def list_brands(start: From = None, end: To = None) -> dict[str, Any]:
        configured = brands()
        default_end = (await data_now("brand")) if end is None else end
        rng = time_range(start, end, default_end)
        items = await db(W.brands_health, configured, rng)
        return {"from": Q.iso(rng.start), "to": Q.iso(rng.end), "items": items}

    def known_brand(brand_id: str) -> Q.Brand:
        brand = brands().get(brand_id)
        if brand is None:
            raise ApiError(404, "unknown brand", f"no configured brand with id {brand_id!r}")
        return brand

    @app.get(f"{API_PREFIX}/brands/{{brand_id}}/why", tags=["brands"], dependencies=[read],
             summary="Why: top negative posts, distinguishing terms, sources, conversations and voices in a range")
    async def brand_why(brand_id: Annotated[str, PathParam(pattern=ID_PATTERN)], start: From = None,
                        end: To = None, limit: Annotated[int, Query(ge=1, le=50)] = 10) -> dict[str, Any]:
        brand = known_brand(brand_id)
        default_end = (await data_now("brand", brand.id)) if end is None else end
        return await db(W.brand_why, brand, time_range(start, end, default_end), limit)

    @app.get(f"{API_PREFIX}/brands/{{brand_id}}/overview", tags=["brands"], dependencies=[read],
             summary="Volume and sentiment time series and share of voice of one brand")
    async def brand_overview(
        brand_id: Annotated[str, PathParam(pattern=ID_PATTERN)],
        start: From = None, end: To = None, interval: Interval | None = None,
    ) -> dict[str, Any]:
        brand = known_brand(brand_id)
        default_end = (await data_now("brand", brand.id)) if end is None else end
        rng = time_range(start, end, default_end)
        step = pick_interval(rng.seconds, interval)
        return await db(Q.brand_overview, brand, rng, step)

    # -- conversations ---------------------------------------------------------------------
    @app.get(f"{API_PREFIX}/conversations/trending", tags=["conversations"], dependencies=[read],
             summary="Conversations ranked by velocity in the window ending at the newest data")
    async def trending(brand: IdQuery = None, topic: IdQuery = None, window: Window = "1h",
                       limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
        kind, subject = ("brand", brand) if brand else ("topic", topic) if topic else ("all", "*")
        end = await data_now(kind, subject, "conversation_minute")
        return await db(Q.trending, end, WINDOWS[window], brand, topic, limit)

    # -- voices ----------------------------------------------------------------------------
    @app.get(f"{API_PREFIX}/voices", tags=["voices"], dependencies=[read],
             summary="Latest emerging-voices ranking of a subject ('*' = everything)")
    async def emerging_voices(subject: Annotated[str, Query(pattern=ID_PATTERN)] = "*",
                              limit: Annotated[int, Query(ge=1, le=500)] = 20) -> dict[str, Any]:
        return await db(Q.voices, subject, limit)

    # -- alerts ----------------------------------------------------------------------------
    @app.get(f"{API_PREFIX}/alerts", tags=["alerts"], dependencies=[read],
             summary="Alerts most severe first, then newest, with acknowledgement state")
    async def alerts(kind: AlertKind | None = None, brand: IdQuery = None, severity: Severity | None = None,
                     start: From = None, end: To = None, acknowledged: bool | None = None,
                     limit: Limit = 50, cursor: CursorQ = None) -> dict[str, Any]:
        s, e = optional_range(start, end)
        f = AlertFilter(kind, brand, severity, s, e, acknowledged)
        items, nxt = await db(Q.list_alerts, f, limit, Cursor.decode(cursor, ALERT_ID_PATTERN))
        return {"items": items, "next_cursor": nxt.encode() if nxt else None}

    @app.get(f"{API_PREFIX}/alerts/{{alert_id}}", tags=["alerts"], dependencies=[read],
             summary="One alert with its acknowledgement state")
    async def one_alert(alert_id: Annotated[str, PathParam(pattern=ALERT_ID_PATTERN)]) -> dict[str, Any]:
        alert = await db(Q.get_alert, alert_id)
        if alert is None:
            raise ApiError(404, "unknown alert", f"no alert with id {alert_id!r}")
        return alert

    @app.post(f"{API_PREFIX}/alerts/{{alert_id}}/ack", tags=["alerts"],
              summary="Acknowledge an alert and its incident: no more paging until it gets worse (act scope)")
    async def acknowledge(alert_id: Annotated[str, PathParam(pattern=ALERT_ID_PATTERN)],
                          principal: Annotated[Principal, Depends(require_act)], request: Request) -> dict[str, Any]:
        body = await _ack_body(request)  # read only now: after the token was checked
        alert = await db(Q.get_alert, alert_id)
        if alert is None:
            raise ApiError(404, "unknown alert", f"no alert with id {alert_id!r}")
        for name, value in (("by", body.by), ("note", body.note)):
            if value and any(ord(c) < 32 and c not in "\n\t" for c in value):
                raise ApiError(422, "invalid request", [{"in": "body", "param": name,
                                                         "message": "control characters are not allowed"}])
        if principal.named:
            who = principal.name
        else:
            who = f"{body.by} ({principal.name})" if body.by else principal.name
        r = await repo()
        incident_id = alert["incident_id"] or ""
        # the durable, shared record (the dispatcher applies it at its next pass; see pipeline.alerts.acks)
        await run_in_threadpool(r.acknowledge, incident_id, alert_id, who, body.note)
        # and at once when the incident book is on this host
        in_book = await run_in_threadpool(acknowledge_in_book, settings, incident_id, who)
        updated = await db(Q.get_alert, alert_id)
        return {**(updated or alert), "incident_acknowledged": in_book}

    # -- posts -----------------------------------------------------------------------------
    @app.get(f"{API_PREFIX}/posts", tags=["posts"], dependencies=[read],
             summary="Search posts (newest first); q is a case-insensitive substring of the text")
    async def posts(brand: IdQuery = None, topic: IdQuery = None, sentiment: Sentiment | None = None,
                    language: Annotated[str | None, Query(pattern=LANGUAGE_PATTERN)] = None,
                    author: IdQuery = None, start: From = None, end: To = None,
                    q: Annotated[str | None, Query(max_length=200)] = None,
                    limit: Limit = 50, cursor: CursorQ = None) -> dict[str, Any]:
        s, e = optional_range(start, end)
        f = PostFilter(brand, topic, sentiment, language, author, s, e, check_text("q", q))
        items, nxt = await db(Q.search_posts, f, limit, Cursor.decode(cursor))
        return {"items": items, "next_cursor": nxt.encode() if nxt else None}

    app.include_router(roster_router(repo, settings), prefix=API_PREFIX)

    # -- dashboard -------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(SecurityHeaders)
    _document_ack_body(app)
    return app


async def _ack_body(request: Request) -> AckBody:
    """The optional JSON body of an acknowledgement, validated like a declared body."""
    raw = await request.body()
    if not raw.strip():
        return AckBody(by="", note="")
    try:
        return AckBody.model_validate_json(raw)
    except ValueError as exc:
        errors = getattr(exc, "errors", lambda: [{"loc": (), "msg": "malformed JSON"}])()
        raise ApiError(422, "invalid request", [{"in": "body", "param": ".".join(str(x) for x in e.get("loc", ())),
                                                 "message": e.get("msg", "invalid")} for e in errors]) from None


def _document_ack_body(app: FastAPI) -> None:
    """Keep the ack body in the OpenAPI document although the route reads it by hand."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            op = schema.get("paths", {}).get(f"{API_PREFIX}/alerts/{{alert_id}}/ack", {}).get("post")
            if op is not None:
                schema.setdefault("components", {}).setdefault("schemas", {})["AckBody"] = AckBody.model_json_schema()
                op["requestBody"] = {"required": False, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/AckBody"}}}}
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
