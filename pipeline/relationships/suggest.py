"""Which person should own a voice: the one whose topics and brands best match what the voice
talks about.

The score is a plain count, so anyone can check it: for each person, the voice's stored posts
about the person's topics plus those about the person's brands (a post about both counts twice:
it is closer to what they know).  Ties go to the person with fewer voices already, so the load
spreads; nobody matching means no suggestion (not "PR by default")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.core.roster import Person


@dataclass(frozen=True)
class Suggestion:
    person: str
    score: int
    reasons: tuple[str, ...]
    """``12 posts about battery``, ``5 posts about voltra`` — what the score is made of."""


def suggest_owner(topic_posts: Mapping[str, int], brand_posts: Mapping[str, int], people: Sequence[Person],
                  load: Mapping[str, int] | None = None) -> Suggestion | None:
    """The best-matching person for a voice whose posts touch ``topic_posts``/``brand_posts``
    (id -> number of its posts), or None when nobody's topics or brands appear."""
    load = load or {}
    best: tuple[tuple[int, int, str], Suggestion] | None = None
    for person in people:
        parts = [(topic_posts.get(t, 0), t) for t in person.topics] + [(brand_posts.get(b, 0), b) for b in person.brands]
        score = sum(n for n, _ in parts)
        if score <= 0:
            continue
        reasons = tuple(f"{n} post{'s' if n != 1 else ''} about {what}"
                        for n, what in sorted(parts, key=lambda x: (-x[0], x[1])) if n)
        key = (score, -load.get(person.name, 0), person.name)
        if best is None or key[:2] > best[0][:2] or (key[:2] == best[0][:2] and key[2] < best[0][2]):
            best = (key, Suggestion(person.name, score, reasons))
    return best[1] if best else None
