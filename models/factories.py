"""Every model implementation by name, per capability: the one place where the model names in
settings (``embedder``, ``sentiment_model``) resolve to code.

Nothing registers itself on import: the table below is the whole list. Heavy libraries (onnxruntime,
torch, spaCy, fastText) load inside the model classes or the factories, so importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, overload

from models.base import BrandMatcher, Capability, Embedder, LanguageIdentifier, SentimentScorer
from models.embedding import (
    DIM,
    MAX_LENGTH,
    N_LAYERS,
    HashEmbedder,
    OnnxMiniLMEmbedder,
    SentenceTransformerEmbedder,
)
from pipeline.core.brands import BrandConfig, load_brands

# -- embedders: callers pass ``cache_dir=settings.model_cache_dir`` and ``threads=settings.encoder_threads``
#    whatever the name; the ones that build nothing on disk or run no thread pool accept and ignore them.


def _onnx_minilm(cache_dir: Path | str, threads: int = 1, batch_size: int = 32,
                 max_length: int = MAX_LENGTH, allow_spinning: bool = False) -> Embedder:
    return OnnxMiniLMEmbedder(cache_dir, threads, batch_size, max_length, allow_spinning)


def _st_minilm(cache_dir: Path | str | None = None, batch_size: int = 32, max_length: int = MAX_LENGTH,
               threads: int | None = None) -> Embedder:
    return SentenceTransformerEmbedder(batch_size, max_length, threads)


def _hash(cache_dir: Path | str | None = None, dim: int = DIM, feature_layers: int = N_LAYERS,
          threads: int | None = None) -> Embedder:
    return HashEmbedder(dim, feature_layers)


# -- sentiment scorers
def _sentiment_default(artifact_dir: Path | str | None = None) -> SentimentScorer:
    from models.sentiment import DEFAULT_ARTIFACT
    from models.sentiment.scorer import DefaultSentimentScorer

    return DefaultSentimentScorer(artifact_dir or DEFAULT_ARTIFACT)


def _sentiment_vader(threshold: float = 0.05) -> SentimentScorer:
    from models.sentiment.scorer import VaderSentimentScorer

    return VaderSentimentScorer(threshold)


# -- brand matcher
def _spacy_matcher(brands_file: str | Path | None = None, brands: Sequence[BrandConfig] | None = None,
                   batch_size: int = 512) -> BrandMatcher:
    """A spaCy matcher compiled from ``brands`` or, failing that, the brands file ``brands_file``."""
    from models.brands.matcher import SpacyBrandMatcher

    if brands is None:
        if brands_file is None:
            raise ValueError("brand_matcher 'spacy' needs brands_file= or brands=")
        brands = load_brands(brands_file)
    return SpacyBrandMatcher(brands, batch_size=batch_size)


# -- language identification
def _langid_default(min_letters: int = 4, min_confidence: float = 0.3, max_chars: int = 512) -> LanguageIdentifier:
    from models.langid import FastTextLanguageIdentifier

    return FastTextLanguageIdentifier(min_letters, min_confidence, max_chars)


FACTORIES: dict[Capability, dict[str, Callable[..., object]]] = {
    "embedder": {"onnx-minilm": _onnx_minilm, "st-minilm": _st_minilm, "hash": _hash},
    "sentiment": {"default": _sentiment_default, "vader": _sentiment_vader},
    "brand_matcher": {"spacy": _spacy_matcher},
    "langid": {"default": _langid_default},
}


class Registry:
    """Builds a capability's implementation by name; :meth:`create` is typed per capability."""

    def __init__(self, factories: dict[Capability, dict[str, Callable[..., object]]]) -> None:
        self._factories = factories

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
            factory = self._factories[capability][name]
        except KeyError:
            raise ValueError(f"unknown {capability} {name!r}; known: {self.names(capability)}") from None
        return factory(**kwargs)

    def names(self, capability: Capability) -> list[str]:
        """The implementations of ``capability``, sorted."""
        return sorted(self._factories.get(capability, {}))


registry = Registry(FACTORIES)
