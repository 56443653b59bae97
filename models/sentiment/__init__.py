"""3-class sentiment (negative / neutral / positive) for social posts.

Two scorers, built by name through :data:`models.factories.registry` (capability ``"sentiment"``):

* ``"default"``: a small stacked head over frozen all-MiniLM-L6-v2 layer features,
  an n-gram linear model and VADER scores (artifact in ``artifacts/default/``);
* ``"vader"``: the VADER lexicon baseline.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_ARTIFACT = Path(__file__).resolve().parent / "artifacts" / "default"

__all__ = ["DEFAULT_ARTIFACT"]
