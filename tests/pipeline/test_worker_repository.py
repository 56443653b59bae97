"""The worker builds one Repository per process, however many of its tasks ask at start-up."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from pipeline.core.settings import load_settings
from pipeline.runtime.app import Worker
from pipeline.storage.repository import Repository


async def test_concurrent_first_requests_build_one_repository(tmp_path: Path) -> None:
    built: list[int] = []
    lock = threading.Lock()

    def factory() -> Repository:  # slow, as connecting and migrating is
        with lock:
            built.append(1)
        time.sleep(0.2)
        return object()  # type: ignore[return-value]

    settings = load_settings(chdb_path=tmp_path / "chdb", worker_data_dir=tmp_path / "worker", web_port=0)
    worker = Worker(settings, repository_factory=factory)
    # the sink's first batch and the leader's first detector tick ask at once
    repos = await asyncio.gather(*(worker.repository() for _ in range(3)))
    assert len(built) == 1  # two migration runs at once raced on migration 10's ALTER
    assert repos[0] is repos[1] is repos[2]
