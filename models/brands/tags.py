"""Brand names inside compound handles and hashtags: ``@GovChristie``, ``#AppleWatch``, ``@SenTedCruz``.

Real posts name a brand through compound tags far more often than through its one official
handle: a reply to ``@AppleSupport``, a ``#TedCruz2016`` hashtag, the governor's ``@GovChristie``.
A tag is split into its words where its writer marked them, by capital letters and digits
(``@MikeHuckabeeGOP`` -> ``Mike Huckabee GOP``, ``#iPhone6Plus`` -> ``i Phone 6 Plus``); a name,
alias or misspelling matches when consecutive words of the tag spell it (spaces and case
ignored: ``Ted Cruz`` in ``@SenTedCruz``, ``iPhone`` in ``#iPhone6Plus``). An all-lowercase
or single-word tag (``@voltcartfan``, ``#skywayfail``) has no marked words and matches only as the
exact tag, as before: guessing word breaks in ``#applepie`` is where false mentions come from.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["TAG", "TagIndex", "tag_words"]

CharSpan = tuple[int, int]
TAG = re.compile(r"[@#]\w+")
"""A handle or hashtag as the tokenizer cuts it: it ends at its first non-word character."""


def tag_words(tag: str) -> list[str]:
    """Words of a ``@handle`` or ``#hashtag`` split at case and digit boundaries and ``_``,
    case kept: ``"#GOPDebate2015"`` -> ``["GOP", "Debate", "2015"]``, ``"@sen_ted_cruz"`` -> 3 words."""
    words: list[str] = []
    for part in tag.lstrip("@#").split("_"):
        start = 0
        for i in range(1, len(part)):
            prev, ch = part[i - 1], part[i]
            nxt = part[i + 1] if i + 1 < len(part) else ""
            if (
                prev.isdigit() != ch.isdigit()  # "Trump|2016"
                or (prev.islower() and ch.isupper())  # "Gov|Christie"
                or (prev.isupper() and ch.isupper() and nxt.islower())  # "GOP|Debate"
            ):
                words.append(part[start:i])
                start = i
        if part[start:]:
            words.append(part[start:])
    return words


class TagIndex:
    """Surface forms (their words' norms, joined) -> the pattern they compile to."""

    def __init__(self, norm: Callable[[str], str]) -> None:
        self._norm = norm
        self._forms: dict[str, int] = {}

    def add(self, words: tuple[str, ...], pattern: int) -> None:
        """Index a name, alias or misspelling (its tokens' norms) under its pattern index."""
        if words and not words[0].startswith(("@", "#")):
            self._forms.setdefault("".join(words), pattern)

    def find(self, text: str) -> dict[int, list[CharSpan]]:
        """Pattern index -> character spans of the tags in ``text`` whose marked words spell the
        form; a tag of fewer than two words spells none."""
        out: dict[int, list[CharSpan]] = {}
        if not self._forms:
            return out
        for m in TAG.finditer(text):
            body = m.group()[1:]
            if body.isalpha() and (body.islower() or body.isupper()):
                continue  # one word: exact tags are the phrase matcher's
            words = [w.lower() if w.isascii() else self._norm(w) for w in tag_words(body)]
            if len(words) < 2:
                continue
            for s in range(len(words)):
                for e in range(s + 1, len(words) + 1):
                    pidx = self._forms.get("".join(words[s:e]))
                    if pidx is not None and m.span() not in out.get(pidx, ()):
                        out.setdefault(pidx, []).append(m.span())
        return out
