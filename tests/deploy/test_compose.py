"""docker-compose.yml, the Dockerfile and the Grafana provisioning agree with the code they deploy."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.core.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
GRAFANA = REPO / "deploy" / "grafana"
SETTINGS_ENV = {"HYPERMICRO_" + name.upper() for name in Settings.model_fields}
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def _default_interpolation(value: Any) -> Any:
    """What compose passes when the user sets nothing: ``${X:-default}`` -> ``default``."""
    if not isinstance(value, str):
        return value
    return _INTERPOLATION.sub(lambda m: m.group(2) or "", value)


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(_default_interpolation(v)) for k, v in env.items()}


def _host_ports(service: dict[str, Any]) -> set[int]:
    return {int(str(p).split(":")[0]) for p in service.get("ports", [])}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def test_services_and_published_ports(services: dict[str, Any]) -> None:
    assert {"kafka", "clickhouse", "worker", "api", "grafana", "migrate"} <= set(services)
    assert 9092 in _host_ports(services["kafka"])
    assert {8123, 9000} <= _host_ports(services["clickhouse"])
    assert 8080 in _host_ports(services["api"])
    assert 3000 in _host_ports(services["grafana"])
    assert services["kafka"]["image"].startswith("apache/kafka:")  # tag: test_compose_production
    assert services["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:")


def test_every_hypermicro_env_name_is_a_settings_field(services: dict[str, Any]) -> None:
    used = {k for svc in services.values() for k in _env(svc) if k.startswith("HYPERMICRO_")}
    assert used, "compose sets no HYPERMICRO_* variables"
    assert used <= SETTINGS_ENV, f"not Settings fields: {sorted(used - SETTINGS_ENV)}"
    in_dockerfile = set(re.findall(r"\b(HYPERMICRO_[A-Z0-9_]+)=", DOCKERFILE.read_text()))
    assert in_dockerfile <= SETTINGS_ENV, f"Dockerfile: {sorted(in_dockerfile - SETTINGS_ENV)}"


@pytest.mark.parametrize("name", ["worker", "api", "migrate"])
def test_app_services_point_at_compose_kafka_and_clickhouse(
    services: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = services[name]
    env = _env(svc)
    for key in list(os.environ):
        if key.startswith("HYPERMICRO_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]  # validates every value compose passes

    kafka_env = _env(services["kafka"])
    internal = {
        listener.split("://", 1)[1] for listener in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    }
    assert settings.kafka_bootstrap in internal
    assert settings.kafka_bootstrap.split(":")[0] == "kafka"

    ch_env = _env(services["clickhouse"])
    assert settings.clickhouse_backend == "server"
    assert settings.clickhouse_host == "clickhouse"
    assert settings.clickhouse_port == 9000
    assert settings.clickhouse_user == ch_env["CLICKHOUSE_USER"]
    assert settings.clickhouse_password.get_secret_value() == ch_env["CLICKHOUSE_PASSWORD"]
    assert settings.clickhouse_database == ch_env["CLICKHOUSE_DB"]

    assert svc["build"]["dockerfile"] == "deploy/docker/Dockerfile"
    assert svc["command"][:1] == ["hypermicro"]
    if name != "migrate":
        assert svc["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert svc["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_worker_and_api_commands(services: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    assert services["worker"]["command"] == ["hypermicro", "worker"]
    assert services["api"]["command"] == ["hypermicro", "api"]
    assert services["migrate"]["command"] == ["hypermicro", "migrate"]
    monkeypatch.setenv("HYPERMICRO_API_HOST", _env(services["api"])["HYPERMICRO_API_HOST"])
    assert Settings(_env_file=None).api_host == "0.0.0.0"  # type: ignore[call-arg]  # reachable from the host


def test_dockerfile_build_inputs_exist() -> None:
    text = DOCKERFILE.read_text()
    assert "download.pytorch.org/whl/cpu" in text
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    sources = [
        src
        for line in text.splitlines() if line.startswith("COPY ")
        for src in line.split()[1:-1]
    ]
    assert sources
    missing = [s for s in sources if not (REPO / s).exists()]
    assert not missing, f"Docker build would fail, missing in the build context: {missing}"


def test_grafana_provisioning_matches_compose(services: dict[str, Any]) -> None:
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "clickhouse.yaml").read_text())
    (source,) = ds["datasources"]
    assert source["type"] == "grafana-clickhouse-datasource"
    assert source["jsonData"]["host"] == "clickhouse"
    assert source["jsonData"]["port"] == 9000
    assert source["jsonData"]["protocol"] == "native"
    assert source["jsonData"]["username"] == _env(services["clickhouse"])["CLICKHOUSE_USER"]
    assert source["secureJsonData"]["password"] == "$CLICKHOUSE_PASSWORD"
    grafana_env = _env(services["grafana"])
    assert grafana_env["CLICKHOUSE_PASSWORD"] == _env(services["clickhouse"])["CLICKHOUSE_PASSWORD"]
    # the plugin is installed at image build time, pinned (test_compose_production checks the version)
    assert "grafana-clickhouse-datasource" in (GRAFANA / "Dockerfile").read_text()

    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["grafana"]["volumes"] if v.startswith("./")}
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "hypermicro.yaml").read_text())
    path = providers["providers"][0]["options"]["path"]
    assert (REPO / mounts[path]).resolve() == (GRAFANA / "dashboards").resolve()
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"

    dashboard = json.loads((GRAFANA / "dashboards" / "hypermicro.json").read_text())
    uids = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]}
    assert uids == {source["uid"]}
