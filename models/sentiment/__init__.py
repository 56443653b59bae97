"""3-class sentiment (negative / neutral / positive) for social posts.

Importing this package registers two scorers under capability ``"sentiment"``:

* ``"default"``: a small stacked head over frozen all-MiniLM-L6-v2 layer features,
  an n-gram linear model and VADER scores (artifact in ``artifacts/default/``);
* ``"vader"``: the VADER lexicon baseline.

Heavy libraries load inside the factories, so importing this package is cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.base import registry

DEFAULT_ARTIFACT = Path(__file__).resolve().parent / "artifacts" / "default"


@registry.register("sentiment", "default")
def _create_default(artifact_dir: Path | str | None = None, **kwargs: Any) -> Any:
    from models.sentiment.scorer import DefaultSentimentScorer

    return DefaultSentimentScorer(artifact_dir or DEFAULT_ARTIFACT, **kwargs)


@registry.register("sentiment", "vader")
def _create_vader(**kwargs: Any) -> Any:
    from models.sentiment.scorer import VaderSentimentScorer

    return VaderSentimentScorer(**kwargs)


__all__ = ["DEFAULT_ARTIFACT"]
