"""3-class sentiment (negative / neutral / positive) for social posts.

Importing this package registers two scorers under capability ``"sentiment"``:

* ``"default"``: a small stacked head over frozen all-MiniLM-L6-v2 layer features,
  an n-gram linear model and VADER scores (artifact in ``artifacts/default/``);
* ``"vader"``: the VADER lexicon baseline.

Heavy libraries load inside the factories, so importing this package is cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from models.base import registry

if TYPE_CHECKING:
    from models.sentiment.scorer import DefaultSentimentScorer, VaderSentimentScorer

DEFAULT_ARTIFACT = Path(__file__).resolve().parent / "artifacts" / "default"


@registry.register("sentiment", "default")
def _create_default(artifact_dir: Path | str | None = None) -> DefaultSentimentScorer:
    from models.sentiment.scorer import DefaultSentimentScorer

    return DefaultSentimentScorer(artifact_dir or DEFAULT_ARTIFACT)


@registry.register("sentiment", "vader")
def _create_vader(threshold: float = 0.05) -> VaderSentimentScorer:
    from models.sentiment.scorer import VaderSentimentScorer

    return VaderSentimentScorer(threshold)


__all__ = ["DEFAULT_ARTIFACT"]
