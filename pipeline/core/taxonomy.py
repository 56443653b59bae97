"""The topics file (``HYPERMICRO_TOPICS_FILE``): the one loader of topic records.

A topics file is ``{"topics": [{id, label, description, examples?, owner?}, ...]}`` (see
``docs/topics.md``). The topic tagger (``models.topics``) builds prototypes from the records and
alert routing reads their owners; both get them from :func:`load_taxonomy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class TaxonomyError(ValueError):
    """A topics file that cannot be used; the message names the file and the first problem."""


@dataclass(frozen=True)
class Topic:
    """One taxonomy entry; ``owners`` are the people/teams its alerts route to."""

    id: str
    label: str
    description: str
    examples: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()

    @property
    def owner(self) -> str | None:
        """The owners as one display string (``"a, b"``), None when the topic has none."""
        return ", ".join(self.owners) or None


def _owners(value: Any, where: str) -> tuple[str, ...]:
    """``owner:`` as a string or a list of strings; blanks dropped."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value.strip(),) if value.strip() else ()
    if isinstance(value, list):
        return tuple(str(v).strip() for v in value if v is not None and str(v).strip())
    raise TaxonomyError(f"{where}: owner must be a string or a list of strings, got {value!r}")


def load_taxonomy(path: Path | str) -> list[Topic]:
    """Read and validate a topics file; ids must be unique, label and description non-empty.

    Raises ``OSError`` (unreadable), ``yaml.YAMLError`` (not YAML) or :class:`TaxonomyError`.
    """
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    entries = data.get("topics") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise TaxonomyError(f"{path}: expected a non-empty 'topics' list")
    topics: list[Topic] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise TaxonomyError(f"{path}: topic #{i} is not a mapping")
        tid = str(entry.get("id", "")).strip()
        label = str(entry.get("label", "")).strip()
        desc = " ".join(str(entry.get("description", "")).split())
        if not tid or not label or not desc:
            raise TaxonomyError(f"{path}: topic #{i} needs id, label and description")
        if tid in seen:
            raise TaxonomyError(f"{path}: duplicate topic id {tid!r}")
        seen.add(tid)
        examples = entry.get("examples") or []
        if not isinstance(examples, list):
            raise TaxonomyError(f"{path}: examples of {tid!r} must be a list")
        owners = _owners(entry.get("owner"), f"{path}: topic {tid!r}")
        topics.append(Topic(tid, label, desc, tuple(str(e) for e in examples), owners))
    return topics
