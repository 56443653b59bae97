"""Sentiment scorers: the default stacked head and the VADER lexicon baseline.

Both implement ``models.base.SentimentScorer``. Posts whose language is known and not
English get ``SentimentResult("unsupported", 0.0, 0.0)``; ``None``, ``"und"`` and
``en``/``en-*`` are English-eligible.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.base import EncoderOutput, SentimentResult
from pipeline.core.schema import SentimentLabel

UNSUPPORTED = SentimentResult(label="unsupported", score=0.0, confidence=0.0)
_CLASSES: tuple[SentimentLabel, ...] = ("negative", "neutral", "positive")


def english_eligible(lang: str | None) -> bool:
    """True for ``None``, ``"und"``, ``"en"`` and regional English tags (``en-GB``, ``en_US``)."""
    if lang is None:
        return True
    code = lang.strip().lower().replace("_", "-")
    return code in ("", "und", "en") or code.startswith("en-")


def _eligible_mask(n: int, langs: Sequence[str | None] | None) -> np.ndarray:
    if langs is None:
        return np.ones(n, dtype=bool)
    if len(langs) != n:
        raise ValueError(f"{n} texts but {len(langs)} langs")
    return np.array([english_eligible(lang) for lang in langs], dtype=bool)


def results_from_proba(proba: np.ndarray) -> list[SentimentResult]:
    """Label = argmax; score = P(positive) - P(negative); confidence = max probability."""
    out = []
    for p in np.asarray(proba, dtype=np.float64):
        k = int(p.argmax())
        out.append(SentimentResult(label=_CLASSES[k], score=float(np.clip(p[2] - p[0], -1.0, 1.0)),
                                   confidence=float(p[k])))
    return out


class DefaultSentimentScorer:
    """Stacked head (pooled MiniLM layers MLP + n-gram model + VADER) from ``artifact_dir``.

    Reuses ``encoded.features`` (the one-encoder-pass contract of ``features.pooled_layer_features``)
    when given; otherwise computes the features with the torch reference path.
    """

    name = "default"

    def __init__(self, artifact_dir: Path | str) -> None:
        from models.sentiment.head import SentimentHead

        self.artifact_dir = Path(artifact_dir)
        self.head = SentimentHead.load(self.artifact_dir)

    def score(
        self, texts: Sequence[str], encoded: EncoderOutput | None = None,
        langs: Sequence[str | None] | None = None,
    ) -> list[SentimentResult]:
        """Score each text; non-English texts get ``unsupported`` (score 0)."""
        texts = list(texts)
        mask = _eligible_mask(len(texts), langs)
        results: list[SentimentResult] = [UNSUPPORTED] * len(texts)
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return results
        features = encoded.features if encoded is not None else None
        if features is not None and len(features) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(features)} feature rows")
        sub_texts = [texts[i] for i in idx]
        if features is None:
            from models.sentiment.features import pooled_layer_features

            sub_feats = pooled_layer_features(sub_texts)
        else:
            sub_feats = np.asarray(features, dtype=np.float32)[idx]
        for i, r in zip(idx, results_from_proba(self.head.proba(sub_texts, sub_feats)), strict=True):
            results[i] = r
        return results


class VaderSentimentScorer:
    """VADER lexicon baseline: compound >= 0.05 positive, <= -0.05 negative, else neutral.

    ``score`` = compound; ``confidence`` = |compound| for polar labels, 1 - |compound| for neutral.
    """

    name = "vader"

    def __init__(self, threshold: float = 0.05) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.threshold = threshold
        self._analyzer = SentimentIntensityAnalyzer()

    def score(
        self, texts: Sequence[str], encoded: EncoderOutput | None = None,
        langs: Sequence[str | None] | None = None,
    ) -> list[SentimentResult]:
        """Score each text with VADER; non-English texts get ``unsupported``; ``encoded`` is unused."""
        texts = list(texts)
        mask = _eligible_mask(len(texts), langs)
        out: list[SentimentResult] = []
        for text, ok in zip(texts, mask, strict=True):
            if not ok:
                out.append(UNSUPPORTED)
                continue
            c = float(self._analyzer.polarity_scores(text)["compound"])
            if c >= self.threshold:
                out.append(SentimentResult("positive", c, abs(c)))
            elif c <= -self.threshold:
                out.append(SentimentResult("negative", c, abs(c)))
            else:
                out.append(SentimentResult("neutral", c, 1.0 - abs(c)))
        return out
