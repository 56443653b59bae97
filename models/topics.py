"""Multi-label topic tagging with sentence-embedding prototypes (zero/few-shot).

Each topic of a YAML taxonomy (``topics: [{id, label, description, examples?, owner?}]``, read by
:func:`pipeline.core.taxonomy.load_taxonomy`) gets a prototype: the normalised mean embedding of ``"label: description"`` and its
examples. A post's score for a topic is the cosine between its embedding and the topic's
centroid. Without calibration the centroid is the prototype and a post gets every topic
whose score clears an absolute floor and lies within a margin of its best topic.

A calibration (fitted by :func:`calibrate` on labelled posts, stored as an artifact) adds,
per topic, the mean embedding of its positive examples (blended with the prototype with
weight ``n / (n + n0)``, so rare topics lean on their description) and a threshold, plus
the global margin/floor and the minimum number of labels per post. Only these derived
numbers are stored, never the posts.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.base import Embedder
from pipeline.core.taxonomy import Topic, load_taxonomy

log = logging.getLogger(__name__)

DEFAULT_MARGIN = 0.1
"""Uncalibrated: keep topics scoring within this cosine of the post's best topic..."""
DEFAULT_FLOOR = 0.2
"""...and at least this cosine (so off-topic posts get no topic)."""
DEFAULT_MAX_LABELS = 3
CALIBRATION_FILE = "calibration.json"
CENTROIDS_FILE = "centroids.npz"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "topics"
"""Shipped calibrations, one folder per taxonomy file stem (``tweet_topic/`` for ``tweet_topic.yaml``)."""


def shipped_calibration(taxonomy: Path | str) -> Path | None:
    """The shipped calibration folder for a taxonomy file (by file stem), or ``None``."""
    folder = ARTIFACTS / Path(taxonomy).stem
    return folder if (folder / CALIBRATION_FILE).exists() else None


def prototype_texts(topic: Topic) -> list[str]:
    """Texts whose mean embedding is the topic's zero-shot prototype."""
    return [f"{topic.label}: {topic.description}", *topic.examples]


def fingerprint(topic: Topic) -> str:
    """Hash of the fields the prototype depends on (to detect stale calibrations)."""
    return hashlib.sha256(json.dumps(prototype_texts(topic)).encode()).hexdigest()[:16]


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def topic_prototypes(topics: Sequence[Topic], embedder: Embedder) -> np.ndarray:
    """``(k, d)`` unit prototypes: normalised mean embedding of each topic's prototype texts."""
    texts: list[str] = []
    owners: list[int] = []
    for k, topic in enumerate(topics):
        for text in prototype_texts(topic):
            texts.append(text)
            owners.append(k)
    emb = embedder.encode(texts).embeddings
    owner_idx = np.asarray(owners)
    protos = np.stack([emb[owner_idx == k].mean(axis=0) for k in range(len(topics))])
    return _normalise(protos)


def blend_centroids(prototypes: np.ndarray, pos_means: np.ndarray, counts: np.ndarray, n0: float) -> np.ndarray:
    """Few-shot centroids: ``normalise(a * prototype + (1 - a) * normalise(mean))`` with ``a = n0 / (n0 + n)``."""
    counts = np.asarray(counts, dtype=np.float32)[:, None]
    a = n0 / (n0 + counts)
    means = np.where(counts > 0, _normalise(pos_means), 0.0)
    return _normalise(a * prototypes + (1.0 - a) * means)


@dataclass
class Calibration:
    """Derived parameters fitted on labelled posts (no raw text)."""

    topic_ids: list[str]
    thresholds: list[float]
    counts: list[int]
    pos_means: np.ndarray  # (k, d) mean embedding of each topic's positives (zeros if none)
    n0: float
    margin: float
    floor: float
    min_labels: int
    max_labels: int
    embedder: str = ""
    fingerprints: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def save(self, directory: Path | str) -> None:
        """Write ``calibration.json`` and ``centroids.npz`` (float16 means) into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {k: v for k, v in asdict(self).items() if k != "pos_means"}
        (directory / CALIBRATION_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        np.savez_compressed(directory / CENTROIDS_FILE, pos_means=self.pos_means.astype(np.float16))

    @classmethod
    def load(cls, directory: Path | str) -> Calibration:
        """Read a calibration written by :meth:`save`."""
        directory = Path(directory)
        meta = json.loads((directory / CALIBRATION_FILE).read_text())
        with np.load(directory / CENTROIDS_FILE) as npz:
            pos_means = npz["pos_means"].astype(np.float32)
        return cls(pos_means=pos_means, **meta)


class EmbeddingTopicTagger:
    """``TopicTagger`` over sentence embeddings: cosine to (few-shot) topic centroids + decision rule.

    A topic ``k`` is kept for a post when ``score_k >= max(threshold_k, floor)`` and
    ``score_k >= best_score - margin``; at most ``max_labels`` topics are kept, and when
    ``min_labels`` is 1 the topic with the largest ``score - threshold`` is kept even if
    nothing clears its bar. Scores are cosines.
    """

    def __init__(
        self, topics: Sequence[Topic], centroids: np.ndarray, thresholds: Sequence[float] | None = None,
        margin: float = DEFAULT_MARGIN, floor: float = DEFAULT_FLOOR, min_labels: int = 0,
        max_labels: int = DEFAULT_MAX_LABELS,
    ) -> None:
        if len(topics) != len(centroids):
            raise ValueError("one centroid per topic")
        self.topics = list(topics)
        self.topic_ids = [t.id for t in topics]
        self.centroids = _normalise(centroids)
        th = np.full(len(topics), -np.inf) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
        self.thresholds = np.maximum(th, floor)
        self.margin = margin
        self.floor = floor
        self.min_labels = min_labels
        self.max_labels = max_labels

    @classmethod
    def from_yaml(
        cls, path: Path | str, embedder: Embedder, calibration: Path | str | None = "auto", **rule: Any,
    ) -> EmbeddingTopicTagger:
        """Build from a taxonomy YAML; ``calibration`` is an artifact directory from :func:`calibrate`.

        ``"auto"`` (default) uses the shipped calibration of that taxonomy if there is one
        (:func:`shipped_calibration`); ``None`` forces the uncalibrated rule, which ``rule``
        may override (``margin``, ``floor``, ``min_labels``, ``max_labels``).
        """
        topics = load_taxonomy(path)
        protos = topic_prototypes(topics, embedder)
        if calibration == "auto":
            calibration = shipped_calibration(path)
        if calibration is None:
            return cls(topics, protos, **rule)
        cal = Calibration.load(calibration)
        return cls.from_calibration(topics, protos, cal, embedder_name=getattr(embedder, "name", ""))

    @classmethod
    def from_calibration(
        cls, topics: Sequence[Topic], prototypes: np.ndarray, cal: Calibration, embedder_name: str = "",
    ) -> EmbeddingTopicTagger:
        """Combine current prototypes with a calibration; uncalibrated topics use the prototype + floor."""
        if cal.pos_means.shape[1] != prototypes.shape[1]:
            raise ValueError(f"calibration dim {cal.pos_means.shape[1]} != embedder dim {prototypes.shape[1]}")
        if cal.embedder and embedder_name and cal.embedder != embedder_name:
            log.warning("topic calibration fitted with %s, used with %s", cal.embedder, embedder_name)
        index = {tid: i for i, tid in enumerate(cal.topic_ids)}
        k, d = prototypes.shape
        means = np.zeros((k, d), dtype=np.float32)
        counts = np.zeros(k, dtype=np.float32)
        thresholds = np.full(k, -np.inf)
        for j, topic in enumerate(topics):
            i = index.get(topic.id)
            if i is None:
                log.warning("topic %s has no calibration: zero-shot prototype only", topic.id)
                continue
            if cal.fingerprints.get(topic.id) not in (None, fingerprint(topic)):
                log.warning("topic %s changed since calibration: thresholds may be off", topic.id)
            means[j], counts[j], thresholds[j] = cal.pos_means[i], cal.counts[i], cal.thresholds[i]
        centroids = blend_centroids(prototypes, means, counts, cal.n0)
        return cls(
            topics, centroids, thresholds.tolist(), margin=cal.margin, floor=cal.floor,
            min_labels=cal.min_labels, max_labels=cal.max_labels,
        )

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        """``(n, k)`` cosine of each embedding to each topic centroid."""
        return np.asarray(embeddings, dtype=np.float32) @ self.centroids.T

    def tag(self, embeddings: np.ndarray) -> list[list[tuple[str, float]]]:
        """Multi-label topics ``(topic_id, cosine)`` per row, best first."""
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim != 2 or emb.shape[0] == 0:
            return [[] for _ in range(emb.shape[0] if emb.ndim == 2 else 0)]
        scores = self.scores(emb)
        keep = decide(scores, self.thresholds, self.margin, self.min_labels, self.max_labels)
        out: list[list[tuple[str, float]]] = []
        for row, mask in zip(scores, keep, strict=True):
            idx = np.flatnonzero(mask)
            idx = idx[np.argsort(-row[idx])]
            out.append([(self.topic_ids[i], round(float(row[i]), 4)) for i in idx])
        return out


def decide(
    scores: np.ndarray, thresholds: np.ndarray, margin: float, min_labels: int, max_labels: int,
) -> np.ndarray:
    """Boolean ``(n, k)`` label matrix from scores under the tagger's decision rule."""
    scores = np.asarray(scores, dtype=np.float64)
    best = scores.max(axis=1, keepdims=True)
    keep = (scores >= thresholds[None, :]) & (scores >= best - margin)
    if max_labels and max_labels < scores.shape[1]:
        # drop all but the max_labels highest-scoring kept topics
        ranked = np.where(keep, scores, -np.inf)
        cutoff = -np.sort(-ranked, axis=1)[:, max_labels - 1 : max_labels]
        keep &= ranked >= cutoff
    if min_labels > 0:
        empty = ~keep.any(axis=1)
        if empty.any():
            rel = scores - np.where(np.isfinite(thresholds), thresholds, scores.min())[None, :]
            keep[np.flatnonzero(empty), rel[empty].argmax(axis=1)] = True
    return keep


# --------------------------------------------------------------------------- calibration


def loo_scores(x: np.ndarray, y: np.ndarray, prototypes: np.ndarray, n0: float) -> np.ndarray:
    """Cosine of each training row to centroids fitted without that row (honest in-sample scores)."""
    x = _normalise(x)
    n, k = y.shape
    out = np.zeros((n, k), dtype=np.float32)
    for j in range(k):
        pos = y[:, j].astype(bool)
        count = int(pos.sum())
        total = x[pos].sum(axis=0)
        # for positives the centroid excludes the row itself
        means = np.where(pos[:, None], total[None, :] - x, total[None, :])
        counts = np.where(pos, count - 1, count).astype(np.float32)
        a = (n0 / (n0 + counts))[:, None]
        m = np.where(counts[:, None] > 0, _normalise(means), 0.0)
        cent = _normalise(a * prototypes[j][None, :] + (1 - a) * m)
        out[:, j] = np.einsum("nd,nd->n", x, cent)
    return out


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Macro F1 over topics present in the gold labels or the predictions."""
    y_true, y_pred = y_true.astype(bool), y_pred.astype(bool)
    tp = (y_true & y_pred).sum(axis=0)
    denom = y_true.sum(axis=0) + y_pred.sum(axis=0)
    present = denom > 0
    if not present.any():
        return 0.0
    return float(np.mean(2 * tp[present] / denom[present]))


def _rate_thresholds(scores: np.ndarray, y: np.ndarray, mult: float) -> np.ndarray:
    """Per-topic threshold letting through ``mult`` x the topic's labelled share of rows."""
    n = len(scores)
    th = np.full(scores.shape[1], np.inf)
    for j in range(scores.shape[1]):
        pos = int(y[:, j].sum())
        if pos == 0:
            continue
        share = min(1.0, mult * pos / n)
        th[j] = float(np.quantile(scores[:, j], 1.0 - share))
    return th


@dataclass(frozen=True)
class CalibrationGrid:
    """Hyper-parameters searched by :func:`calibrate` (chosen by leave-one-out macro F1)."""

    n0: tuple[float, ...] = (4.0, 8.0, 16.0, 32.0)
    margin: tuple[float, ...] = (0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15, 1.0)
    floor: tuple[float, ...] = (-1.0, 0.1, 0.15, 0.2, 0.25)
    rate_mult: tuple[float | None, ...] = (None, 0.8, 1.0)
    max_labels: int = DEFAULT_MAX_LABELS


def calibrate(
    x: np.ndarray, y: np.ndarray, topics: Sequence[Topic], prototypes: np.ndarray,
    embedder_name: str = "", grid: CalibrationGrid | None = None,
) -> Calibration:
    """Fit a :class:`Calibration` from embeddings ``x (n, d)`` and a 0/1 label matrix ``y (n, k)``.

    Every grid point is scored on leave-one-out centroid scores, so the centroid of a topic
    never sees the row being scored; the best macro-F1 point is kept. ``min_labels`` is 1
    when every labelled row has a topic (a closed scheme such as TweetTopic), else 0.
    """
    grid = grid or CalibrationGrid()
    x = _normalise(x)
    y = np.asarray(y, dtype=np.int8)
    min_labels = 1 if bool(y.any(axis=1).all()) else 0
    best: tuple[float, dict[str, Any]] = (-1.0, {})
    for n0 in grid.n0:
        s = loo_scores(x, y, prototypes, n0)
        for mult in grid.rate_mult:
            per_topic = _rate_thresholds(s, y, mult) if mult is not None else np.full(y.shape[1], -np.inf)
            for floor in grid.floor:
                th = np.maximum(per_topic, floor)
                for margin in grid.margin:
                    pred = decide(s, th, margin, min_labels, grid.max_labels)
                    f1 = macro_f1(y, pred)
                    if f1 > best[0]:
                        best = (f1, {"n0": n0, "mult": mult, "floor": floor, "margin": margin, "th": th})
    p = best[1]
    counts = y.sum(axis=0)
    means = np.stack([x[y[:, j] == 1].mean(axis=0) if counts[j] else np.zeros(x.shape[1], np.float32)
                      for j in range(y.shape[1])])
    th = [float(v) if np.isfinite(v) else -1.0 for v in p["th"]]
    return Calibration(
        topic_ids=[t.id for t in topics], thresholds=th, counts=[int(c) for c in counts],
        pos_means=means.astype(np.float32), n0=float(p["n0"]), margin=float(p["margin"]),
        floor=float(p["floor"]), min_labels=min_labels, max_labels=grid.max_labels, embedder=embedder_name,
        fingerprints={t.id: fingerprint(t) for t in topics},
        metrics={"loo_macro_f1": round(best[0], 4), "rate_mult": p["mult"], "n": int(len(x))},
    )


__all__ = [
    "Calibration", "CalibrationGrid", "EmbeddingTopicTagger", "blend_centroids", "calibrate",
    "decide", "fingerprint", "loo_scores", "macro_f1", "prototype_texts", "shipped_calibration",
    "topic_prototypes",
]
