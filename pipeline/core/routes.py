"""The alert routes file (``HYPERMICRO_ALERT_ROUTES_FILE``): the one loader of routing records.

Who receives which alert, by owner or team, with severity/kind filters; see ``docs/alerts.md``
for the format. :class:`pipeline.alerts.routing.Router` applies a :class:`RoutingConfig`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from pipeline.core.schema import AlertKind, Severity

RouteKind = Literal[AlertKind, "trending_conversation"]
"""What a route's ``kinds`` may name: the alert kinds, plus ``trending_conversation``, which no
detector raises (it matches no alert) but which existing routes files name: they keep loading."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Destination(_Strict):
    """One channel of a route. ``to`` empty: owner address (email) or the channel's own URL."""

    channel: str
    to: tuple[str, ...] = ()
    min_severity: Severity = "info"
    kinds: tuple[RouteKind, ...] | None = None


class Route(_Strict):
    """Destinations of one owner/team, with filters applying to all of them."""

    min_severity: Severity = "info"
    kinds: tuple[RouteKind, ...] | None = None
    destinations: tuple[Destination, ...] = ()


class RoutingConfig(_Strict):
    """The routes file (see docs/alerts.md)."""

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

    def channels(self) -> set[str]:
        """Every channel name the config mentions."""
        routes = [*self.routes.values(), *([self.fallback] if self.fallback else [])]
        names = {d.channel for r in routes for d in r.destinations}
        return names | {d.channel for d in self.broadcast}


def load_routes(path: Path | str) -> RoutingConfig:
    """Read and validate a routes file (unknown keys are errors; an empty file is the defaults).

    Raises ``OSError`` (unreadable), ``yaml.YAMLError`` (not YAML) or
    ``pydantic.ValidationError`` (one entry per invalid key).
    """
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return RoutingConfig.model_validate(data)
