"""Brand mention matching and brand-targeted sentiment.

``import models.brands`` registers the ``"spacy"`` factory for capability ``"brand_matcher"``:
``registry.create("brand_matcher", "spacy", brands_file=path)`` or ``(..., brands=[BrandConfig])``.
spaCy itself is imported only when a matcher is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from models.base import registry
from models.brands.config import BrandConfig, BrandConfigError, load_brands, parse_brands
from models.brands.matcher import SpacyBrandMatcher, fold
from models.brands.query import QuerySyntaxError, parse, to_string
from models.brands.targeted import brand_sentiments, brand_sentiments_batch, split_clauses

__all__ = [
    "BrandConfig",
    "BrandConfigError",
    "QuerySyntaxError",
    "SpacyBrandMatcher",
    "brand_sentiments",
    "brand_sentiments_batch",
    "create_spacy_matcher",
    "fold",
    "load_brands",
    "parse",
    "parse_brands",
    "split_clauses",
    "to_string",
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
