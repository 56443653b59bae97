"""Embedders: the hash fake, the ONNX cache discipline, and ONNX int8 vs sentence-transformers agreement."""

from __future__ import annotations

import os
import random
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

import models.embedding as me
from models.base import EncoderOutput
from models.factories import registry

# ---------------------------------------------------------------------------- synthetic tweets

_SUBJECTS = [
    "my flight to Denver", "the new iPhone battery", "@DeltaAssist", "this pizza place downtown",
    "the Lakers game", "Taylor Swift's new album", "my landlord", "the Netflix finale",
    "our startup's seed round", "the bus this morning", "my cat", "the vaccine rollout",
    "the price of gas", "this heatwave", "my Tesla's autopilot", "the new Zelda game",
    "the election debate", "grandma's birthday party", "the chemistry exam", "my morning run",
    "the customer support chat", "the hotel in Lisbon", "the stock market", "this rainy weekend",
    "my new sneakers", "the Champions League final", "the wifi at the airport", "my sourdough starter",
    "the concert tonight", "the train strike", "the refund I was promised", "my phone's camera",
    "the coffee at work", "the team meeting", "the protest downtown", "our garden tomatoes",
    "the package delivery", "the movie trailer", "the hospital waiting room", "my job interview",
]
_FRAMES = [
    "{s} is honestly the best thing that happened to me this week",
    "can't believe {s} let me down again, so frustrating",
    "anyone else having problems with {s}? nothing works",
    "thinking about {s} and laughing way too hard",
    "{s} was delayed for three hours and nobody told us why",
    "big thanks to {s}, you made my day",
    "why is {s} so expensive now?? this is ridiculous",
    "quick update on {s}: still waiting, still annoyed",
]
_TAILS = ["", " #fail", " 😂😂", " https://t.co/x1Yz", " #blessed", " lol", "!!!", " 🙄", " @support"]


def varied_tweets(n: int = 200, seed: int = 7) -> list[str]:
    """Tweet-like texts with mixed length, hashtags, emoji, links and mentions."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        text = rng.choice(_FRAMES).format(s=rng.choice(_SUBJECTS)) + rng.choice(_TAILS)
        if rng.random() < 0.2:
            text = text.upper() if rng.random() < 0.5 else text + " " + rng.choice(_FRAMES).format(s=rng.choice(_SUBJECTS))
        if text not in out:
            out.append(text)
    return out


# ---------------------------------------------------------------------------- fast tests


def test_registry_has_three_embedders() -> None:
    assert {"hash", "onnx-minilm", "st-minilm"} <= set(registry.names("embedder"))
    # callers pass the cache dir whatever the name (pipeline.enrich.build_enricher does)
    assert registry.create("embedder", "hash", cache_dir=".data/models").dim == 384


def test_hash_embedder_is_deterministic_normalised_and_similarity_aware() -> None:
    emb = registry.create("embedder", "hash")
    texts = ["the flight was delayed again", "flight delayed again today", "I love my new sneakers", ""]
    out = emb.encode(texts)
    assert isinstance(out, EncoderOutput)
    assert out.embeddings.shape == (4, 384) and out.embeddings.dtype == np.float32
    assert out.features is not None and out.features.shape == (4, 2688)
    np.testing.assert_allclose(np.linalg.norm(out.embeddings, axis=1), 1.0, rtol=1e-5)
    again = me.HashEmbedder().encode(texts)
    np.testing.assert_array_equal(out.embeddings, again.embeddings)
    sims = out.embeddings @ out.embeddings.T
    assert sims[0, 1] > sims[0, 2] + 0.2


def _fake_source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        (src / name).write_bytes(name.encode())
    return src


def test_cache_key_changes_with_weights(tmp_path: Path) -> None:
    src = _fake_source(tmp_path)
    before = me.cache_key(src)
    assert me.cache_key(src) == before
    (src / "model.safetensors").write_bytes(b"other weights")
    assert me.cache_key(src) != before


def test_ensure_onnx_model_builds_once_across_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _fake_source(tmp_path)
    calls = {"export": 0}

    def fake_export(source: Path, out: Path, opset: int = 17) -> None:
        calls["export"] += 1
        out.write_bytes(b"fp32")

    def fake_quantize(fp32: Path, out: Path) -> None:
        out.write_bytes(fp32.read_bytes() + b"-int8")

    monkeypatch.setattr(me, "export_onnx", fake_export)
    monkeypatch.setattr(me, "quantize_int8", fake_quantize)
    cache = tmp_path / "cache"
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(me.ensure_onnx_model(cache, src))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls["export"] == 1
    assert len(set(results)) == 1 and results[0].read_bytes() == b"fp32-int8"
    assert results[0].with_suffix(".json").exists()
    assert not [p for p in cache.iterdir() if p.name.startswith(".build-")]  # temp dir cleaned up
    # changed weights -> new cache entry, old one untouched
    (src / "model.safetensors").write_bytes(b"retrained")
    rebuilt = me.ensure_onnx_model(cache, src)
    assert rebuilt != results[0] and calls["export"] == 2 and results[0].exists()


def test_failed_build_leaves_no_cache_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _fake_source(tmp_path)

    def broken_export(source: Path, out: Path, opset: int = 17) -> None:
        out.write_bytes(b"partial")
        raise RuntimeError("export crashed")

    monkeypatch.setattr(me, "export_onnx", broken_export)
    with pytest.raises(RuntimeError):
        me.ensure_onnx_model(tmp_path / "cache", src)
    assert not list((tmp_path / "cache").glob("*.onnx"))


# ---------------------------------------------------------------------------- real models


@pytest.fixture(scope="module")
def onnx_embedder() -> me.OnnxMiniLMEmbedder:
    # the cache is keyed by a content hash, so a shared temp dir is safe and saves rebuilds;
    # the build itself (lock, atomic publish) is covered above with a fake exporter
    cache = os.environ.get("HYPERMICRO_MODEL_CACHE_DIR") or Path(tempfile.gettempdir()) / "hypermicro-test-models"
    return registry.create("embedder", "onnx-minilm", cache_dir=cache)


@pytest.fixture(scope="module")
def st_embedder() -> me.SentenceTransformerEmbedder:
    return registry.create("embedder", "st-minilm", threads=2)


def _cos_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.mark.slow
def test_onnx_agrees_with_sentence_transformers(onnx_embedder, st_embedder) -> None:
    texts = varied_tweets(200)
    fast = onnx_embedder.encode(texts)
    ref = st_embedder.encode(texts)
    assert fast.embeddings.shape == (200, 384) and fast.features.shape == (200, 2688)
    assert fast.embeddings.dtype == np.float32 and fast.features.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(fast.embeddings, axis=1), 1.0, rtol=1e-4)
    cos = _cos_rows(fast.embeddings, ref.embeddings)
    assert cos.mean() >= 0.98 and cos.min() >= 0.93
    # neighbourhoods survive quantisation
    s_fast, s_ref = fast.embeddings @ fast.embeddings.T, ref.embeddings @ ref.embeddings.T
    np.fill_diagonal(s_fast, -9)
    np.fill_diagonal(s_ref, -9)
    top_fast, top_ref = np.argsort(-s_fast, 1)[:, :5], np.argsort(-s_ref, 1)[:, :5]
    overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(top_fast, top_ref, strict=True)])
    assert overlap >= 0.8
    # features: each of the 7 pooled layers close to the reference
    for layer in range(7):
        sl = slice(layer * 384, (layer + 1) * 384)
        assert _cos_rows(fast.features[:, sl], ref.features[:, sl]).mean() >= 0.98
    # last feature block normalised is the sentence embedding
    last = ref.features[:, -384:]
    np.testing.assert_allclose(last / np.linalg.norm(last, axis=1, keepdims=True), ref.embeddings, atol=1e-4)


@pytest.mark.slow
def test_features_match_sentiment_reference_definition(onnx_embedder, st_embedder) -> None:
    features = pytest.importorskip("models.sentiment.features")
    texts = varied_tweets(40, seed=3)
    reference = features.pooled_layer_features(texts)
    st_feats = st_embedder.encode(texts).features
    np.testing.assert_allclose(st_feats, reference, rtol=1e-3, atol=1e-3)
    assert _cos_rows(onnx_embedder.encode(texts).features, reference).mean() >= 0.99


@pytest.mark.slow
def test_onnx_order_and_padding_do_not_change_results(onnx_embedder) -> None:
    texts = ["short", "a much longer tweet about the delayed flight and the terrible customer service", "hi @bob"]
    together = onnx_embedder.encode(texts)
    alone = [onnx_embedder.encode([t]) for t in texts]
    reordered = onnx_embedder.encode(texts[::-1]).embeddings[::-1]
    # activation scales are fixed (static int8): a post's vector and features do not depend on
    # its batch-mates or its padding, so a replay tags exactly as the live run did
    np.testing.assert_allclose(together.embeddings, np.vstack([a.embeddings for a in alone]), atol=1e-5)
    np.testing.assert_allclose(together.features, np.vstack([a.features for a in alone]), atol=1e-4)
    np.testing.assert_allclose(together.embeddings, reordered, atol=1e-5)
    assert onnx_embedder.encode([]).embeddings.shape == (0, 384)


@pytest.mark.slow
def test_onnx_truncates_long_texts(onnx_embedder) -> None:
    long_text = "word " * 1000
    out = onnx_embedder.encode([long_text, "ok"])
    assert np.isfinite(out.embeddings).all() and out.embeddings.shape == (2, 384)


@pytest.mark.slow
def test_worker_embedder_takes_its_thread_count_from_the_settings(onnx_embedder) -> None:
    from pipeline.core.settings import load_settings
    from pipeline.enrich import build_embedder

    cache = onnx_embedder.model_path.parent
    for threads in (1, 3):
        enc = build_embedder("onnx-minilm", load_settings(encoder_threads=threads, model_cache_dir=cache))
        assert isinstance(enc, me.OnnxMiniLMEmbedder)
        assert enc.session.get_session_options().intra_op_num_threads == threads
    assert isinstance(build_embedder("hash", load_settings(encoder_threads=4)), me.HashEmbedder)  # ignored there
