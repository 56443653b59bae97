"""Connector discovery: built-ins plus the ``hypermicro.connectors`` entry-point group.

A package adds a connector with, in its ``pyproject.toml``::

    [project.entry-points."hypermicro.connectors"]
    myforum = "myforum_connector:MyForumConnector"
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from importlib.metadata import entry_points

from connectors.base import Connector, ConnectorSpec

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "hypermicro.connectors"

BUILTINS: dict[str, str] = {
    "rss": "connectors.sources.rss:RssConnector",
    "mastodon": "connectors.sources.mastodon:MastodonConnector",
    "bluesky": "connectors.sources.bluesky:JetstreamConnector",
    "reddit": "connectors.sources.reddit:RedditConnector",
    "hackernews": "connectors.sources.hackernews:HackerNewsConnector",
    "webhook": "connectors.sources.webhook:WebhookConnector",
    "jsonfeed": "connectors.sources.jsonfeed:JsonFeedConnector",
}
"""Name -> ``module:Class`` of the connectors shipped with hypermicro."""


@dataclass(frozen=True)
class ConnectorInfo:
    name: str
    origin: str
    """``builtin`` or the distribution that registered it."""
    target: str
    summary: str


def _load_target(target: str) -> type[Connector[ConnectorSpec]]:
    module, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise TypeError(f"{target} is not a Connector subclass")
    return cls


def _plugins() -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "unknown"
        found[ep.name] = (ep.value, dist)
    return found


def get_connector(name: str) -> type[Connector[ConnectorSpec]]:
    """The connector class registered under ``name`` (plugins may not shadow built-ins).
    Raises ``KeyError`` with the known names when there is none."""
    if name in BUILTINS:
        return _load_target(BUILTINS[name])
    plugins = _plugins()
    if name in plugins:
        return _load_target(plugins[name][0])
    known = sorted(set(BUILTINS) | set(plugins))
    raise KeyError(f"unknown connector {name!r}; known: {', '.join(known)}")


def available_connectors() -> list[ConnectorInfo]:
    """Every built-in and installed connector, with the first line of its docstring."""
    out: list[ConnectorInfo] = []
    sources = [(n, t, "builtin") for n, t in BUILTINS.items()]
    sources += [(n, t, dist) for n, (t, dist) in _plugins().items() if n not in BUILTINS]
    for name, target, origin in sorted(sources):
        try:
            summary = _load_target(target).summary()
        except Exception as exc:  # noqa: BLE001 - a broken plugin is listed, not fatal
            summary = f"(cannot load: {type(exc).__name__}: {exc})"
            log.warning("connector %s (%s) cannot be loaded: %s", name, target, exc)
        out.append(ConnectorInfo(name, origin, target, summary))
    return out
