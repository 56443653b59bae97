"""Durable per-stream cursor state.

State lives in ``<state_dir>/<instance>/<stream>.json`` (``state_dir`` defaults to
``.data/connectors``; ``instance`` defaults to the connector name). Each file holds the cursor,
extra values the stream recorded, and a bounded list of recently seen primary keys used to skip
duplicates after a restart. Files are replaced atomically (write temp, fsync, rename, fsync dir),
so a crash leaves either the old or the new state, never a torn file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.base import Cursor

DEFAULT_STATE_DIR = Path(".data/connectors")
DEFAULT_SEEN_CAPACITY = 20_000
STATE_FORMAT = 1

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A file-system-safe version of a stream or connector name."""
    cleaned = _SAFE.sub("_", name).strip("._")
    return cleaned or "default"


class SeenIds:
    """Insertion-ordered set of the last ``capacity`` ids (oldest evicted first)."""

    def __init__(self, ids: Iterable[str] = (), capacity: int = DEFAULT_SEEN_CAPACITY) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        for i in ids:
            self.add(i)

    def __contains__(self, key: object) -> bool:
        return key in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, key: str) -> None:
        if key in self._ids:
            self._ids.move_to_end(key)
            return
        self._ids[key] = None
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)

    def to_list(self) -> list[str]:
        return list(self._ids)


@dataclass
class StreamState:
    """What is persisted for one stream."""

    cursor: Cursor = None
    extra: dict[str, Any] = field(default_factory=dict)
    seen: SeenIds = field(default_factory=SeenIds)

    def view(self) -> dict[str, Any]:
        """The mapping handed to ``Stream.read``: extra values plus ``cursor``."""
        return {**self.extra, "cursor": self.cursor}

    def to_json(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "cursor": self.cursor, "extra": self.extra, "seen": self.seen.to_list()}


class StateStore:
    """Load and atomically save :class:`StreamState` files for one connector instance."""

    def __init__(self, state_dir: Path, instance: str, seen_capacity: int = DEFAULT_SEEN_CAPACITY) -> None:
        self.dir = Path(state_dir) / safe_name(instance)
        self.seen_capacity = seen_capacity

    def path(self, stream: str) -> Path:
        return self.dir / f"{safe_name(stream)}.json"

    def load(self, stream: str) -> StreamState:
        """The saved state, or an empty one when there is none. A corrupt file raises ``ValueError``."""
        path = self.path(stream)
        if not path.exists():
            return StreamState(seen=SeenIds(capacity=self.seen_capacity))
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"corrupt connector state {path}: {exc}; move it away to start over") from exc
        return StreamState(
            cursor=data.get("cursor"),
            extra=dict(data.get("extra") or {}),
            seen=SeenIds(data.get("seen") or [], capacity=self.seen_capacity),
        )

    def save(self, stream: str, state: StreamState) -> None:
        """Write the state atomically and durably."""
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.path(stream)
        payload = json.dumps(state.to_json(), separators=(",", ":"), default=str).encode()
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=self.dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
