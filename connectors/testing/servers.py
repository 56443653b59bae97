"""Local servers speaking a source's wire format, for connector tests: an HTTP fixture server
with injectable faults and a websocket server, each in a thread."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

if TYPE_CHECKING:
    from websockets.sync.server import Server, ServerConnection

__all__ = ["Action", "Chunks", "Delay", "FixtureServer", "Handler", "Malformed", "Reply", "Request", "Reset",
           "Truncate", "WebsocketFixture", "dead_url", "status"]


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

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
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


class WebsocketFixture:
    """A local websocket server in a thread: ``handler(ws)`` serves one connection
    (``ws.request.path`` holds the path and query). Yields ``ws://127.0.0.1:<port>``."""

    def __init__(self, handler: Callable[[ServerConnection], None]) -> None:
        self.handler = handler
        self.connections = 0
        self.paths: list[str] = []
        self._open: list[ServerConnection] = []
        self._server: Server | None = None
        self.url = ""

    def __enter__(self) -> WebsocketFixture:
        from websockets.sync.server import serve

        def wrapped(ws: ServerConnection) -> None:
            self.connections += 1
            self.paths.append(ws.request.path if ws.request is not None else "")
            self._open.append(ws)
            with contextlib.suppress(Exception):
                self.handler(ws)

        server = self._server = serve(wrapped, "127.0.0.1", 0)
        port = server.socket.getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for ws in self._open:
            with contextlib.suppress(Exception):
                ws.close()
        if self._server is not None:
            self._server.shutdown()


def dead_url(url: str) -> str:
    """``url`` with its port replaced by one nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"127.0.0.1:{port}", parts.path, parts.query, parts.fragment))
