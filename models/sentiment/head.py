"""Runtime of the default sentiment head: pure numpy/scipy inference over a saved artifact.

The head stacks three components, each giving class scores for (negative, neutral, positive):

* ``PooledMLP``: a one-hidden-layer MLP over the standardised 2688-d pooled MiniLM
  layer features (``features.pooled_layer_features`` / ``EncoderOutput.features``);
* ``NgramModel``: a TF-IDF (word 1-2 grams + char 2-5 grams) multinomial logistic model
  over lightly normalised text, stored as vocabulary + idf + weights;
* VADER scores (compound, pos, neu, neg), optional;

and a multinomial logistic ``stacker`` over the components' log-probabilities (+ VADER).
Everything is stored in one ``head.npz`` (no pickle) plus ``config.json``.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

CLASSES = ("negative", "neutral", "positive")
HEAD_FILE = "head.npz"
CONFIG_FILE = "config.json"

_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@\w+")
_REPEAT = re.compile(r"(\w)\1{2,}")
WORD_TOKEN_PATTERN = r"(?u)[\w@#']+|[^\w\s]+"


def normalize_text(text: str) -> str:
    """Normalise a post for the n-gram model: decode ``\\uXXXX`` escapes and HTML entities,
    URLs -> ``http``, mentions -> ``@user``, letter runs capped at 2, lower case."""
    text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    text = html.unescape(text)
    text = _URL.sub(" http ", text)
    text = _MENTION.sub("@user", text)
    text = _REPEAT.sub(r"\1\1", text)
    return text.lower()


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


@dataclass
class PooledMLP:
    """``log_softmax(W2 · gelu(W1 · (x - mean) / scale + b1) + b2)`` over pooled features."""

    mean: np.ndarray
    scale: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def log_proba(self, features: np.ndarray) -> np.ndarray:
        x = (np.asarray(features, dtype=np.float32) - self.mean) / self.scale
        h = _gelu(x @ self.w1 + self.b1)
        return log_softmax(h @ self.w2 + self.b2)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {
            f"{prefix}mean": self.mean.astype(np.float32), f"{prefix}scale": self.scale.astype(np.float32),
            f"{prefix}w1": self.w1.astype(np.float16), f"{prefix}b1": self.b1.astype(np.float32),
            f"{prefix}w2": self.w2.astype(np.float32), f"{prefix}b2": self.b2.astype(np.float32),
        }

    @classmethod
    def from_arrays(cls, a: Mapping[str, np.ndarray], prefix: str) -> PooledMLP:
        f32 = {k: np.asarray(a[prefix + k], dtype=np.float32) for k in ("mean", "scale", "w1", "b1", "w2", "b2")}
        return cls(**f32)


class NgramModel:
    """Sublinear TF-IDF over word and char_wb n-grams (each block L2-normalised) + linear layer."""

    def __init__(self, word_vocab: Sequence[str], char_vocab: Sequence[str], idf: np.ndarray,
                 coef: np.ndarray, intercept: np.ndarray, word_ngrams: tuple[int, int] = (1, 2),
                 char_ngrams: tuple[int, int] = (2, 5)) -> None:
        from sklearn.feature_extraction.text import CountVectorizer

        self.word_vocab = list(word_vocab)
        self.char_vocab = list(char_vocab)
        self.word_ngrams = tuple(word_ngrams)
        self.char_ngrams = tuple(char_ngrams)
        self.idf = np.asarray(idf, dtype=np.float32)
        self.coef = np.asarray(coef, dtype=np.float32)  # (n_features, 3)
        self.intercept = np.asarray(intercept, dtype=np.float32)
        self._word = CountVectorizer(
            vocabulary={t: i for i, t in enumerate(self.word_vocab)}, ngram_range=self.word_ngrams,
            token_pattern=WORD_TOKEN_PATTERN, lowercase=False, dtype=np.float32,
        )
        self._char = CountVectorizer(
            vocabulary={t: i for i, t in enumerate(self.char_vocab)}, analyzer="char_wb",
            ngram_range=self.char_ngrams, lowercase=False, dtype=np.float32,
        )

    def transform(self, normalized: Sequence[str]) -> sp.csr_matrix:
        """Sparse TF-IDF matrix of already-normalised texts (same as the training vectorisers)."""
        import scipy.sparse as sp
        from sklearn.preprocessing import normalize

        blocks = []
        offset = 0
        for vec, size in ((self._word, len(self.word_vocab)), (self._char, len(self.char_vocab))):
            counts = vec.transform(normalized).tocsr()
            counts.data = (1.0 + np.log(counts.data)) * self.idf[offset + counts.indices]
            blocks.append(normalize(counts, norm="l2", copy=False))
            offset += size
        return sp.hstack(blocks, format="csr")

    def log_proba(self, normalized: Sequence[str]) -> np.ndarray:
        return log_softmax(np.asarray(self.transform(normalized) @ self.coef) + self.intercept)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {
            f"{prefix}word_vocab": np.array(self.word_vocab, dtype=str),
            f"{prefix}char_vocab": np.array(self.char_vocab, dtype=str),
            f"{prefix}idf": self.idf.astype(np.float16), f"{prefix}coef": self.coef.astype(np.float16),
            f"{prefix}intercept": self.intercept.astype(np.float32),
        }

    @classmethod
    def from_arrays(cls, a: Mapping[str, np.ndarray], prefix: str, word_ngrams: Sequence[int],
                    char_ngrams: Sequence[int]) -> NgramModel:
        return cls(
            a[prefix + "word_vocab"].tolist(), a[prefix + "char_vocab"].tolist(), a[prefix + "idf"],
            a[prefix + "coef"], a[prefix + "intercept"],
            word_ngrams=(int(word_ngrams[0]), int(word_ngrams[1])),
            char_ngrams=(int(char_ngrams[0]), int(char_ngrams[1])),
        )


_vader: SentimentIntensityAnalyzer | None = None


def vader_features(texts: Sequence[str]) -> np.ndarray:
    """``(n, 4)`` VADER (compound, pos, neu, neg) of the raw texts."""
    global _vader
    if _vader is None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        _vader = SentimentIntensityAnalyzer()
    out = np.empty((len(texts), 4), dtype=np.float32)
    for i, t in enumerate(texts):
        d = _vader.polarity_scores(t)
        out[i] = (d["compound"], d["pos"], d["neu"], d["neg"])
    return out


@dataclass
class Stacker:
    """Multinomial logistic layer over concatenated component outputs."""

    coef: np.ndarray  # (k, 3)
    intercept: np.ndarray  # (3,)

    def log_proba(self, z: np.ndarray) -> np.ndarray:
        return log_softmax(z @ self.coef + self.intercept)


class SentimentHead:
    """The stacked head. ``proba(texts, features)`` -> ``(n, 3)`` class probabilities."""

    def __init__(self, mlp: PooledMLP, ngram: NgramModel, stacker: Stacker, use_vader: bool,
                 config: dict[str, Any] | None = None) -> None:
        self.mlp = mlp
        self.ngram = ngram
        self.stacker = stacker
        self.use_vader = use_vader
        self.config = dict(config or {})

    def stack_inputs(self, texts: Sequence[str], features: np.ndarray) -> np.ndarray:
        """Concatenate component outputs: MLP log-probs, n-gram log-probs (+ VADER)."""
        parts = [self.mlp.log_proba(features), self.ngram.log_proba([normalize_text(t) for t in texts])]
        if self.use_vader:
            parts.append(vader_features(texts))
        return np.hstack(parts).astype(np.float32)

    def proba(self, texts: Sequence[str], features: np.ndarray) -> np.ndarray:
        if len(texts) != len(features):
            raise ValueError(f"{len(texts)} texts but {len(features)} feature rows")
        if len(texts) == 0:
            return np.zeros((0, 3), dtype=np.float32)
        return np.exp(self.stacker.log_proba(self.stack_inputs(texts, features)))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {**self.mlp.arrays("mlp_"), **self.ngram.arrays("ngram_"),
                  "stack_coef": self.stacker.coef.astype(np.float32),
                  "stack_intercept": self.stacker.intercept.astype(np.float32)}
        np.savez_compressed(directory / HEAD_FILE, allow_pickle=False, **arrays)  # plain arrays: no pickles
        config = {**self.config, "classes": list(CLASSES), "use_vader": self.use_vader,
                  "word_ngrams": list(self.ngram.word_ngrams), "char_ngrams": list(self.ngram.char_ngrams)}
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path | str) -> SentimentHead:
        directory = Path(directory)
        config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
        with np.load(directory / HEAD_FILE, allow_pickle=False) as a:
            mlp = PooledMLP.from_arrays(a, "mlp_")
            ngram = NgramModel.from_arrays(a, "ngram_", config["word_ngrams"], config["char_ngrams"])
            stacker = Stacker(np.asarray(a["stack_coef"], np.float32), np.asarray(a["stack_intercept"], np.float32))
        return cls(mlp, ngram, stacker, bool(config["use_vader"]), config)
