"""Interfaces for every NLP capability, and the name -> factory registry.

Business code depends on these protocols only; concrete models are chosen from
settings by name (``registry.create("embedder", "onnx-minilm")``). Heavy
libraries are imported inside factories so importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar, overload, runtime_checkable

import numpy as np

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
    label: str  # negative | neutral | positive | unsupported
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


FactoryT = TypeVar("FactoryT", bound=Callable[..., object])


@dataclass
class Registry:
    """Explicit name -> factory map per capability. No string-matching of class names.

    :meth:`create` is typed per capability: ``create("embedder", ...)`` is an :class:`Embedder`.
    """

    factories: dict[str, dict[str, Callable[..., object]]] = field(default_factory=dict)

    def register(self, capability: Capability, name: str) -> Callable[[FactoryT], FactoryT]:
        def deco(fn: FactoryT) -> FactoryT:
            self.factories.setdefault(capability, {})[name] = fn
            return fn

        return deco

    @overload
    def create(self, capability: Literal["embedder"], name: str, **kwargs: object) -> Embedder: ...

    @overload
    def create(self, capability: Literal["sentiment"], name: str, **kwargs: object) -> SentimentScorer: ...

    @overload
    def create(self, capability: Literal["brand_matcher"], name: str, **kwargs: object) -> BrandMatcher: ...

    @overload
    def create(self, capability: Literal["langid"], name: str, **kwargs: object) -> LanguageIdentifier: ...

    def create(self, capability: Capability, name: str, **kwargs: object) -> object:
        """Build the ``name`` implementation of ``capability`` with the factory's options."""
        try:
            factory = self.factories[capability][name]
        except KeyError:
            known = sorted(self.factories.get(capability, {}))
            raise ValueError(f"unknown {capability} {name!r}; known: {known}") from None
        return factory(**kwargs)

    def names(self, capability: Capability) -> list[str]:
        return sorted(self.factories.get(capability, {}))


registry = Registry()
