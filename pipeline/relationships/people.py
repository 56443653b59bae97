"""The ``people`` file: who can own voices, with the brands and topics they know.

Format (YAML)::

    people:
      - name: alice
        email: alice@example.com
        topics: [battery, charging]
        brands: [voltra]
        digest: daily        # off | hourly | daily | weekly
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from pipeline.core.roster import Person


def load_people(path: Path | None) -> list[Person]:
    """People from ``path`` (none when ``path`` is None); a clear error names the bad entry."""
    if path is None:
        return []
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(doc, dict) or not isinstance(doc.get("people", []), list):
        raise ValueError(f"{path}: expected a mapping with a 'people' list")
    out: list[Person] = []
    for i, entry in enumerate(doc.get("people", [])):
        try:
            out.append(Person.model_validate(entry))
        except ValidationError as exc:
            raise ValueError(f"{path}: people[{i}] is invalid: {exc.errors()[0]['msg']}") from exc
    names = [p.name for p in out]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: a person is listed twice")
    return out
