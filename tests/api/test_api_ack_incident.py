"""One acknowledgement: named access keys, open reads, and an ack that silences the incident's paging."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pipeline.alerts.acks import INCIDENTS_DB, repository_ack_feed
from pipeline.alerts.cli import alerts_app
from pipeline.alerts.dispatcher import AlertDispatcher, default_routing
from pipeline.alerts.incidents import IncidentBook
from pipeline.alerts.outbox import Outbox
from pipeline.alerts.owners import OwnerDirectory
from pipeline.alerts.routing import Router
from pipeline.api.app import create_api
from pipeline.core.settings import load_settings
from pipeline.storage.repository import Repository, RepositoryProvider
from tests.alerts.alerts_support import FIXTURES, make_alert
from tests.api.conftest import api_settings, read_headers

V1 = "/api/v1"
ANA = "ana-ruiz-key-0123456789"
BEN = "ben-read-key-0123456789"
NAMED = [{"name": "Ana Ruiz", "token": ANA, "scope": "act"}, {"name": "Ben Ode", "token": BEN, "scope": "read"}]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_named_tokens_from_env_json(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HYPERMICRO_API_TOKENS", json.dumps(NAMED))
    s = load_settings()
    assert [(t.name, t.scope) for t in s.api_tokens] == [("Ana Ruiz", "act"), ("Ben Ode", "read")]
    assert ANA not in repr(s) and ANA not in str(s.model_dump())  # a secret, never printed


def test_named_scopes_and_open_reads(seeded_repo: Repository, tmp_path: Path) -> None:
    settings = api_settings(tmp_path, api_tokens=NAMED, api_open_reads=True, api_host="0.0.0.0")
    with TestClient(create_api(lambda: seeded_repo, settings)) as c:
        assert c.get(V1 + "/alerts").status_code == 200  # open reads, although tokens exist and not loopback
        r = c.post(V1 + "/alerts/al-1/ack")
        assert r.status_code == 401 and "access key" in r.json()["detail"]  # acting always needs a key
        r = c.post(V1 + "/alerts/al-1/ack", headers=bearer(BEN))
        assert r.status_code == 403 and "act" in r.json()["detail"]
        assert c.get(V1 + "/me", headers=bearer(ANA)).json() == {
            "principal": "Ana Ruiz", "named": True, "scopes": ["act", "read"], "open_read": True}
        r = c.post(V1 + "/alerts/al-1/ack", json={"by": "someone else"}, headers=bearer(ANA))
        assert r.status_code == 200 and r.json()["ack"]["by"] == "Ana Ruiz"  # the key's person, not the body
    closed = api_settings(tmp_path, api_tokens=NAMED)
    with TestClient(create_api(lambda: seeded_repo, closed)) as c:
        assert c.get(V1 + "/alerts").status_code == 401
        assert c.get(V1 + "/alerts", headers=read_headers()).status_code == 200  # the older tokens still work


def _seed_incident(repo: Repository, state: Path) -> tuple[str, str]:
    """An incident in the worker's book and its alert in ClickHouse, as the dispatcher leaves them."""
    book = IncidentBook(state / INCIDENTS_DB)
    alert = make_alert(minute=0, observed=100, subject_id="acme")
    decision = book.observe(alert)
    book.close()
    repo.insert_alerts([alert.model_copy(update={"incident_id": decision.incident_id})])
    return alert.id, decision.incident_id


def test_ack_in_dashboard_acknowledges_the_incident_in_the_local_book(seeded_repo: Repository,
                                                                      tmp_path: Path) -> None:
    state = tmp_path / "alerts"
    alert_id, incident_id = _seed_incident(seeded_repo, state)
    settings = api_settings(tmp_path, api_tokens=NAMED, alert_state_dir=state)
    with TestClient(create_api(lambda: seeded_repo, settings)) as c:
        r = c.post(f"{V1}/alerts/{alert_id}/ack", headers=bearer(ANA))
        assert r.status_code == 200 and r.json()["incident_acknowledged"] is True
    book = IncidentBook(state / INCIDENTS_DB)
    inc = book.get(incident_id)
    assert inc is not None and inc.acked_by == "Ana Ruiz"
    assert book.decide(make_alert(minute=1, observed=150, subject_id="acme")).reason == "acknowledged"
    book.close()
    out = CliRunner().invoke(alerts_app, ["list", "incidents", "--state-dir", str(state)])  # `hypermicro alerts list`
    assert out.exit_code == 0 and "acked by Ana Ruiz" in out.output


def test_worker_on_another_host_applies_api_acks_before_paging(seeded_repo: Repository, tmp_path: Path) -> None:
    """The API cannot reach the worker's book: the ack travels through ClickHouse's alert_acks."""
    worker_state = tmp_path / "worker-alerts"
    alert_id, incident_id = _seed_incident(seeded_repo, worker_state)
    api_side = api_settings(tmp_path, api_tokens=NAMED, alert_state_dir=tmp_path / "api-host-has-no-book")
    with TestClient(create_api(lambda: seeded_repo, api_side)) as c:
        r = c.post(f"{V1}/alerts/{alert_id}/ack", headers=bearer(ANA))
        assert r.status_code == 200 and r.json()["incident_acknowledged"] is False
    router = Router(default_routing({}), OwnerDirectory.from_files(FIXTURES / "brands.yaml", None))
    dispatcher = AlertDispatcher({}, router, IncidentBook(worker_state / INCIDENTS_DB),
                                 Outbox(worker_state / "outbox.sqlite3"),
                                 ack_feed=repository_ack_feed(_provider(seeded_repo)))
    try:
        admission = asyncio.run(dispatcher.review(make_alert(minute=1, observed=150, subject_id="acme")))
        assert (admission.delivered, admission.reason) == (False, "acknowledged")
        inc = dispatcher.incidents.get(incident_id)
        assert inc is not None and inc.acked_by == "Ana Ruiz"
        assert asyncio.run(dispatcher.sync_acks()) == 0  # applied once; re-reading is harmless
        worse = dispatcher.incidents.decide(make_alert(minute=2, observed=400, subject_id="acme"))
        assert (worse.deliver, worse.reason) == (True, "escalation")  # it got worse: paging resumes
    finally:
        dispatcher.close()


def _provider(repo: Repository) -> RepositoryProvider:
    async def provide() -> Repository:
        return repo
    return provide
