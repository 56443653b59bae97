"""Shared fixtures: the real local Kafka and ClickHouse server started by the project's scripts."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _script(name: str, action: str) -> None:
    subprocess.run(["bash", str(REPO / "deploy" / "local" / name), action], check=True, cwd=REPO)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """A running local Kafka broker (started by deploy/local/kafka.sh if not running)."""
    bootstrap = os.environ.get("HYPERMICRO_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    _script("kafka.sh", "start")
    return bootstrap


@pytest.fixture(scope="session")
def clickhouse_server() -> tuple[str, int]:
    """A running local clickhouse-server (Debian 18.16, started by deploy/local/clickhouse.sh)."""
    _script("clickhouse.sh", "start")
    return ("127.0.0.1", int(os.environ.get("CLICKHOUSE_PORT", "9000")))


@pytest.fixture
def namespace() -> str:
    """A unique topic namespace so tests never see each other's messages."""
    return "t" + uuid.uuid4().hex[:10]
