"""``hypermicro eval sentiment``: score a labelled text file with a registered sentiment scorer.

Metric of record: macro-averaged recall over negative / neutral / positive (SemEval-2017 4A).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

CLASSES = ("negative", "neutral", "positive")
DEFAULT_LABEL_MAP = "negative=0,neutral=1,positive=2"


def parse_label_map(spec: str | None) -> dict[str, str]:
    """Map raw label strings to class names.

    ``spec`` is ``"class=raw,class=raw,..."``; a class may appear several times
    (``"neutral=1,neutral=irrelevant"``). Class names themselves always map to themselves,
    so word labels work without a map. Default: ``0/1/2 -> negative/neutral/positive``.
    """
    mapping = {c: c for c in CLASSES}
    for pair in (spec or DEFAULT_LABEL_MAP).split(","):
        if not pair.strip():
            continue
        cls, sep, raw = pair.partition("=")
        cls, raw = cls.strip().lower(), raw.strip()
        if not sep or cls not in CLASSES or not raw:
            raise ValueError(f"bad label-map entry {pair!r}; expected class=value with class in {CLASSES}")
        mapping[raw] = cls
        mapping[raw.lower()] = cls
    return mapping


def evaluate(texts: Sequence[str], labels: Sequence[str], model: str = "default",
             batch_size: int = 256, embedder: str | None = "onnx-minilm", **model_kwargs: Any) -> dict[str, Any]:
    """Score ``texts`` with registry scorer ``model`` against gold class names ``labels``.

    Each batch is encoded once by registry embedder ``embedder`` (the worker's encoder by default)
    and the scorer reads those features, as in the worker; ``None`` lets the scorer compute its own.

    Returns ``macro_recall``, ``accuracy``, ``n``, ``per_class`` (precision/recall/f1/support)
    ``predictions`` and ``cpu_s_per_1000`` (process CPU seconds per 1,000 posts of the encoder pass and of
    the scorer on top of it, after a one-post warm-up). Predictions outside the 3 classes (``unsupported``) count as errors.
    """
    import numpy as np
    from sklearn.metrics import precision_recall_fscore_support

    from models.factories import registry
    from pipeline.enrich import build_embedder
    from pipeline.tagcache import canonical

    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    unknown = sorted(set(labels) - set(CLASSES))
    if unknown:
        raise ValueError(f"labels must be class names {CLASSES}; got {unknown[:5]}")
    scorer = registry.create("sentiment", model, **model_kwargs)
    encoder = None
    if embedder is not None:
        encoder = build_embedder(embedder)
    preds: list[str] = []
    cpu = {"encoder": 0.0, "scorer": 0.0}  # process CPU seconds (all threads), as the worker pays them
    if texts:  # warm-up outside the timing: lazy loads (VADER lexicon, ONNX session arenas)
        scorer.score(list(texts[:1]), encoder.encode(list(texts[:1])) if encoder is not None else None)
    for start in range(0, len(texts), batch_size):
        batch = [canonical(t) for t in texts[start : start + batch_size]]  # what the worker scores
        t0 = time.process_time()
        encoded = encoder.encode(batch) if encoder is not None else None
        t1 = time.process_time()
        preds.extend(r.label for r in scorer.score(batch, encoded))
        cpu["encoder"] += t1 - t0
        cpu["scorer"] += time.process_time() - t1
    gold = np.asarray(labels)
    pred = np.asarray(preds)
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=list(CLASSES), zero_division=0)
    per_class = {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                 for i, c in enumerate(CLASSES)}
    return {
        "model": model,
        "n": len(gold),
        "macro_recall": float(np.mean(r)),
        "accuracy": float(np.mean(gold == pred)) if len(gold) else 0.0,
        "per_class": per_class,
        "predictions": preds,
        "cpu_s_per_1000": {k: 1000.0 * v / max(len(texts), 1) for k, v in cpu.items()},
    }


def recorded_figures(model: str) -> dict[str, str]:
    """The figures the registered artifact's ``provenance.json`` records (empty for models without one).

    ``oot_macro_recall``: the stage-A head (nothing newer than ``oot_after`` fitted) on the newest
    tweets; ``tweeteval_val_macro_recall``: the shipped head on TweetEval val (same pool as training).
    """
    import json

    from models.sentiment import DEFAULT_ARTIFACT

    path = DEFAULT_ARTIFACT / "provenance.json"
    if model != "default" or not path.exists():
        return {}
    metrics = json.loads(path.read_text(encoding="utf-8")).get("metrics", {})
    out = {}
    for key, name in (("oot_macro_recall", "oot_macro_recall"), ("n_oot", "oot_n"),
                      ("val_macro_recall", "tweeteval_val_macro_recall")):
        if key in metrics:
            v = metrics[key]
            out[name] = f"{v:.4f}" if isinstance(v, float) else str(v)
    return out


def read_labelled(texts: Path, labels: Path, label_map: str | None = None) -> tuple[list[str], list[str], int]:
    """Read one-per-line text and label files; rows whose label is not mapped are skipped.

    Returns ``(texts, class_labels, n_skipped)``.
    """
    raw_texts = texts.read_text(encoding="utf-8").split("\n")
    raw_labels = labels.read_text(encoding="utf-8").split("\n")
    if raw_labels and raw_labels[-1] == "":
        raw_labels.pop()
    if raw_texts and raw_texts[-1] == "" and len(raw_texts) == len(raw_labels) + 1:
        raw_texts.pop()
    if len(raw_texts) != len(raw_labels):
        raise ValueError(f"{texts} has {len(raw_texts)} lines but {labels} has {len(raw_labels)}")
    mapping = parse_label_map(label_map)
    out_t: list[str] = []
    out_l: list[str] = []
    for t, lab in zip(raw_texts, raw_labels, strict=True):
        key = lab.strip()
        cls = mapping.get(key, mapping.get(key.lower()))
        if cls is not None:
            out_t.append(t.rstrip("\r"))
            out_l.append(cls)
    return out_t, out_l, len(raw_texts) - len(out_t)


def command(
    texts: Path = typer.Option(..., "--texts", help="Text file, one post per line."),
    labels: Path = typer.Option(..., "--labels", help="Label file, one label per line (aligned with --texts)."),
    label_map: str | None = typer.Option(
        None, "--label-map",
        help='class=raw pairs, e.g. "negative=0,neutral=1,positive=2" (default); word labels always accepted; '
             "unmapped labels (e.g. 'irrelevant') are skipped.",
    ),
    model: str = typer.Option("default", "--model", help="Sentiment scorer name in the model registry."),
    embedder: Annotated[str, typer.Option(
        "--embedder", help="Encoder whose one pass feeds the scorer, as in the worker; 'none': the scorer's own path.",
    )] = "onnx-minilm",
) -> None:
    """Print per-class precision/recall/F1 and accuracy; last line: macro_recall, accuracy, n, then (for
    ``default``) the figures its provenance.json records as ``artifact_*`` (TweetEval val, out-of-time)."""
    t_list, l_list, skipped = read_labelled(texts, labels, label_map)
    start = time.perf_counter()
    res = evaluate(t_list, l_list, model=model, embedder=None if embedder == "none" else embedder)
    elapsed = time.perf_counter() - start
    cpu = res["cpu_s_per_1000"]
    print(f"model={model} embedder={embedder} skipped_unmapped={skipped} seconds={elapsed:.1f} "
          f"cpu_s_per_1000_posts: encoder={cpu['encoder']:.2f} scorer={cpu['scorer']:.2f}")
    print(f"{'class':<10} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}")
    for cls, m in res["per_class"].items():
        print(f"{cls:<10} {m['precision']:>9.4f} {m['recall']:>7.4f} {m['f1']:>7.4f} {m['support']:>8d}")
    recorded = "".join(f" artifact_{k}={v}" for k, v in recorded_figures(model).items())
    print(f"macro_recall={res['macro_recall']:.4f} accuracy={res['accuracy']:.4f} n={res['n']}{recorded}")
