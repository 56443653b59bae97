"""Who gets which alert: owners from brands.yaml/topics.yaml, destinations from the routes file.

An alert's owners are the ``owner`` of its brand and/or topic (``subject.brand_id`` /
``subject.topic_id``, or the subject itself for brand/topic subjects). Each owner (optionally
mapped to a team) has a route: destinations (channel + addresses) with severity/kind filters.
Subjects without an owner go to ``default_owner``. The files are read by the loaders in
``pipeline.core`` (:mod:`~pipeline.core.routes`, :mod:`~pipeline.core.brands`,
:mod:`~pipeline.core.taxonomy`); docs/alerts.md describes the routes format.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.alerts.channels import DEFAULT_TARGET
from pipeline.alerts.owners import OwnerDirectory
from pipeline.alerts.render import SEVERITY_RANK
from pipeline.core.routes import Destination, Route, RoutingConfig, load_routes
from pipeline.core.schema import Alert


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
        """Router from a routes file (or ``default`` when None) and the brands/topics files."""
        config = load_routes(routes_file) if routes_file else (default or RoutingConfig())
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
