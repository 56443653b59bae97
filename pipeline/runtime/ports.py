"""What the runtime's loops and services receive from the worker process: small typed ports,
never the worker itself, so each can be built and tested with a plain function in its place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pipeline.core.schema import Alert
from pipeline.storage.repository import Repository

RepositoryProvider = Callable[[], Awaitable[Repository]]
"""The process's one Repository, built on first use (waits while ClickHouse is unreachable)."""

AlertPublisher = Callable[[Alert], Awaitable[None]]
"""Publishes one alert to ``social.alerts``; returns once Kafka acknowledged it."""
