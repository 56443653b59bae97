"""Test kit for connectors: local fixture servers, an in-memory sink and the contract suite.

The contract suite is generated in one or two lines per connector::

    from connectors.testing import contract_tests
    TestMyConnector = contract_tests(MyConnector, server=my_server, config=lambda url: {"base_url": url})

``server`` is a callable returning a context manager that starts a local server speaking the
source's wire format and yields its base URL; ``config(url)`` builds a valid spec config for it.
The suite checks: the spec validates and never shows secrets; ``check()`` passes, and fails
with :class:`~connectors.base.CheckError` on bad credentials and on an unreachable host;
every record validates as a RawPost; primary keys are unique; saved cursors never go back;
a run stopped half-way, or crashed by a failing source, resumes with no duplicates and no gaps.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from pydantic import SecretStr

from connectors.base import CheckError, Connector, ConnectorSpec, SourceError, StateUpdate, Stream
from connectors.runner import RunnerOptions, RunResult, run_connector
from pipeline.core.kafka import KafkaDeliveryError
from pipeline.core.schema import DeadLetter, RawPost

# ----------------------------------------------------------------------------- sink


class _Done:
    """A resolved send future."""

    def __init__(self, value: Any = None) -> None:
        self.value = value

    def get(self, timeout: float | None = None) -> Any:
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
    connector: Connector[Any],
    state_dir: Path,
    sink: MemorySink | None = None,
    **options: Any,
) -> tuple[RunResult, MemorySink]:
    """One pass of every stream into a :class:`MemorySink` (``idle_exit_s`` 1.5 s by default)."""
    sink = sink or MemorySink()
    opts = RunnerOptions(state_dir=state_dir, create_topics=False, checkpoint_interval_s=0.2, poll_interval_s=0.1,
                         idle_exit_s=options.pop("idle_exit_s", 1.5), **options)
    result = run_connector(connector, opts, once=True, sink=sink)
    return result, sink


# ----------------------------------------------------------------------------- HTTP fixture server


@dataclass
class Request:
    """A request the fixture server received (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    received_at: float = field(default_factory=time.monotonic)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain",
             headers: Mapping[str, str] | None = None) -> Reply:
        return cls(status, text.encode(), {"Content-Type": content_type, **(headers or {})})


@dataclass
class Reset:
    """Close the connection abruptly (TCP RST) without replying."""


@dataclass
class Truncate:
    """Send the reply's headers and half its body, then close (a truncated payload)."""

    reply: Reply


@dataclass
class Malformed:
    """A 200 reply whose JSON body is cut in half but correctly framed (bad JSON, not bad HTTP)."""

    reply: Reply


@dataclass
class Delay:
    """Wait, then send ``reply`` (long enough delays make the client time out)."""

    seconds: float
    reply: Reply | None = None


@dataclass
class Chunks:
    """A streaming reply (chunked encoding), e.g. server-sent events. The connection closes when
    the iterator ends or raises, which is how a dropped stream is simulated."""

    chunks: Iterable[bytes]
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200


Action = Reply | Reset | Truncate | Malformed | Delay | Chunks
Handler = Callable[[Request], Action]


def status(code: int, retry_after: float | str | None = None) -> Reply:
    """An error reply, optionally with ``Retry-After``."""
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return Reply(code, json.dumps({"error": f"status {code}"}).encode(),
                 {"Content-Type": "application/json", **headers})


class FixtureServer:
    """A local HTTP server in a thread. ``handler(request)`` returns an action; ``fail(prefix,
    *actions)`` queues faults served (in order) to the next requests whose path starts with
    ``prefix`` before normal handling resumes. ``requests`` lists what arrived."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self._faults: list[tuple[str, Action]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def fail(self, path_prefix: str, *actions: Action) -> None:
        with self._lock:
            self._faults.extend((path_prefix, a) for a in actions)

    def _next_action(self, req: Request) -> Action:
        with self._lock:
            self.requests.append(req)
            for i, (prefix, action) in enumerate(self._faults):
                if req.path.startswith(prefix):
                    del self._faults[i]
                    return action
        return self.handler(req)

    def __enter__(self) -> FixtureServer:
        server = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                              {k.lower(): v for k, v in self.headers.items()}, body)
                try:
                    _serve(self, server._next_action(req))
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()


def _serve(h: BaseHTTPRequestHandler, action: Action) -> None:
    if isinstance(action, Delay):
        time.sleep(action.seconds)
        if action.reply is None:
            h.close_connection = True
            return
        action = action.reply
    if isinstance(action, Reset):
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.close_connection = True
        h.connection.close()
        return
    if isinstance(action, Malformed):
        body = action.reply.body[: max(1, len(action.reply.body) // 2)]
        action = Reply(action.reply.status, body, action.reply.headers)
    if isinstance(action, Truncate):
        r = action.reply
        h.send_response(r.status)
        for k, v in r.headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(r.body)))
        h.end_headers()
        h.wfile.write(r.body[: len(r.body) // 2])
        h.wfile.flush()
        h.close_connection = True
        return
    if isinstance(action, Chunks):
        h.send_response(action.status)
        for k, v in action.headers.items():
            h.send_header(k, v)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        h.close_connection = True
        try:
            for chunk in action.chunks:
                if chunk:
                    h.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception:  # noqa: BLE001 - a generator raising = the stream drops without a terminator
            return
        h.wfile.write(b"0\r\n\r\n")
        return
    assert isinstance(action, Reply)
    h.send_response(action.status)
    for k, v in action.headers.items():
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(action.body)))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(action.body)


# ----------------------------------------------------------------------------- websocket fixture server


class WebsocketFixture:
    """A local websocket server in a thread: ``handler(ws)`` serves one connection
    (``ws.request.path`` holds the path and query). Yields ``ws://127.0.0.1:<port>``."""

    def __init__(self, handler: Callable[[Any], None]) -> None:
        self.handler = handler
        self.connections = 0
        self.paths: list[str] = []
        self._open: list[Any] = []
        self._server: Any = None
        self.url = ""

    def __enter__(self) -> WebsocketFixture:
        from websockets.sync.server import serve

        def wrapped(ws: Any) -> None:
            self.connections += 1
            self.paths.append(ws.request.path)
            self._open.append(ws)
            with contextlib.suppress(Exception):
                self.handler(ws)

        self._server = serve(wrapped, "127.0.0.1", 0)
        port = self._server.socket.getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for ws in self._open:
            with contextlib.suppress(Exception):
                ws.close()
        self._server.shutdown()


def dead_url(url: str) -> str:
    """``url`` with its port replaced by one nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"127.0.0.1:{port}", parts.path, parts.query, parts.fragment))


# ----------------------------------------------------------------------------- the contract suite

FAULTS: dict[str, Callable[[], list[Action]]] = {
    "http_429": lambda: [status(429, retry_after=1)],
    "http_5xx": lambda: [status(503), status(500), status(502)],
    "timeout": lambda: [Delay(1.6)],
    "connection": lambda: [Reset(), Reset()],
    "truncated": lambda: [Truncate(Reply.json({"padding": "x" * 4000}))],
    "malformed": lambda: [Malformed(Reply.json({"hits": [], "items": [], "padding": "x" * 100}))],
}
"""Fault kind (the ``kind`` label of the error metric) -> the replies injected."""
FAULT_KINDS = tuple(FAULTS)
_FAULT_METRIC_KIND = {"truncated": "connection"}


def _source_of(opened: Any) -> Any:
    """What ``config`` receives: a fixture server's URL, anything else as it is."""
    return opened.url if isinstance(opened, FixtureServer | WebsocketFixture) else opened


def _error_count(connector: str, kind: str) -> float:
    from prometheus_client import REGISTRY

    label = _FAULT_METRIC_KIND.get(kind, kind)
    value = REGISTRY.get_sample_value("hypermicro_connector_errors_total",
                                      {"connector": connector, "stream": "http", "kind": label})
    return value or 0.0



class _CrashAfter(Stream):
    """Wraps a stream; its read raises SourceError after ``n`` records (a source dying mid-read)."""

    def __init__(self, inner: Stream, n: int) -> None:
        self.inner, self.n = inner, n
        self.name, self.primary_key = inner.name, inner.primary_key
        self.cursor_field, self.streaming = inner.cursor_field, inner.streaming

    def read(self, state: Mapping[str, Any]) -> Iterator[Any]:
        count = 0
        for item in self.inner.read(state):
            yield item
            if item is not None and not isinstance(item, StateUpdate):
                count += 1
                if count >= self.n:
                    raise SourceError("simulated crash of the source")

    def to_post(self, record: Any) -> Any:
        return self.inner.to_post(record)

    def key_of(self, record: Any) -> str:
        return self.inner.key_of(record)

    def cursor_of(self, record: Any) -> Any:
        return self.inner.cursor_of(record)


def _secret_values(spec: ConnectorSpec) -> list[str]:
    return [v.get_secret_value() for v in (getattr(spec, n) for n in type(spec).model_fields)
            if isinstance(v, SecretStr) and v.get_secret_value()]


def contract_tests(
    connector_cls: type[Connector[Any]],
    *,
    config: Callable[[Any], dict[str, Any]],
    source: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
    server: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
    unreachable: Callable[[Any], dict[str, Any]] | None = None,
    bad_credentials: dict[str, Any] | None = None,
    min_records: int = 2,
    idle_exit_s: float = 1.5,
    fault_path: str | None = None,
    fault_kinds: Iterable[str] = FAULT_KINDS,
) -> type:
    """Build the standard pytest suite for ``connector_cls`` (assign it to a ``Test*`` name).

    ``source`` (or its older name ``server``) is a context manager yielding what ``config``
    turns into the connector's config: a URL, a :class:`FixtureServer` or
    :class:`WebsocketFixture` (passed on as its URL), a file path, anything. ``unreachable``
    gives the config of a source that cannot be reached (a missing file, say); URL sources
    default to a port nothing listens on. With ``fault_path`` (and a source yielding a
    :class:`FixtureServer`), it also checks the connector survives each fault in
    ``fault_kinds`` injected on requests under that path: no crash, no duplicates, nothing
    lost, the retry counted in the error metric.
    """
    import pytest

    opener = source if source is not None else server
    if opener is None or (source is not None and server is not None):
        raise TypeError("contract_tests needs exactly one of source= or server=")
    open_source: Callable[[], contextlib.AbstractContextManager[Any]] = opener
    fast = {"max_attempts": 2, "timeout_s": 2.0, "max_backoff_s": 0.2, "requests_per_s": 1000.0, "burst": 1000}

    def build(src: Any, **overrides: Any) -> Connector[Any]:
        return connector_cls.from_config({**config(_source_of(src)), **overrides})

    def unreachable_config(src: Any) -> dict[str, Any] | None:
        if unreachable is not None:
            return {**config(src), **unreachable(src)}
        if isinstance(src, str) and "://" in src:
            return config(dead_url(src))
        return None

    def full_ids(src: Any, tmp: Path) -> list[str]:
        _, sink = run_once(build(src), tmp / "full", idle_exit_s=idle_exit_s)
        return sink.ids

    class ContractSuite:
        @pytest.fixture
        def src(self) -> Iterator[Any]:
            with open_source() as opened:
                yield _source_of(opened)

        def test_spec_is_valid_and_hides_secrets(self, src: Any) -> None:
            spec = connector_cls.spec_class(**config(src))
            assert isinstance(spec, ConnectorSpec)
            dumped = json.dumps(spec.safe_dump(), default=str)
            for secret in _secret_values(spec):
                assert secret not in dumped and secret not in repr(spec) and secret not in str(spec)
            with pytest.raises(ValueError):
                connector_cls.spec_class(**config(src), no_such_option_xyz=1)  # type: ignore[call-arg]

        def test_check_passes(self, src: Any) -> None:
            with contextlib.closing(build(src)) as connector:
                connector.check()

        def test_check_fails_cleanly_on_bad_credentials(self, src: Any) -> None:
            if bad_credentials is None:
                pytest.skip(f"{connector_cls.name} takes no credentials")
            with contextlib.closing(build(src, **fast, **bad_credentials)) as connector, \
                    pytest.raises(CheckError) as info:
                connector.check()
            message = str(info.value)
            assert message
            for value in bad_credentials.values():
                if isinstance(value, str) and len(value) > 3:
                    assert value not in message

        def test_check_fails_cleanly_when_unreachable(self, src: Any) -> None:
            cfg = unreachable_config(src)
            if cfg is None:
                pytest.skip("pass unreachable= to say what an unreachable source looks like")
            started = time.monotonic()
            with contextlib.closing(connector_cls.from_config({**cfg, **fast})) as connector, \
                    pytest.raises(CheckError) as info:
                connector.check()
            assert str(info.value)
            assert time.monotonic() - started < 20

        def test_records_validate_as_rawposts(self, src: Any, tmp_path: Path) -> None:
            result, sink = run_once(build(src), tmp_path, idle_exit_s=idle_exit_s)
            assert result.errors == []
            assert result.total("invalid") == 0
            assert len(sink.posts) >= min_records
            for post in sink.posts:
                assert RawPost.model_validate_json(post.model_dump_json()) == post

        def test_primary_keys_are_unique(self, src: Any, tmp_path: Path) -> None:
            _, sink = run_once(build(src), tmp_path, idle_exit_s=idle_exit_s)
            assert len(sink.ids) == len(set(sink.ids))

        def test_saved_cursors_never_go_back(self, src: Any, tmp_path: Path) -> None:
            connector = build(src)
            result, _ = run_once(connector, tmp_path, checkpoint_every=1, idle_exit_s=idle_exit_s)
            for stream in result.streams:
                if connector_cls is not None and stream.cursors:
                    values = [c for c in stream.cursors if c is not None]
                    assert values == sorted(values), f"{stream.name}: cursor went back: {values}"
            again, _ = run_once(build(src), tmp_path, idle_exit_s=idle_exit_s)
            for before, after in zip(result.streams, again.streams, strict=True):
                if before.cursor is not None and after.cursor is not None:
                    assert after.cursor >= before.cursor

        def test_resume_after_stop_has_no_duplicates_and_no_gaps(self, src: Any, tmp_path: Path) -> None:
            everything = full_ids(src, tmp_path)
            half = max(1, len(everything) // 2)
            _, first = run_once(build(src), tmp_path / "resume", max_items=half, idle_exit_s=idle_exit_s)
            _, second = run_once(build(src), tmp_path / "resume", idle_exit_s=idle_exit_s)
            assert first.ids, "the first run produced nothing"
            assert not set(first.ids) & set(second.ids), "resumed run repeated posts"
            assert sorted(first.ids + second.ids) == sorted(everything), "resumed run lost posts"

        def test_resume_after_source_crash_has_no_duplicates_and_no_gaps(self, src: Any, tmp_path: Path) -> None:
            everything = full_ids(src, tmp_path)
            connector = build(src)
            crash_at = max(1, len(everything) // 3)
            real = connector.streams
            connector.streams = lambda: [_CrashAfter(s, crash_at) for s in real()]  # type: ignore[method-assign]
            result, first = run_once(connector, tmp_path / "crash", idle_exit_s=idle_exit_s)
            assert result.errors, "the simulated crash was not reported"
            _, second = run_once(build(src), tmp_path / "crash", idle_exit_s=idle_exit_s)
            assert not set(first.ids) & set(second.ids), "resumed run repeated posts"
            assert sorted(first.ids + second.ids) == sorted(everything), "resumed run lost posts"

        def test_kafka_outage_loses_nothing(self, src: Any, tmp_path: Path) -> None:
            everything = full_ids(src, tmp_path)
            broken = MemorySink(fail_flush_after=2)
            with pytest.raises(KafkaDeliveryError):
                run_once(build(src), tmp_path / "outage", sink=broken, checkpoint_every=1,
                         idle_exit_s=idle_exit_s)
            _, after = run_once(build(src), tmp_path / "outage", idle_exit_s=idle_exit_s)
            assert set(everything) <= set(broken.ids) | set(after.ids), "posts lost after a Kafka outage"

    if fault_path is not None:
        kinds = list(fault_kinds)

        @pytest.mark.parametrize("kind", kinds)
        def test_survives_fault(self: Any, kind: str, tmp_path: Path) -> None:
            with open_source() as srv:
                assert isinstance(srv, FixtureServer), "fault tests need a FixtureServer"
                everything = full_ids(srv.url, tmp_path)
                before = _error_count(connector_cls.name, kind)
                srv.fail(fault_path, *FAULTS[kind]())
                srv.requests.clear()
                started = time.monotonic()
                connector = build(srv.url, timeout_s=1.0, max_attempts=6, max_backoff_s=2.0)
                result, sink = run_once(connector, tmp_path / kind, idle_exit_s=idle_exit_s)
                elapsed = time.monotonic() - started
            assert result.errors == [], f"{kind}: the run failed: {result.errors}"
            assert len(sink.ids) == len(set(sink.ids)), f"{kind}: duplicates"
            assert sorted(sink.ids) == sorted(everything), f"{kind}: posts lost"
            assert _error_count(connector_cls.name, kind) > before, f"{kind}: no error metric"
            if kind == "http_429":
                assert elapsed >= 0.9, "Retry-After was not honoured"

        ContractSuite.test_survives_fault = test_survives_fault  # type: ignore[attr-defined]

    ContractSuite.__name__ = f"Test{connector_cls.__name__}Contract"
    ContractSuite.__qualname__ = ContractSuite.__name__
    return ContractSuite
