"""Encoder benchmark: sentence-transformers (torch) vs ONNX int8 on tweet-length texts.

Each backend runs in its own subprocess (so peak RSS is its own) with the same thread
count, encodes the same texts in worker-sized batches a few times, and reports the best
pass. The parent prints posts/s, CPU-seconds per 1k posts, peak RSS and the cosine
agreement of the ONNX embeddings with the torch reference. Last line::

    torch_posts_s=... onnx_posts_s=... speedup=... cosine_mean=... cosine_min=... onnx_rss_mb=...

Run: ``.venv/bin/python benchmarks/bench_encoder.py --n 1000 --threads 2``
(``--texts FILE`` takes real posts: ``.txt`` one per line or ``.jsonl`` with ``text``).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import typer

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

_OPENERS = ["honestly", "ok so", "lmao", "wow", "ugh", "not gonna lie", "breaking:", "PSA:", "", "", ""]
_SUBJECTS = [
    "my flight to Chicago", "the new MacBook", "@united", "our local coffee shop", "the Knicks",
    "this album", "the landlord", "the season finale", "my startup", "the 7am train", "my dog",
    "the booster shot", "gas prices", "this heat", "the Tesla update", "Elden Ring", "the debate",
    "the wedding", "finals week", "my half marathon", "the support chat", "the Airbnb", "crypto",
    "the weekend", "these sneakers", "the derby", "airport wifi", "banana bread", "the festival",
    "the strike", "my refund", "the camera app", "the office printer", "the rally", "the tomatoes",
]
_PREDICATES = [
    "is the best thing that happened to me all week", "let me down again and nobody cares",
    "has been broken since Tuesday and support keeps sending the same link",
    "made me laugh so hard I cried", "was delayed three hours with zero updates",
    "deserves way more attention than it gets", "costs twice what it did last year",
    "is still loading, I give up", "finally works after the update", "ruined my morning",
]
_TAILS = ["", " #fail", " 😂", " https://t.co/Ab12Cd", " #blessed", " smh", "!!", " 🙄🙄", " @support pls help"]


def synthetic_tweets(n: int, seed: int = 0) -> list[str]:
    """Tweet-length texts (10-45 words) with hashtags, emoji, links and mentions."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = [rng.choice(_OPENERS), rng.choice(_SUBJECTS), rng.choice(_PREDICATES)]
        if rng.random() < 0.5:
            parts += ["and", rng.choice(_SUBJECTS), rng.choice(_PREDICATES)]
        out.append(" ".join(p for p in parts if p).strip() + rng.choice(_TAILS))
    return out


def load_texts(path: Path | None, n: int) -> list[str]:
    if path is None:
        return synthetic_tweets(n)
    lines = [ln for ln in Path(path).read_text(encoding="utf-8").splitlines() if ln.strip()]
    texts = [json.loads(ln)["text"] for ln in lines] if path.suffix == ".jsonl" else lines
    return (texts * (n // max(len(texts), 1) + 1))[:n]


def _worker(name: str, texts_file: Path, out_file: Path, threads: int, batch: int, repeats: int, cache_dir: str) -> None:
    """Runs in a subprocess: encode, time, write embeddings + figures."""
    import resource
    import time

    texts = json.loads(texts_file.read_text())
    from models.factories import registry

    enc = registry.create("embedder", name, threads=threads, cache_dir=cache_dir)
    enc.encode(texts[:batch])  # warm-up
    best_wall, best_cpu = float("inf"), float("inf")
    emb = np.zeros((0, 384), dtype=np.float32)
    for _ in range(max(repeats, 1)):
        t0, c0 = time.perf_counter(), time.process_time()
        chunks = [enc.encode(texts[i : i + batch]) for i in range(0, len(texts), batch)]
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
        emb = np.vstack([c.embeddings for c in chunks])
    np.save(out_file.with_suffix(".npy"), emb)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out_file.write_text(json.dumps({
        "posts_s": len(texts) / best_wall, "cpu_s_per_1k": 1000 * best_cpu / len(texts), "rss_mb": rss_mb,
    }))


def command(
    n: int = typer.Option(1000, "--n", help="Posts per pass."),
    threads: int = typer.Option(2, "--threads", help="Intra-op threads for both backends."),
    batch: int = typer.Option(64, "--batch", help="Posts per encode() call (the worker's batch)."),
    repeats: int = typer.Option(3, "--repeats", help="Timed passes; the best is reported."),
    texts: Path | None = typer.Option(None, "--texts", help=".txt (one per line) or .jsonl (text) posts."),
    cache_dir: Path = typer.Option(Path(".data/models"), "--cache-dir", help="ONNX model cache."),
    worker: str | None = typer.Option(None, "--worker", hidden=True),
    io: Path | None = typer.Option(None, "--io", hidden=True),
) -> None:
    """Print posts/s, CPU cost and peak RSS of st-minilm vs onnx-minilm, and their cosine agreement."""
    if worker is not None and io is not None:
        _worker(worker, io.with_suffix(".texts.json"), io, threads, batch, repeats, str(cache_dir))
        return
    from models.embedding import ensure_onnx_model

    ensure_onnx_model(cache_dir)  # build outside the timed, RSS-measured subprocess
    posts = load_texts(texts, n)
    tokens = None
    try:
        from tokenizers import Tokenizer

        from models.embedding import model_dir

        tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
        tok.no_padding()
        tokens = float(np.mean([len(e.ids) for e in tok.encode_batch(posts)]))
    except Exception:  # noqa: BLE001 - informational only
        pass
    results: dict[str, dict[str, float]] = {}
    embs: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("st-minilm", "onnx-minilm"):
            io_file = Path(tmp) / name
            io_file.with_suffix(".texts.json").write_text(json.dumps(posts))
            env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false",
                   "HF_HUB_OFFLINE": "1"}
            subprocess.run(
                [sys.executable, __file__, "--worker", name, "--io", str(io_file), "--threads", str(threads),
                 "--batch", str(batch), "--repeats", str(repeats), "--cache-dir", str(cache_dir)],
                check=True, env=env,
            )
            results[name] = json.loads(io_file.read_text())
            embs[name] = np.load(io_file.with_suffix(".npy"))
    cos = (embs["st-minilm"] * embs["onnx-minilm"]).sum(axis=1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    typer.echo(f"{len(posts)} posts, mean {tokens or float('nan'):.1f} tokens, batch {batch}, {threads} threads, "
               f"{os.cpu_count()} cpus, load avg {load:.2f}")
    for name, r in results.items():
        typer.echo(f"{name:12s} {r['posts_s']:8.1f} posts/s  {r['cpu_s_per_1k']:6.2f} cpu-s/1k posts  "
                   f"peak RSS {r['rss_mb']:7.1f} MB")
    t, o = results["st-minilm"], results["onnx-minilm"]
    typer.echo(
        f"torch_posts_s={t['posts_s']:.1f} onnx_posts_s={o['posts_s']:.1f} speedup={o['posts_s'] / t['posts_s']:.2f} "
        f"cosine_mean={cos.mean():.4f} cosine_min={cos.min():.4f} onnx_rss_mb={o['rss_mb']:.0f} "
        f"torch_rss_mb={t['rss_mb']:.0f}"
    )


if __name__ == "__main__":
    typer.run(command)
