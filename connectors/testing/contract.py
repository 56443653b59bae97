"""The contract suite every connector gets in one or two lines (see :mod:`connectors.testing`)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from connectors.base import (
    CheckError,
    Connector,
    ConnectorSpec,
    Cursor,
    Record,
    SourceError,
    StateUpdate,
    Stream,
)
from connectors.testing.servers import (
    Action,
    Delay,
    FixtureServer,
    Malformed,
    Reply,
    Reset,
    Truncate,
    WebsocketFixture,
    dead_url,
    status,
)
from connectors.testing.sink import MemorySink, run_once
from pipeline.core.kafka import KafkaDeliveryError
from pipeline.core.schema import RawPost

__all__ = ["FAULTS", "FAULT_KINDS", "contract_tests"]

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

    def read(self, state: Mapping[str, Any]) -> Iterator[Record | StateUpdate | None]:
        count = 0
        for item in self.inner.read(state):
            yield item
            if item is not None and not isinstance(item, StateUpdate):
                count += 1
                if count >= self.n:
                    raise SourceError("simulated crash of the source")

    def to_post(self, record: Record) -> RawPost | dict[str, Any]:
        return self.inner.to_post(record)

    def key_of(self, record: Record) -> str:
        return self.inner.key_of(record)

    def cursor_of(self, record: Record) -> Cursor:
        return self.inner.cursor_of(record)


def _secret_values(spec: ConnectorSpec) -> list[str]:
    return [v.get_secret_value() for v in (getattr(spec, n) for n in type(spec).model_fields)
            if isinstance(v, SecretStr) and v.get_secret_value()]


def contract_tests(
    connector_cls: type[Connector[ConnectorSpec]],
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

    def build(src: Any, **overrides: Any) -> Connector[ConnectorSpec]:
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
                connector_cls.spec_class(**{**config(src), "no_such_option_xyz": 1})

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

        def test_resume_after_source_crash_has_no_duplicates_and_no_gaps(
            self, src: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        ) -> None:
            everything = full_ids(src, tmp_path)
            connector = build(src)
            crash_at = max(1, len(everything) // 3)
            real = connector.streams
            monkeypatch.setattr(connector, "streams", lambda: [_CrashAfter(s, crash_at) for s in real()])
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

    suite: type[ContractSuite] = ContractSuite
    if fault_path is not None:
        kinds, faulty_path = list(fault_kinds), fault_path

        class FaultSuite(ContractSuite):
            @pytest.mark.parametrize("kind", kinds)
            def test_survives_fault(self, kind: str, tmp_path: Path) -> None:
                with open_source() as srv:
                    assert isinstance(srv, FixtureServer), "fault tests need a FixtureServer"
                    everything = full_ids(srv.url, tmp_path)
                    before = _error_count(connector_cls.name, kind)
                    srv.fail(faulty_path, *FAULTS[kind]())
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

        suite = FaultSuite

    suite.__name__ = f"Test{connector_cls.__name__}Contract"
    suite.__qualname__ = suite.__name__
    return suite
