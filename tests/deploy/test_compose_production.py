"""docker-compose.yml is fit for a real deployment (parsed; no Docker engine needed):
every setting passable, healthchecks and log rotation everywhere, a connector per source,
Prometheus + Grafana wired to metrics the code exports, image tags as documented."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.core.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
SETTINGS_ENV = {"HYPERMICRO_" + name.upper() for name in Settings.model_fields}
APP_SERVICES = ("worker", "api", "migrate")
CONFIG_DIR = REPO / "deploy" / "config"
DEPLOY_DOC = REPO / "docs" / "deploy.md"


def _raw_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    return {str(k): str(v) for k, v in env.items()}


def _documented_versions() -> dict[str, str]:
    """`docs/deploy.md` "Versions" table: image or package -> version."""
    section = DEPLOY_DOC.read_text().split("## Versions", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\|[^|]+\| `([^`]+)` \| `([^`]+)` \|$", section, re.M)
    assert rows, "docs/deploy.md has no versions table"
    return dict(rows)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_setting_can_be_passed_to_the_app_services(name: str) -> None:
    env = _raw_env(SERVICES[name])
    missing = SETTINGS_ENV - set(env)
    assert not missing, f"{name}: settings compose cannot pass: {sorted(missing)}"
    anchor = COMPOSE["x-hypermicro-env"]
    for key in SETTINGS_ENV:
        value = str(anchor[key])
        source = "CLICKHOUSE_PASSWORD" if key == "HYPERMICRO_CLICKHOUSE_PASSWORD" else key
        assert value.startswith("${" + source + ":-"), f"{key} is not taken from the environment: {value}"


def test_every_service_has_a_healthcheck_and_rotated_logs() -> None:
    for name, svc in SERVICES.items():
        check = svc.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name}: no healthcheck"
        logging = svc.get("logging") or {}
        assert logging.get("driver") == "json-file", f"{name}: no log rotation"
        assert {"max-size", "max-file"} <= set(logging.get("options", {})), f"{name}: logs grow without bound"


def test_config_directory_is_mounted_read_only_where_settings_files_are_read() -> None:
    for name in (*APP_SERVICES, *[n for n in SERVICES if n.startswith("connector-")]):
        mounts = [str(v) for v in SERVICES[name].get("volumes", [])]
        assert any(m.endswith(":/etc/hypermicro:ro") and "./deploy/config" in m for m in mounts), name


def test_a_connector_service_per_builtin_source_with_a_valid_example_config() -> None:
    from connectors.cli import load_config
    from connectors.registry import BUILTINS, get_connector
    from connectors.run_types import RunnerOptions

    for name in BUILTINS:
        svc = SERVICES.get(f"connector-{name}")
        assert svc is not None, f"no connector service for {name}"
        assert svc["profiles"] == [name]
        cmd = svc["command"]
        assert cmd[:3] == ["hypermicro", "connect", name]
        assert cmd[cmd.index("--config") + 1] == f"/etc/hypermicro/connectors/{name}.yaml"
        port = int(cmd[cmd.index("--metrics-port") + 1])
        assert str(port) in " ".join(svc["healthcheck"]["test"])
        path = CONFIG_DIR / "connectors" / f"{name}.yaml"
        spec = {k: v for k, v in load_config(path).items() if k not in RunnerOptions.config_keys()}
        prefix = f"secrets/HYPERMICRO_{name.upper()}_"  # secrets the example says come from files
        secrets = {m.lower(): "from-a-secret-file" for m in re.findall(re.escape(prefix) + r"([A-Z_]+)", path.read_text())}
        get_connector(name).spec_class(**spec, **secrets)  # the shipped example validates


def test_prometheus_scrapes_what_compose_runs() -> None:
    prom = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in prom["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    worker_env = _raw_env(SERVICES["worker"])
    assert f"worker:{worker_env['HYPERMICRO_METRICS_PORT']}" in targets
    assert worker_env["HYPERMICRO_METRICS_HOST"] == "0.0.0.0"  # reachable from the prometheus container
    assert f"api:{_raw_env(SERVICES['api'])['HYPERMICRO_API_PORT']}" in targets
    for name in (n for n in SERVICES if n.startswith("connector-")):
        cmd = SERVICES[name]["command"]
        assert f"{name}:{cmd[cmd.index('--metrics-port') + 1]}" in targets
    mounted = [v for v in SERVICES["prometheus"]["volumes"] if "prometheus.yml" in v]
    assert mounted == ["./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"]


def _exported_metric_names() -> set[str]:
    from prometheus_client import REGISTRY

    import connectors.metrics  # noqa: F401 - registers the connector metrics
    import pipeline.alerts.metrics  # noqa: F401
    import pipeline.api.app  # noqa: F401
    import pipeline.core.metrics  # noqa: F401

    suffixes = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
    return {m.name + suffix for m in REGISTRY.collect() for suffix in suffixes.get(m.type, ())}


def test_pipeline_health_dashboard_queries_metrics_the_code_exports() -> None:
    dashboard = json.loads((REPO / "deploy" / "grafana" / "dashboards" / "pipeline-health.json").read_text())
    ds = yaml.safe_load((REPO / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    (source,) = ds["datasources"]
    assert source["url"] == "http://prometheus:9090"
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]} == {source["uid"]}
    used = {name for e in exprs for name in re.findall(r"\bhypermicro_[a-z_]+", e)}
    unknown = used - _exported_metric_names()
    assert not unknown, f"the dashboard queries metrics nothing exports: {sorted(unknown)}"
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("lag", "throughput", "dead-letter", "sink retries", "detector"):
        assert topic in titles


def test_image_tags_match_the_documented_versions() -> None:
    documented = _documented_versions()
    for service in ("kafka", "clickhouse", "prometheus"):
        image, tag = SERVICES[service]["image"].rsplit(":", 1)
        assert documented.get(image) == tag, f"{service}: {image}:{tag} but docs/deploy.md says {documented.get(image)}"
    dockerfile = (REPO / "deploy" / "grafana" / "Dockerfile").read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile, re.M))
    assert args["GRAFANA_VERSION"] == documented["grafana/grafana"]
    assert args["CLICKHOUSE_PLUGIN_VERSION"] == documented["grafana-clickhouse-datasource"]
    assert "FROM grafana/grafana:${GRAFANA_VERSION}" in dockerfile
    assert SERVICES["grafana"]["build"]["context"] == "deploy/grafana"


def test_env_example_sets_up_tokens_and_names_real_variables() -> None:
    lines = [ln.lstrip("# ").strip() for ln in (REPO / ".env.example").read_text().splitlines()]
    assigned = dict(ln.split("=", 1) for ln in lines if re.match(r"^[A-Z][A-Z0-9_]*=", ln))
    compose_text = (REPO / "docker-compose.yml").read_text()
    for key in assigned:
        assert key in SETTINGS_ENV or "${" + key in compose_text, f".env.example: {key} is used nowhere"
    for key in ("HYPERMICRO_API_READ_TOKENS", "HYPERMICRO_API_ADMIN_TOKENS"):
        tokens = json.loads(assigned[key])
        assert isinstance(tokens, list) and tokens
    named = json.loads(assigned["HYPERMICRO_API_TOKENS"])  # one key per person, with a name
    assert named and all(t["name"] and t["token"] and t["scope"] in ("read", "act", "admin") for t in named)
