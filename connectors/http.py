"""HTTP for connectors: httpx + tenacity retries, ``Retry-After``, a token bucket, pagination.

Retried (with exponential backoff and jitter, or the server's ``Retry-After`` when given,
capped at ``max_backoff_s``): 429, 5xx, timeouts, connection errors and resets, and bodies
that are not valid JSON when JSON was expected (truncated payloads). Not retried: 401/403
(:class:`~connectors.base.AuthError`) and other 4xx (:class:`~connectors.base.SourceError`).
Each retry logs one line and counts ``hypermicro_connector_errors_total{kind=...}``.

Sources are untrusted: a request has a total deadline (``timeout_s``, not per read), a body
cap (``max_response_bytes``), and follows at most :data:`MAX_REDIRECTS` redirects, each to the
request's own origin or a host in ``allowed_redirect_hosts`` (credentials only to the origin).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal, TypeVar, overload

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from connectors import metrics
from connectors.base import AuthError, ConnectorSpec, SourceError
from connectors.ratelimit import TokenBucket
from pipeline.core.httputil import parse_retry_after

log = logging.getLogger(__name__)
T = TypeVar("T")
TokenT = TypeVar("TokenT")
ItemT = TypeVar("ItemT")

USER_AGENT = "hypermicro-connector/0.1 (+https://github.com/hypermicro/hypermicro)"
MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
_CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) with default ports made explicit."""
    port = url.port or {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, port


def _host_allowed(url: httpx.URL, allowed: list[str]) -> bool:
    _, host, port = origin(url)
    return host in allowed or f"{host}:{port}" in allowed


class ShutdownRequested(SourceError):
    """The runner asked the connector to stop while it was waiting."""


class RetryableError(Exception):
    """A failure worth retrying; ``kind`` labels the error metric."""

    def __init__(self, kind: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


def classify_status(response: httpx.Response) -> None:
    """Raise the right error for a non-2xx response; return for success."""
    code = response.status_code
    if code < 400:
        return
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if code == 429:
        raise RetryableError("http_429", f"429 Too Many Requests from {response.url}", retry_after)
    if code >= 500:
        raise RetryableError("http_5xx", f"{code} from {response.url}", retry_after)
    body = response.text[:200] if response.content else ""
    if code in (401, 403):
        raise AuthError(f"{code} from {response.url}: credentials refused ({body})")
    raise SourceError(f"{code} from {response.url}: {body}")


class HttpClient:
    """A retrying, rate-limited ``httpx.Client``. Use one per connector (it is thread-safe)."""

    def __init__(
        self,
        base_url: str = "",
        *,
        spec: ConnectorSpec | None = None,
        connector: str = "",
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        stop: threading.Event | None = None,
        timeout_s: float | None = None,
        max_attempts: int | None = None,
        max_backoff_s: float | None = None,
        requests_per_s: float | None = None,
        burst: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        def pick(value: T | None, attr: str, default: T) -> T:
            if value is not None:
                return value
            return getattr(spec, attr) if spec is not None else default

        self.connector = connector
        self.stop = stop or threading.Event()
        self.max_attempts = int(pick(max_attempts, "max_attempts", 6))
        self.max_backoff_s = float(pick(max_backoff_s, "max_backoff_s", 60.0))
        rate = float(pick(requests_per_s, "requests_per_s", 2.0))
        self.bucket = TokenBucket(rate, int(pick(burst, "burst", 5)))
        self.timeout_s = float(pick(timeout_s, "timeout_s", 20.0))
        self.max_response_bytes = int(pick(None, "max_response_bytes", 10 * 1024 * 1024))
        hosts: list[str] = pick(None, "allowed_redirect_hosts", [])
        self.allowed_redirect_hosts = [h.lower() for h in hosts]
        self.client = httpx.Client(
            base_url=base_url,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            auth=auth,
            timeout=httpx.Timeout(self.timeout_s),
            follow_redirects=False,
            transport=transport,
        )

    # -- retry plumbing ----------------------------------------------------
    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableError) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_backoff_s)
        return wait_exponential_jitter(multiplier=0.5, max=self.max_backoff_s, jitter=0.5)(state)

    def _sleep(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise ShutdownRequested("stopped while waiting to retry")

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        kind = exc.kind if isinstance(exc, RetryableError) else "error"
        metrics.ERRORS.labels(self.connector, "http", kind).inc()
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s: %s (attempt %d/%d), retrying in %.1fs", self.connector or "http", exc,
                    state.attempt_number, self.max_attempts, wait)

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (which raises :class:`RetryableError` on transient failures) with retries.
        Raises :class:`SourceError` once the attempts are spent."""
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(RetryableError),
            sleep=self._sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            return retrying(fn)
        except RetryableError as exc:
            metrics.ERRORS.labels(self.connector, "http", exc.kind).inc()
            raise SourceError(f"{exc} (gave up after {self.max_attempts} attempts)") from exc

    # -- requests ----------------------------------------------------------
    @overload
    def send_once(self, method: str, url: str, expect_json: Literal[False] = False,
                  **kwargs: Any) -> httpx.Response: ...

    @overload
    def send_once(self, method: str, url: str, expect_json: Literal[True], **kwargs: Any) -> tuple[httpx.Response, Any]: ...

    def send_once(self, method: str, url: str, expect_json: bool = False,
                  **kwargs: Any) -> httpx.Response | tuple[httpx.Response, Any]:
        """One rate-limited attempt, raising :class:`RetryableError` on transient failures
        (combine several such steps in one :meth:`call` to retry them together)."""
        if not self.bucket.acquire(stop=self.stop):
            raise ShutdownRequested("stopped while rate limited")
        try:
            response = self._fetch(method, url, kwargs)
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:  # our request is wrong
            raise SourceError(f"bad request {method} {url}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise RetryableError("timeout", f"timeout on {method} {url}: {exc!r}") from exc
        except httpx.TransportError as exc:  # connect errors, resets, truncated bodies
            raise RetryableError("connection", f"connection error on {method} {url}: {exc!r}") from exc
        classify_status(response)
        if not expect_json:
            return response
        try:
            return response, response.json()
        except ValueError as exc:
            raise RetryableError("malformed", f"malformed JSON from {response.url}: {exc}") from exc

    def _fetch(self, method: str, url: str, kwargs: dict[str, Any]) -> httpx.Response:
        """One request, its allowed redirects and its bounded body, within the total deadline."""
        deadline = time.monotonic() + self.timeout_s
        sent = self._follow(self.client.build_request(method, url, **kwargs))
        try:
            body = self._read_capped(sent, deadline)
        finally:
            sent.close()
        return httpx.Response(sent.status_code, headers=sent.headers, content=body, request=sent.request)

    @contextmanager
    def stream(self, method: str, url: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A streaming response (no total deadline, no size cap: the caller bounds each event),
        following the same redirect policy as every other request."""
        response = self._follow(self.client.build_request(method, url, **kwargs))
        try:
            yield response
        finally:
            response.close()

    def _follow(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and follow its allowed redirects; the final response is open
        (streamed) and the caller closes it. Credentials never cross to another origin."""
        first = request.url
        for _ in range(MAX_REDIRECTS + 1):
            same_origin = origin(request.url) == origin(first)
            if not same_origin:
                for name in _CREDENTIAL_HEADERS:
                    request.headers.pop(name, None)
            response = (self.client.send(request, stream=True) if same_origin
                        else self.client.send(request, stream=True, auth=None))
            if response.status_code not in _REDIRECTS or "location" not in response.headers:
                return response
            try:
                request = self._redirect(request, response, first)
            finally:
                response.close()
        raise SourceError(f"more than {MAX_REDIRECTS} redirects from {first} (redirect loop?)")

    def _redirect(self, request: httpx.Request, response: httpx.Response, first: httpx.URL) -> httpx.Request:
        target = request.url.join(response.headers["location"])
        if target.scheme not in ("http", "https"):
            raise SourceError(f"{request.url} redirects to unsupported scheme {target.scheme!r}")
        if origin(target) != origin(first) and not _host_allowed(target, self.allowed_redirect_hosts):
            raise SourceError(f"{request.url} redirects to another origin ({target.scheme}://{target.netloc.decode()}); "
                              "add the host to allowed_redirect_hosts in the connector config to follow it")
        method = request.method
        if response.status_code in (301, 302, 303) and method not in ("GET", "HEAD"):
            method = "GET"
        headers = httpx.Headers(request.headers)
        headers.pop("host", None)
        content = request.content if method == request.method else None
        return self.client.build_request(method, target, headers=headers, content=content)

    def _read_capped(self, response: httpx.Response, deadline: float) -> bytes:
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_response_bytes:
            raise SourceError(f"response from {response.url} is {int(length)} bytes, "
                              f"limit max_response_bytes={self.max_response_bytes}")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_response_bytes:
                raise SourceError(f"response from {response.url} exceeds max_response_bytes="
                                  f"{self.max_response_bytes}")
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise RetryableError("timeout", f"{response.url} took longer than {self.timeout_s:.0f} s in total")
        return b"".join(chunks)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request with retries; returns the (2xx/3xx) response."""
        return self.call(lambda: self.send_once(method, url, False, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def request_json(self, method: str, url: str, **kwargs: Any) -> tuple[httpx.Response, Any]:
        """Send a request and parse its JSON body (a malformed body is retried)."""
        return self.call(lambda: self.send_once(method, url, True, **kwargs))

    def get_json(self, url: str, **kwargs: Any) -> Any:
        """GET and return the parsed JSON body."""
        return self.request_json("GET", url, **kwargs)[1]

    def close(self) -> None:
        self.client.close()


def bounded_lines(response: httpx.Response, max_line_bytes: int) -> Iterator[str]:
    """The lines of a streaming response (without line endings), refusing a line longer than
    ``max_line_bytes`` with :class:`SourceError` instead of buffering it without limit."""
    buffer = b""
    for chunk in response.iter_bytes():
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            yield line.removesuffix(b"\r").decode("utf-8", "replace")
        if len(buffer) > max_line_bytes:
            raise SourceError(f"line from {response.url} longer than {max_line_bytes} bytes")
    if buffer:
        yield buffer.removesuffix(b"\r").decode("utf-8", "replace")


def next_link(response: httpx.Response, rel: str = "next") -> str | None:
    """The URL of an RFC 8288 ``Link`` header relation (Mastodon, GitHub...), or ``None``."""
    link = response.links.get(rel)
    return link.get("url") if link else None


def paginate(
    fetch: Callable[[TokenT | None], tuple[list[ItemT], TokenT | None]],
    first: TokenT | None = None,
    max_pages: int | None = None,
) -> Iterator[ItemT]:
    """Yield items page by page: ``fetch(token) -> (items, next_token)``; stops at a ``None``
    token, an empty page or ``max_pages``."""
    token, pages = first, 0
    while True:
        items, token = fetch(token)
        yield from items
        pages += 1
        if token is None or not items or (max_pages is not None and pages >= max_pages):
            return
