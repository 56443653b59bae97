"""Loopback ports for the servers tests start (Kafka, ClickHouse, the API, webhook and SMTP sinks)."""

from __future__ import annotations

import random
import socket
from pathlib import Path

_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _ephemeral_low() -> int:
    try:
        return int(_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port() -> int:
    """A free TCP port on 127.0.0.1 below the kernel's ephemeral range.

    Asking the kernel for port 0 returns an ephemeral port, which any outgoing connection (a Kafka
    client, a test's HTTP call) may take between this check and the server's bind: a private
    ClickHouse or broker then exits at start. Ports below the ephemeral range are handed out only
    to servers that ask for them by number."""
    low, top = 20000, _ephemeral_low()
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(low, top) if top > low else 0
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free loopback port below the ephemeral range")
