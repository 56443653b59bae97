"""A stopped worker leaves no ClickHouse background threads running into interpreter exit."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from pipeline.core.settings import load_settings

CLICKHOUSE_POOLS = {"BgSchPool", "BgStrmSchPool", "MergeMutate", "Move", "Fetch", "Common"}


def _native_threads() -> list[str]:
    names = []
    for task in os.listdir("/proc/self/task"):
        try:
            names.append(Path(f"/proc/self/task/{task}/comm").read_text().strip())
        except OSError:  # the thread ended while we looked
            continue
    return names


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_close_stops_chdb_background_pools(tmp_path: Path) -> None:
    from pipeline.runtime.app import Worker

    settings = load_settings(clickhouse_backend="chdb", chdb_path=tmp_path / "chdb",
                             worker_data_dir=tmp_path / "worker", web_port=0)
    worker = Worker(settings)
    asyncio.run(worker.repository())  # opens chDB and applies the migrations
    assert CLICKHOUSE_POOLS & set(_native_threads()), "chDB started no background pools (test is moot)"
    worker.close()
    assert not CLICKHOUSE_POOLS & set(_native_threads())
    worker.close()  # idempotent: run_app's finally may run after an explicit close
