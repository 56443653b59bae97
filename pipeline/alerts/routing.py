"""Who gets which alert: owners from brands.yaml/topics.yaml, destinations from a routing YAML.

An alert's owners are the ``owner`` of its brand and/or topic (``subject.brand_id`` /
``subject.topic_id``, or the subject itself for brand/topic subjects). Each owner (optionally
mapped to a team) has a route: destinations (channel + addresses) with severity/kind filters.
Subjects without an owner go to ``default_owner``. See docs/alerts.md for the file format.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from pipeline.alerts.channels import DEFAULT_TARGET
from pipeline.alerts.render import SEVERITY_RANK
from pipeline.core.schema import Alert, AlertKind, Severity, Subject

log = logging.getLogger(__name__)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Destination(_Strict):
    """One channel of a route. ``to`` empty: owner address (email) or the channel's own URL."""

    channel: str
    to: tuple[str, ...] = ()
    min_severity: Severity = "info"
    kinds: tuple[AlertKind, ...] | None = None


class Route(_Strict):
    """Destinations of one owner/team, with filters applying to all of them."""

    min_severity: Severity = "info"
    kinds: tuple[AlertKind, ...] | None = None
    destinations: tuple[Destination, ...] = ()


class RoutingConfig(_Strict):
    """The routing YAML (see docs/alerts.md)."""

    default_owner: str = "pr-desk"
    """Owner of subjects whose brand/topic has no ``owner`` (e.g. the PR desk)."""
    teams: dict[str, str] = Field(default_factory=dict)
    """Owner string (as in brands.yaml/topics.yaml) -> team name used to look up ``routes``."""
    routes: dict[str, Route] = Field(default_factory=dict)
    """Owner or team -> route."""
    fallback: Route | None = None
    """Route of owners absent from ``routes`` (``to`` empty + email = the owner's own address)."""
    broadcast: tuple[Destination, ...] = ()
    """Destinations receiving every alert, whatever its owner."""

    @classmethod
    def from_yaml(cls, path: Path) -> RoutingConfig:
        """Load and validate a routing file (unknown keys are errors)."""
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return cls.model_validate(data)

    def channels(self) -> set[str]:
        """Every channel name the config mentions."""
        routes = [*self.routes.values(), *([self.fallback] if self.fallback else [])]
        names = {d.channel for r in routes for d in r.destinations}
        return names | {d.channel for d in self.broadcast}


def _owners(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value.strip(),) if value.strip() else ()
    if isinstance(value, list):
        return tuple(str(v).strip() for v in value if v is not None and str(v).strip())
    raise ValueError(f"owner must be a string or a list of strings, got {value!r}")


def _load_entries(path: Path | None, key: str) -> list[dict[str, Any]]:
    if path is None or not Path(path).exists():
        if path is not None:
            log.warning("%s file %s not found: no %s owners", key, path, key)
        return []
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    entries = data.get(key, []) if isinstance(data, dict) else []
    if not isinstance(entries, list):
        raise ValueError(f"{path}: `{key}:` must be a list")
    return [e for e in entries if isinstance(e, dict) and e.get("id")]


@dataclass(frozen=True)
class OwnerDirectory:
    """Owners and display names of brands and topics."""

    brand_owners: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    topic_owners: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)
    """``brand:<id>`` -> brand name, ``topic:<id>`` -> topic label."""

    @classmethod
    def from_files(cls, brands_file: Path | None, topics_file: Path | None) -> OwnerDirectory:
        """Read ``brands:`` (id, name, owner) and ``topics:`` (id, label, owner) lists."""
        brand_owners, topic_owners, names = {}, {}, {}
        for b in _load_entries(brands_file, "brands"):
            bid = str(b["id"])
            brand_owners[bid] = _owners(b.get("owner"))
            if b.get("name"):
                names[f"brand:{bid}"] = str(b["name"])
        for t in _load_entries(topics_file, "topics"):
            tid = str(t["id"])
            topic_owners[tid] = _owners(t.get("owner"))
            if t.get("label"):
                names[f"topic:{tid}"] = str(t["label"])
        return cls(brand_owners, topic_owners, names)

    def owners_for(self, subject: Subject) -> tuple[str, ...]:
        """Owners of the subject's brand and topic (brand owners first), deduplicated."""
        brand = subject.brand_id or (subject.id if subject.kind == "brand" else None)
        topic = subject.topic_id or (subject.id if subject.kind == "topic" else None)
        found = [*self.brand_owners.get(brand or "", ()), *self.topic_owners.get(topic or "", ())]
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class RouteResult:
    """Where one alert goes.

    ``owners``: the subject's owners (``(default_owner,)`` when it has none);
    ``deliveries``: channel -> recipients (``"default"`` = the channel's own URL).
    """

    owners: tuple[str, ...]
    deliveries: Mapping[str, tuple[str, ...]]


def _passes(alert: Alert, min_severity: str, kinds: Iterable[str] | None) -> bool:
    if SEVERITY_RANK[alert.severity] < SEVERITY_RANK[min_severity]:
        return False
    return kinds is None or alert.kind in kinds


class Router:
    """Maps an alert to owners and channel deliveries."""

    def __init__(self, config: RoutingConfig, directory: OwnerDirectory) -> None:
        self.config = config
        self.directory = directory

    @classmethod
    def from_files(cls, routes_file: Path | None, brands_file: Path | None, topics_file: Path | None,
                   *, default: RoutingConfig | None = None) -> Router:
        """Router from a routing YAML (or ``default`` when None) and the brand/topic YAMLs."""
        config = RoutingConfig.from_yaml(routes_file) if routes_file else (default or RoutingConfig())
        return cls(config, OwnerDirectory.from_files(brands_file, topics_file))

    def check_channels(self, available: Iterable[str]) -> None:
        """Raise ValueError if the config names a channel that is not configured."""
        missing = self.config.channels() - set(available)
        if missing:
            raise ValueError(
                f"alert routing uses channel(s) {sorted(missing)} that are not configured "
                f"(configured: {sorted(available)})"
            )

    def _route_of(self, owner: str) -> Route | None:
        team = self.config.teams.get(owner, owner)
        return self.config.routes.get(team) or self.config.routes.get(owner) or self.config.fallback

    @staticmethod
    def _recipients(owner: str | None, dest: Destination) -> set[str]:
        if dest.to:
            return set(dest.to)
        if dest.channel == "email":  # no `to`: the owner's own address, if it is one
            return {owner} if owner and "@" in owner else set()
        return {DEFAULT_TARGET}

    def _add(self, out: dict[str, set[str]], alert: Alert, owner: str | None, route: Route | None,
             dests: Iterable[Destination]) -> None:
        if route is not None and not _passes(alert, route.min_severity, route.kinds):
            return
        for dest in dests:
            recipients = self._recipients(owner, dest)
            if recipients and _passes(alert, dest.min_severity, dest.kinds):
                out.setdefault(dest.channel, set()).update(recipients)

    def route(self, alert: Alert) -> RouteResult:
        """Owners of the alert's subject (or the ``owners`` it names, e.g. a rostered voice's
        owner) and the deliveries their routes select.

        An owner whose route cannot reach anyone (no route at all, or only e-mail without an
        address) also sends the alert to ``default_owner``; severity/kind filters are respected.
        """
        owners = tuple(alert.owners) or self.directory.owners_for(alert.subject)  # e.g. a voice's owner
        out: dict[str, set[str]] = {}
        unrouted = not owners
        for owner in owners:
            route = self._route_of(owner)
            if route is None or not any(self._recipients(owner, d) for d in route.destinations):
                unrouted = True
                continue
            self._add(out, alert, owner, route, route.destinations)
        if unrouted:
            default = self.config.default_owner
            route = self._route_of(default)
            if route is not None:
                self._add(out, alert, default, route, route.destinations)
        self._add(out, alert, None, None, self.config.broadcast)
        return RouteResult(owners or (self.config.default_owner,), {ch: tuple(sorted(r)) for ch, r in sorted(out.items())})
