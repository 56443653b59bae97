"""The connector kit: state, rate limit, retries, runner semantics, discovery, scaffolding."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict
from typer.testing import CliRunner

from connectors.base import (
    AuthError,
    CheckError,
    Connector,
    ConnectorSpec,
    SourceError,
    StateUpdate,
    Stream,
)
from connectors.http import HttpClient, parse_retry_after
from connectors.ratelimit import TokenBucket
from connectors.registry import BUILTINS, available_connectors, get_connector
from connectors.run_types import RunnerOptions
from connectors.runner import run_connector
from connectors.state import SeenIds, StateStore, StreamState
from connectors.testing import FixtureServer, MemorySink, Reply, Request, run_once, status
from pipeline.core.schema import DeadLetter


# ---------------------------------------------------------------- a tiny in-test connector
class CounterSpec(ConnectorSpec):
    model_config = SettingsConfigDict(env_prefix="HYPERMICRO_COUNTER_", extra="forbid")
    count: int = 10
    token: SecretStr = SecretStr("")
    forever: bool = False


class CounterStream(Stream):
    name = "numbers"
    primary_key = "n"
    cursor_field = "n"

    def __init__(self, conn: CounterConnector) -> None:
        self.conn = conn
        self.streaming = conn.spec.forever
        self.reads: list[Mapping[str, Any]] = []

    def read(self, state: Mapping[str, Any]) -> Iterator[Any]:
        self.reads.append(dict(state))
        start = (state.get("cursor") or 0) + 1
        for n in range(start, self.conn.spec.count + 1):
            yield {"n": n} if n != 4 else {"n": n, "bad": True}
        yield StateUpdate({"pass_done": True})
        while self.conn.spec.forever:
            time.sleep(0.05)
            yield None

    def to_post(self, record: Any) -> dict[str, Any]:
        if record.get("bad"):
            raise ValueError("record 4 is broken")
        n = record["n"]
        return {"id": str(n), "created_at": datetime(2024, 5, 1, tzinfo=UTC) + timedelta(seconds=n),
                "text": f"number {n}", "author": {"id": "counter"}}


class CounterConnector(Connector[CounterSpec]):
    """Counts (test connector)."""

    name = "counter"
    spec_class = CounterSpec

    def check(self) -> None:
        if self.spec.token.get_secret_value() == "bad":
            raise CheckError("counter: token refused")

    def streams(self) -> list[Stream]:
        self.stream = CounterStream(self)
        return [self.stream]


# ---------------------------------------------------------------- state
def test_state_roundtrip_is_atomic_and_keeps_seen_ids(tmp_path: Path) -> None:
    store = StateStore(tmp_path, "my connector/1", seen_capacity=3)
    assert store.load("a/b").cursor is None
    state = StreamState(cursor=42, extra={"etag": '"x"'}, seen=SeenIds(["1", "2", "3", "4"], capacity=3))
    store.save("a/b", state)
    loaded = store.load("a/b")
    assert (loaded.cursor, loaded.extra, loaded.seen.to_list()) == (42, {"etag": '"x"'}, ["2", "3", "4"])
    assert [p.name for p in store.dir.iterdir()] == ["a_b.json"]  # no temp files left behind
    assert store.dir.name == "my_connector_1"
    store.path("a/b").write_text("{torn")
    with pytest.raises(ValueError, match="corrupt connector state"):
        store.load("a/b")


def test_seen_ids_evict_oldest_first() -> None:
    seen = SeenIds(capacity=2)
    for key in ("a", "b", "a", "c"):
        seen.add(key)
    assert seen.to_list() == ["a", "c"] and "b" not in seen


# ---------------------------------------------------------------- rate limit and retries
def test_token_bucket_allows_burst_then_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=3, clock=lambda: now[0])
    assert [bucket.try_acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.try_acquire() == pytest.approx(0.5)
    now[0] += 0.5
    assert bucket.try_acquire() == 0.0


def test_token_bucket_paces_real_requests() -> None:
    bucket = TokenBucket(rate=20.0, burst=1)
    started = time.monotonic()
    for _ in range(6):
        bucket.acquire()
    assert time.monotonic() - started >= 0.24


def test_parse_retry_after_seconds_and_dates() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_http_client_retries_transient_and_not_client_errors() -> None:
    def handler(req: Request) -> Reply:
        return Reply.json({"ok": True}) if req.path == "/ok" else status(404 if req.path == "/missing" else 401)

    with FixtureServer(handler) as srv:
        http = HttpClient(srv.url, connector="t", max_attempts=4, max_backoff_s=0.05, requests_per_s=1000)
        srv.fail("/ok", status(503), status(429, retry_after=0))
        assert http.get_json("/ok") == {"ok": True}
        assert len(srv.requests) == 3
        srv.requests.clear()
        with pytest.raises(SourceError, match="404"):
            http.get("/missing")
        with pytest.raises(AuthError):
            http.get("/secret")
        assert len(srv.requests) == 2  # neither was retried
        srv.fail("/ok", *[status(500)] * 4)
        with pytest.raises(SourceError, match="gave up after 4 attempts"):
            http.get("/ok")


def test_retry_after_is_honoured_and_capped() -> None:
    with FixtureServer(lambda req: Reply.json({})) as srv:
        http = HttpClient(srv.url, max_attempts=3, max_backoff_s=0.6, requests_per_s=1000)
        srv.fail("/", status(429, retry_after=0.4), status(503, retry_after=3600))
        started = time.monotonic()
        http.get_json("/")
        elapsed = time.monotonic() - started
        gaps = [b.received_at - a.received_at for a, b in zip(srv.requests, srv.requests[1:], strict=False)]
    assert gaps[0] >= 0.38 and 0.55 <= gaps[1] < 1.5 and elapsed < 2


# ---------------------------------------------------------------- spec
def test_spec_reads_env_and_secrets_dir_and_never_shows_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERMICRO_COUNTER_COUNT", "3")
    (tmp_path / "HYPERMICRO_COUNTER_TOKEN").write_text("from-a-file")
    conn = CounterConnector.from_config({}, secrets_dir=tmp_path)
    assert conn.spec.count == 3 and conn.spec.token.get_secret_value() == "from-a-file"
    assert "from-a-file" not in repr(conn.spec) and conn.spec.safe_dump()["token"] == "**********"
    assert CounterConnector.from_config({"count": 5}).spec.count == 5  # config beats env


# ---------------------------------------------------------------- runner
def test_runner_produces_dead_letters_and_checkpoints_after_flush(tmp_path: Path) -> None:
    conn = CounterConnector.from_config({"count": 6})
    result, sink = run_once(conn, tmp_path, checkpoint_every=2)
    assert [p.id for p in sink.posts] == ["counter:1", "counter:2", "counter:3", "counter:5", "counter:6"]
    assert result.total("invalid") == 1
    (letter,) = sink.dead_letters
    assert isinstance(letter, DeadLetter) and letter.topic == "connector:counter/numbers"
    assert "record 4 is broken" in letter.error
    saved = json.loads((tmp_path / "counter" / "numbers.json").read_text())
    assert saved["cursor"] == 6 and saved["extra"] == {"pass_done": True}
    assert result.streams[0].cursors == sorted(result.streams[0].cursors)


def test_state_is_not_saved_when_kafka_does_not_acknowledge(tmp_path: Path) -> None:
    from pipeline.core.kafka import KafkaDeliveryError

    with pytest.raises(KafkaDeliveryError):
        run_once(CounterConnector.from_config({"count": 6}), tmp_path, sink=MemorySink(fail_flush_after=2),
                 checkpoint_every=2)
    saved = json.loads((tmp_path / "counter" / "numbers.json").read_text())
    assert saved["cursor"] == 2  # only the first, acknowledged, checkpoint
    conn = CounterConnector.from_config({"count": 6})
    _, sink = run_once(conn, tmp_path)
    assert conn.stream.reads[0]["cursor"] == 2
    assert [p.id for p in sink.posts] == ["counter:3", "counter:5", "counter:6"]


def test_sigterm_stops_gracefully_and_saves_acknowledged_state(tmp_path: Path) -> None:
    conn = CounterConnector.from_config({"count": 5, "forever": True})
    sink = MemorySink()
    threading.Timer(0.5, os.kill, args=(os.getpid(), signal.SIGTERM)).start()
    previous = signal.getsignal(signal.SIGTERM)
    started = time.monotonic()
    result = run_connector(conn, RunnerOptions(state_dir=tmp_path, create_topics=False), sink=sink)
    assert time.monotonic() - started < 5
    assert signal.getsignal(signal.SIGTERM) is previous  # handlers restored
    assert len(sink.posts) == 4 and result.streams[0].cursor == 5
    assert json.loads((tmp_path / "counter" / "numbers.json").read_text())["cursor"] == 5


def test_polling_loop_reads_again_with_the_new_cursor(tmp_path: Path) -> None:
    conn = CounterConnector.from_config({"count": 3})
    threading.Timer(0.6, conn.stop_event.set).start()
    run_connector(conn, RunnerOptions(state_dir=tmp_path, create_topics=False, poll_interval_s=0.1),
                  sink=MemorySink())
    assert len(conn.stream.reads) >= 3 and conn.stream.reads[1]["cursor"] == 3


# ---------------------------------------------------------------- discovery and CLI
def test_builtins_are_discoverable() -> None:
    for name in BUILTINS:
        cls = get_connector(name)
        assert cls.name == name and cls.summary()
    with pytest.raises(KeyError, match="unknown connector 'nope'"):
        get_connector("nope")


def test_entry_point_plugins_are_discovered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "counter_plugin.py").write_text(textwrap.dedent("""
        from connectors.sources.jsonfeed import JsonFeedConnector

        class PluginConnector(JsonFeedConnector):
            '''A plugin connector for tests.'''
            name = "plugged"
    """))
    dist = tmp_path / "counter_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: counter-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[hypermicro.connectors]\nplugged = counter_plugin:PluginConnector\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert get_connector("plugged").name == "plugged"
    infos = {i.name: i for i in available_connectors()}
    assert infos["plugged"].origin == "counter-plugin"
    assert infos["plugged"].summary == "A plugin connector for tests."
    from connectors.cli import connectors_app

    out = CliRunner().invoke(connectors_app, ["list"]).output
    assert "plugged" in out and "mastodon" in out and "file" in out


def test_scaffolded_connector_passes_its_own_contract_tests(tmp_path: Path) -> None:
    from connectors.cli import connectors_app

    runner = CliRunner()
    res = runner.invoke(connectors_app, ["new", "acme_forum", "--dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    module, test = tmp_path / "acme_forum_connector" / "acme_forum.py", tmp_path / "tests" / "test_acme_forum_connector.py"
    assert "class AcmeForumConnector" in module.read_text() and "HYPERMICRO_ACME_FORUM_" in module.read_text()
    assert runner.invoke(connectors_app, ["new", "acme_forum", "--dir", str(tmp_path)]).exit_code != 0
    assert runner.invoke(connectors_app, ["new", "Bad-Name", "--dir", str(tmp_path)]).exit_code != 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(Path.cwd())])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout


def test_connect_command_checks_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer

    import connectors.registry as registry
    from connectors.cli import connect_command

    monkeypatch.setitem(registry.BUILTINS, "counter", f"{__name__}:CounterConnector")
    app = typer.Typer()
    app.command()(connect_command)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("count: 3\ntoken: bad\n")
    res = CliRunner().invoke(app, ["counter", "--config", str(cfg), "--check"])
    assert res.exit_code == 2 and "token refused" in res.output
    cfg.write_text("count: 3\n")
    res = CliRunner().invoke(app, ["counter", "--config", str(cfg), "--check"])
    assert res.exit_code == 0 and "check ok" in res.output
    res = CliRunner().invoke(app, ["nope", "--config", str(cfg)])
    assert res.exit_code != 0 and "unknown connector" in res.output


def test_pagination_helpers() -> None:
    import httpx

    from connectors.http import next_link, paginate

    resp = httpx.Response(200, headers={"Link": '<https://m.example/api?max_id=7>; rel="next", '
                                                '<https://m.example/api?min_id=9>; rel="prev"'})
    assert next_link(resp) == "https://m.example/api?max_id=7"
    assert next_link(resp, "prev") == "https://m.example/api?min_id=9"
    assert next_link(httpx.Response(200)) is None
    pages = {None: ([1, 2], "b"), "b": ([3], "c"), "c": ([], None)}
    assert list(paginate(lambda token: pages[token])) == [1, 2, 3]
    assert list(paginate(lambda token: pages[token], max_pages=1)) == [1, 2]
