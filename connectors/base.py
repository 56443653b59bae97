"""The connector contract: a spec, ``check()`` and streams.

A connector author writes three things; :mod:`connectors.runner` does the rest (normalise to
:class:`~pipeline.core.schema.RawPost`, validate, produce to Kafka, persist cursors after Kafka
acknowledged, skip duplicates, rate limits, retries, shutdown, metrics).

- a :class:`ConnectorSpec` (pydantic-settings): configuration from YAML, the environment
  (``env_prefix``) or a secrets directory; credentials typed ``SecretStr``.
- :meth:`Connector.check`: verify credentials and reachability, raise :class:`CheckError`.
- :meth:`Connector.streams`: :class:`Stream` objects with ``name``, ``primary_key``,
  ``cursor_field`` and ``read(state)``.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar, cast

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.core.bounds import DEFAULT_BOUNDS, Bounds
from pipeline.core.schema import RawPost


class CheckError(Exception):
    """``check()`` failed: bad credentials, unreachable host, missing permission. Says which."""


class SourceError(Exception):
    """The source failed in a way retries did not fix (after the retry budget was spent)."""


class AuthError(SourceError):
    """The source refused the credentials (HTTP 401/403)."""


class Sink(Protocol):
    """Where posts go: :class:`pipeline.core.kafka.PostProducer` (or a test double). What ``send``
    returns (a future) is not used: delivery is confirmed by ``flush``, which raises on failure."""

    def send(self, post: RawPost, topic: str | None = None) -> object: ...

    def send_raw(self, key: bytes | None, value: bytes, topic: str | None = None) -> object: ...

    def flush(self, timeout: float | None = None) -> None: ...


class ConnectorSpec(BaseSettings):
    """Base of every connector's configuration.

    Subclasses set ``model_config = SettingsConfigDict(env_prefix="HYPERMICRO_<NAME>_")`` so
    every field can come from the environment; secrets may also come from a file in a secrets
    directory (``--secrets-dir``) named like the variable, e.g. ``HYPERMICRO_REDDIT_CLIENT_SECRET``.
    Explicit config values win over both. Unknown keys are refused.
    """

    model_config = SettingsConfigDict(extra="forbid", env_prefix="HYPERMICRO_CONNECTOR_")

    timeout_s: float = 20.0
    """Total time allowed for one request, connect to last byte (a source dribbling bytes
    cannot hold a request open longer)."""
    max_response_bytes: int = 10 * 1024 * 1024
    """A response body larger than this fails the request (the stream retries next poll)."""
    allowed_redirect_hosts: list[str] = []
    """Hosts (``host`` or ``host:port``) a source may redirect to besides its own origin;
    credentials are never sent across origins."""
    max_attempts: int = 6
    """Attempts per request before the stream fails (429/5xx/timeouts/resets are retried)."""
    max_backoff_s: float = 60.0
    """Cap of one retry wait, including a server's ``Retry-After``."""
    requests_per_s: float = 2.0
    """Token-bucket rate limit for requests to the source."""
    burst: int = 5
    """Token-bucket size (requests allowed back to back)."""

    def safe_dump(self) -> dict[str, Any]:
        """The configuration with every secret masked: safe to log."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                out[name] = "**********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                out[name] = str(value)
            else:
                out[name] = value
        return out


Record = Any
"""One record as its source gave it (decoded JSON, a feed entry): a boundary value that only its
stream's ``key_of``/``cursor_of``/``to_post`` interpret."""
Cursor = Any
"""A stream's position: a comparable, JSON-serialisable value from a record (a timestamp, an id)
or ``None``; saved in the stream's state file."""

SpecT = TypeVar("SpecT", bound=ConnectorSpec, covariant=True)


@dataclass
class StateUpdate:
    """Yielded by :meth:`Stream.read` to record stream state beyond the cursor (an ETag, a
    token). It is persisted with the next checkpoint, i.e. only after every item yielded before
    it was acknowledged by Kafka."""

    values: dict[str, Any] = field(default_factory=dict)


def dotted_get(item: Record, path: str) -> Any:
    """``item["a"]["b"]`` for ``"a.b"`` (attributes for objects); ``None`` when missing."""
    cur = item
    for part in path.split("."):
        if cur is None:
            return None
        cur = cur.get(part) if isinstance(cur, Mapping) else getattr(cur, part, None)
    return cur


class Stream(ABC):
    """One ordered feed of records from a source.

    Class attributes: ``name`` (unique within the connector; part of the state file name),
    ``primary_key`` (dotted path of the id of a record, unique across the connector's streams:
    the same key in two streams is one record, produced once), ``cursor_field`` (dotted path
    of a value that grows as the source advances; ``None`` when there is none), ``streaming``
    (True when :meth:`read` never ends by itself, e.g. a websocket).
    """

    name: str = ""
    primary_key: str = "id"
    cursor_field: str | None = None
    streaming: bool = False

    @abstractmethod
    def read(self, state: Mapping[str, Any]) -> Iterator[Record | StateUpdate | None]:
        """Yield the source's records newer than ``state`` (``state["cursor"]`` is the largest
        acknowledged cursor value or ``None``; other keys come from :class:`StateUpdate`).

        Records should come in cursor order; re-yielding records at the cursor boundary is fine
        (the runner skips ids it has seen), skipping any is not. Yield ``None`` to hand control
        back while waiting (streaming sources: at least once a second) and
        :class:`StateUpdate` to record extra state. Raise :class:`SourceError` (or let
        :class:`connectors.http.HttpClient` raise it) when the source is unusable.
        """

    @abstractmethod
    def to_post(self, record: Record) -> RawPost | dict[str, Any]:
        """Normalise one record into a RawPost (or its interchange dict). Raise ``ValueError``
        for a record that cannot be a post; the runner dead-letters it with the error."""

    def key_of(self, record: Record) -> str:
        """The record's primary-key value, as a string."""
        value = dotted_get(record, self.primary_key)
        if value is None or value == "":
            raise ValueError(f"record has no {self.primary_key!r}")
        return str(value)

    def cursor_of(self, record: Record) -> Cursor:
        """The record's cursor value (comparable, JSON-serialisable) or ``None``."""
        return None if self.cursor_field is None else dotted_get(record, self.cursor_field)


class Connector(ABC, Generic[SpecT]):
    """A source: a spec class, ``check()`` and streams. Subclasses set ``name`` and ``spec_class``."""

    name: ClassVar[str] = ""
    spec_class: ClassVar[type[ConnectorSpec]] = ConnectorSpec
    bounds: Bounds = DEFAULT_BOUNDS
    """Bounds every post must meet (:mod:`pipeline.core.bounds`); the runner sets them from its options."""

    def __init__(self, spec: SpecT) -> None:
        self.spec = spec
        self.stop_event = threading.Event()
        """Set by the runner on shutdown (SIGTERM); long waits should use ``stop_event.wait``."""

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None = None, secrets_dir: Path | None = None) -> Connector[ConnectorSpec]:
        """Build the connector from a config mapping plus the environment and a secrets directory."""
        kwargs: dict[str, Any] = dict(config or {})
        if secrets_dir is not None:
            kwargs["_secrets_dir"] = str(secrets_dir)
        # spec_class is the SpecT of the subclass (a ClassVar cannot be typed with SpecT itself)
        return cls(cast(SpecT, cls.spec_class(**kwargs)))

    @classmethod
    def summary(cls) -> str:
        """First line of the class docstring."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    @abstractmethod
    def check(self) -> None:
        """Verify credentials and reachability with one cheap request; raise :class:`CheckError`
        with a message a user can act on (never including a secret)."""

    @abstractmethod
    def streams(self) -> list[Stream]:
        """The streams this configuration reads (e.g. one per hashtag or subreddit)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients and sockets. Called once by the runner when it stops."""


class PushConnector(Connector[SpecT]):
    """A connector that receives posts (e.g. a webhook) instead of reading streams."""

    def streams(self) -> list[Stream]:
        return []

    @abstractmethod
    def serve(self, sink: Sink, dlq_topic: str | None) -> None:
        """Accept posts until ``self.stop_event`` is set; produce each accepted post to ``sink``
        (a :class:`pipeline.core.kafka.PostProducer`) and flush before acknowledging the sender."""
