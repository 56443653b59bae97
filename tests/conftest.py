"""Shared fixtures: the real local Kafka and ClickHouse server started by the project's scripts."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from kafka import KafkaAdminClient

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _script(name: str, action: str) -> None:
    subprocess.run(["bash", str(REPO / "deploy" / "local" / name), action], check=True, cwd=REPO)


@contextlib.contextmanager
def _admin(bootstrap: str) -> Iterator[KafkaAdminClient]:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="hypermicro-tests", request_timeout_ms=30_000)
    try:
        yield admin
    finally:
        admin.close()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A running local Kafka broker (started by deploy/local/kafka.sh if not running).

    Topics created during the session (every test uses its own namespace) are deleted at its
    end, so a local broker does not pile up thousands of them run after run, which slows its
    start; topics that existed before the session are left alone.
    ``HYPERMICRO_TEST_KEEP_TOPICS=1`` keeps them for debugging.
    """
    bootstrap = os.environ.get("HYPERMICRO_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    _script("kafka.sh", "start")
    try:
        with _admin(bootstrap) as admin:
            before: set[str] | None = set(admin.list_topics())
    except Exception:  # noqa: BLE001 - without the list nothing is deleted
        before = None
    yield bootstrap
    if before is None or os.environ.get("HYPERMICRO_TEST_KEEP_TOPICS"):
        return
    try:
        with _admin(bootstrap) as admin:
            created = sorted(set(admin.list_topics()) - before)
            for i in range(0, len(created), 100):
                admin.delete_topics(created[i : i + 100], timeout_ms=30_000)
    except Exception as exc:  # noqa: BLE001 - a cleanup problem must not fail the tests
        logging.getLogger(__name__).warning("could not delete this session's Kafka topics: %r", exc)


@pytest.fixture(scope="session")
def clickhouse_server() -> tuple[str, int]:
    """A running local clickhouse-server (Debian 18.16, started by deploy/local/clickhouse.sh)."""
    _script("clickhouse.sh", "start")
    return ("127.0.0.1", int(os.environ.get("CLICKHOUSE_PORT", "9000")))


@pytest.fixture
def namespace() -> str:
    """A unique topic namespace so tests never see each other's messages."""
    return "t" + uuid.uuid4().hex[:10]
