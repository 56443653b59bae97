"""Embedded mode: the API served by uvicorn on the worker's loop, with the worker's repository."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from pipeline.runtime.app import Worker
from pipeline.runtime.embedded_api import attach_api
from pipeline.storage.repository import Repository
from tests.api.conftest import api_settings, read_headers
from tests.ports import free_port


async def test_api_service_serves_the_workers_repository(seeded_repo: Repository, tmp_path: Path) -> None:
    port = free_port()
    settings = api_settings(tmp_path, api_port=port, worker_data_dir=tmp_path / "worker", web_port=0)
    worker = Worker(settings, repository_factory=lambda: seeded_repo)
    service_cls = attach_api(worker.app, settings, worker.repository)
    assert service_cls in worker.app._extra_services  # started with the app
    service = service_cls()
    await service.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
            for _ in range(50):
                try:
                    r = await c.get("/health")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.1)
            assert r.json()["status"] == "ok"
            o = (await c.get("/api/v1/brands/acme/overview", headers=read_headers())).json()
            assert o["totals"]["mentions"] == 11
            assert "hypermicro_api_requests_total" in (await c.get("/metrics")).text
    finally:
        await service.stop()
