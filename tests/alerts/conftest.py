"""Fixtures of the alert tests: local HTTP receivers, a local SMTP server, a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from alerts_support import FakeClock, Receiver, Reply, SmtpSink

from tests.ports import free_port


@pytest.fixture
def receiver_factory() -> Iterator[Any]:
    """``make(script, default)`` -> a running :class:`Receiver`, closed after the test."""
    made: list[Receiver] = []

    def make(script: list[Reply] | None = None, default: Reply | None = None) -> Receiver:
        r = Receiver(script, default)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, SmtpSink]]:
    """A real aiosmtpd server on 127.0.0.1 recording envelopes."""
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, sink
    finally:
        controller.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
