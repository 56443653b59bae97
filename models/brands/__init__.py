"""Brand mention matching and brand-targeted sentiment.

The spaCy matcher is built by name through :data:`models.factories.registry`:
``registry.create("brand_matcher", "spacy", brands_file=path)`` or ``(..., brands=[BrandConfig])``.
spaCy itself is imported only when a matcher is built. The brands file itself (records, query
grammar, validation) is read by :mod:`pipeline.core.brands`; this package compiles those records.
"""

from __future__ import annotations

from models.brands.matcher import SpacyBrandMatcher, fold
from models.brands.targeted import brand_sentiments, brand_sentiments_batch, split_clauses

__all__ = [
    "SpacyBrandMatcher",
    "brand_sentiments",
    "brand_sentiments_batch",
    "fold",
    "split_clauses",
]
