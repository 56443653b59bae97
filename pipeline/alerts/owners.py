"""Who owns a subject: owners and display names of brands and topics, from their records."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core.brands import BrandConfig, load_brands
from pipeline.core.schema import Subject
from pipeline.core.taxonomy import Topic, load_taxonomy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OwnerDirectory:
    """Owners and display names of brands and topics."""

    brand_owners: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    topic_owners: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)
    """``brand:<id>`` -> brand name, ``topic:<id>`` -> topic label."""

    @classmethod
    def of(cls, brands: Iterable[BrandConfig], topics: Iterable[Topic]) -> OwnerDirectory:
        """Directory of loaded brand and topic records."""
        brand_owners: dict[str, tuple[str, ...]] = {}
        topic_owners: dict[str, tuple[str, ...]] = {}
        names: dict[str, str] = {}
        for b in brands:
            brand_owners[b.id] = tuple(b.owner)
            names[f"brand:{b.id}"] = b.name
        for t in topics:
            topic_owners[t.id] = t.owners
            names[f"topic:{t.id}"] = t.label
        return cls(brand_owners, topic_owners, names)

    @classmethod
    def from_files(cls, brands_file: Path | None, topics_file: Path | None) -> OwnerDirectory:
        """Directory of the brands and topics files (a missing file: a warning and no owners).

        Raises what :func:`load_brands` / :func:`load_taxonomy` raise for a file that is invalid.
        """
        brands = load_brands(brands_file) if brands_file and _present(brands_file, "brands") else []
        topics = load_taxonomy(topics_file) if topics_file and _present(topics_file, "topics") else []
        return cls.of(brands, topics)

    def owners_for(self, subject: Subject) -> tuple[str, ...]:
        """Owners of the subject's brand and topic (brand owners first), deduplicated."""
        brand = subject.brand_id or (subject.id if subject.kind == "brand" else None)
        topic = subject.topic_id or (subject.id if subject.kind == "topic" else None)
        found = [*self.brand_owners.get(brand or "", ()), *self.topic_owners.get(topic or "", ())]
        return tuple(dict.fromkeys(found))


def _present(path: Path, what: str) -> bool:
    if not Path(path).exists():
        log.warning("%s file %s not found: no %s owners", what, path, what)
        return False
    return True
