"""Routing: owners from brands/topics YAML, routes, default owner, filters, config validation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from alerts_support import FIXTURES, make_alert
from pydantic import ValidationError

from pipeline.alerts.dispatcher import default_routing
from pipeline.alerts.owners import OwnerDirectory
from pipeline.alerts.routing import Router
from pipeline.core.routes import load_routes

SLACK_AIRLINE = "https://hooks.slack.com/services/T000/B000/airline"


@pytest.fixture
def router() -> Router:
    return Router.from_files(FIXTURES / "routes.yaml", FIXTURES / "brands.yaml", FIXTURES / "topics.yaml")


def test_owner_directory_reads_string_and_list_owners() -> None:
    d = OwnerDirectory.from_files(FIXTURES / "brands.yaml", FIXTURES / "topics.yaml")
    assert d.brand_owners["nimbus"] == ("comms-nimbus@example.com",)
    assert d.brand_owners["skyway"] == ("comms-skyway@example.com", "ceo-office@example.com")
    assert d.brand_owners["orphan"] == ()
    assert d.topic_owners["safety"] == ("safety-desk@example.com",)
    assert d.names["brand:nimbus"] == "Nimbus Air" and d.names["topic:safety"] == "Safety"


def test_brand_alert_goes_to_brand_owner_team_route(router: Router) -> None:
    r = router.route(make_alert(subject_id="nimbus", severity="warning"))
    assert r.owners == ("comms-nimbus@example.com",)
    # airline-comms: Slack always, e-mail only for critical; webhook broadcast for negative spikes
    assert dict(r.deliveries) == {"slack": (SLACK_AIRLINE,), "webhook": ("default",)}
    crit = router.route(make_alert(subject_id="nimbus", severity="critical"))
    assert crit.deliveries["email"] == ("airline-comms@example.com",)


def test_unowned_subject_goes_to_default_owner(router: Router) -> None:
    r = router.route(make_alert(subject_id="orphan"))
    assert r.owners == ("pr-desk",)
    assert dict(r.deliveries) == {"email": ("pr-desk@example.com",), "slack": ("default",), "webhook": ("default",)}
    unknown = router.route(make_alert(subject_id="never-configured"))
    assert unknown.owners == ("pr-desk",) and unknown.deliveries["email"] == ("pr-desk@example.com",)


def test_owner_without_route_uses_fallback_to_own_address(router: Router) -> None:
    r = router.route(make_alert(subject_kind="topic", subject_id="safety", severity="warning"))
    assert r.owners == ("safety-desk@example.com",)
    assert r.deliveries["email"] == ("safety-desk@example.com",)
    # the fallback route only takes warning and up
    info = router.route(make_alert(subject_kind="topic", subject_id="safety", severity="info"))
    assert "email" not in info.deliveries


def test_owner_that_cannot_be_reached_also_goes_to_default(router: Router) -> None:
    # voltcart's owner "ev-team" has no route and is no e-mail address: the fallback cannot reach it,
    # so the alert goes to the default owner too instead of to nobody.
    r = router.route(make_alert(subject_id="voltcart", severity="warning"))
    assert r.owners == ("ev-team",)
    assert dict(r.deliveries) == {"email": ("pr-desk@example.com",), "slack": ("default",), "webhook": ("default",)}


def test_rising_voice_routes_via_subject_brand(router: Router) -> None:
    alert = make_alert(kind="rising_voice", subject_kind="author", subject_id="mastodon:42", brand_id="skyway")
    r = router.route(alert)
    assert r.owners == ("comms-skyway@example.com", "ceo-office@example.com")
    assert r.deliveries["slack"] == (SLACK_AIRLINE,)  # comms-skyway is in airline-comms
    assert r.deliveries["email"] == ("ceo-office@example.com",)  # fallback: own address
    assert "webhook" not in r.deliveries  # broadcast only takes spikes and trending conversations


def test_brand_topic_reaches_both_owners(router: Router) -> None:
    alert = make_alert(subject_kind="brand_topic", subject_id="nimbus/safety", brand_id="nimbus",
                       topic_id="safety", severity="critical")
    r = router.route(alert)
    assert r.owners == ("comms-nimbus@example.com", "safety-desk@example.com")
    assert r.deliveries["email"] == ("airline-comms@example.com", "safety-desk@example.com")


def test_default_routing_without_file() -> None:
    cfg = default_routing(["webhook", "slack", "email"])
    router = Router(cfg, OwnerDirectory.from_files(FIXTURES / "brands.yaml", None))
    owned = router.route(make_alert(subject_id="nimbus"))
    assert dict(owned.deliveries) == {"email": ("comms-nimbus@example.com",), "slack": ("default",),
                                      "webhook": ("default",)}
    unowned = router.route(make_alert(subject_id="orphan"))
    assert dict(unowned.deliveries) == {"slack": ("default",), "webhook": ("default",)}


def test_config_rejects_typos_and_unknown_channels(tmp_path: Path, router: Router) -> None:
    bad = tmp_path / "routes.yaml"
    bad.write_text("routes:\n  x:\n    destinations:\n      - channel: slack\n        min_severty: info\n")
    with pytest.raises(ValidationError):
        load_routes(bad)
    with pytest.raises(ValueError, match="email"):
        router.check_channels(["slack", "webhook"])


def test_docs_example_is_the_tested_fixture() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "alerts.md").read_text()
    block = re.search(r"```yaml\n(# Alert routing.*?)```", doc, re.S)
    assert block, "docs/alerts.md must show the routing example"
    assert yaml.safe_load(block.group(1)) == yaml.safe_load((FIXTURES / "routes.yaml").read_text())


def test_docs_signature_example_verifies_a_real_signature() -> None:
    from pipeline.alerts.channels import sign_body

    doc = (Path(__file__).resolve().parents[2] / "docs" / "alerts.md").read_text()
    block = re.search(r"```python\n(import hashlib.*?)```", doc, re.S)
    assert block, "docs/alerts.md must show the receiver-side check"
    scope: dict = {}
    exec(block.group(1), scope)
    body = make_alert().model_dump_json().encode()
    import time

    ts = str(int(time.time()))
    assert scope["verify"]("k", body, sign_body("k", body, ts), ts)
    assert not scope["verify"]("k", body + b"x", sign_body("k", body, ts), ts)
    old = str(int(time.time()) - 3600)
    assert not scope["verify"]("k", body, sign_body("k", body, old), old)
