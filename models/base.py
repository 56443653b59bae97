"""Interfaces for every NLP capability.

Business code depends on these protocols only; concrete models are chosen from settings by
name through :data:`models.factories.registry` (``registry.create("embedder", "onnx-minilm")``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from pipeline.core.schema import SentimentLabel

Capability = Literal["embedder", "sentiment", "brand_matcher", "langid"]
"""What :data:`registry` builds; each has its interface below."""


@dataclass(frozen=True)
class PostInput:
    """The fields taggers may look at (decoupled from the Kafka message schema)."""

    text: str
    lang: str | None = None
    author_handle: str = ""
    author_id: str = ""
    source: str = ""


@dataclass(frozen=True)
class EncoderOutput:
    """One encoder pass over a batch.

    ``embeddings``: (n, d) float32, L2-normalised sentence embeddings.
    ``features``: optional (n, k) float32 extra features for heads that share the pass
    (e.g. pooled intermediate layers for the sentiment head); ``None`` if not produced.
    """

    embeddings: np.ndarray
    features: np.ndarray | None = None


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> EncoderOutput:
        """Encode ``texts`` in one pass; row i of every array belongs to ``texts[i]``."""
        ...


@dataclass(frozen=True)
class SentimentResult:
    label: SentimentLabel  # negative | neutral | positive | unsupported (unscored: not scored)
    score: float  # [-1, 1], negative..positive
    confidence: float  # [0, 1]


@runtime_checkable
class SentimentScorer(Protocol):
    name: str

    def score(
        self, texts: Sequence[str], encoded: EncoderOutput | None = None,
        langs: Sequence[str | None] | None = None,
    ) -> list[SentimentResult]:
        """Score each text; non-English texts get label ``unsupported``; may reuse ``encoded``."""
        ...


@dataclass(frozen=True)
class BrandHit:
    brand_id: str
    matched_text: str
    start: int
    end: int
    rule: str


@runtime_checkable
class BrandMatcher(Protocol):
    def match(self, posts: Sequence[PostInput]) -> list[list[BrandHit]]:
        """Return the brand hits of each post (deduplicated per brand span)."""
        ...


@runtime_checkable
class TopicTagger(Protocol):
    def tag(self, embeddings: np.ndarray) -> list[list[tuple[str, float]]]:
        """Multi-label topics ``(topic_id, score)`` for each row of ``embeddings``."""
        ...


@runtime_checkable
class LanguageIdentifier(Protocol):
    def identify(self, texts: Sequence[str]) -> list[str]:
        """ISO 639-1 code per text, ``und`` when unsure."""
        ...
