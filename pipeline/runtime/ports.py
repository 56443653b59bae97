"""What the runtime's loops and services receive from the worker process: small typed ports,
never the worker itself, so each can be built and tested with a plain function in its place.
The other port, :data:`pipeline.storage.repository.RepositoryProvider`, lives with the Repository."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pipeline.core.schema import Alert

AlertPublisher = Callable[[Alert], Awaitable[None]]
"""Publishes one alert to ``social.alerts``; returns once Kafka acknowledged it."""
