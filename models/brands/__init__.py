"""Brand mention matching and brand-targeted sentiment.

``import models.brands`` registers the ``"spacy"`` factory for capability ``"brand_matcher"``:
``registry.create("brand_matcher", "spacy", brands_file=path)`` or ``(..., brands=[BrandConfig])``.
spaCy itself is imported only when a matcher is built. The brands file itself (records, query
grammar, validation) is read by :mod:`pipeline.core.brands`; this package compiles those records.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from models.base import registry
from models.brands.matcher import SpacyBrandMatcher, fold
from models.brands.targeted import brand_sentiments, brand_sentiments_batch, split_clauses
from pipeline.core.brands import BrandConfig, load_brands

__all__ = [
    "SpacyBrandMatcher",
    "brand_sentiments",
    "brand_sentiments_batch",
    "create_spacy_matcher",
    "fold",
    "split_clauses",
]


@registry.register("brand_matcher", "spacy")
def create_spacy_matcher(
    brands_file: str | Path | None = None,
    brands: Sequence[BrandConfig] | None = None,
    batch_size: int = 512,
) -> SpacyBrandMatcher:
    """Build a :class:`SpacyBrandMatcher` from ``brands`` or, failing that, ``brands_file``."""
    if brands is None:
        if brands_file is None:
            raise ValueError("brand_matcher 'spacy' needs brands_file= or brands=")
        brands = load_brands(brands_file)
    return SpacyBrandMatcher(brands, batch_size=batch_size)
