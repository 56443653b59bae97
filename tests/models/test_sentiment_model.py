"""Slow tests of the shipped default sentiment artifact (real MiniLM features via torch)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import models.sentiment
from models.base import EncoderOutput, SentimentScorer
from models.factories import registry
from pipeline.evaluation.sentiment import evaluate
from tests.models.test_sentiment_unit import load_fixture

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scorer() -> SentimentScorer:
    return registry.create("sentiment", "default")


def test_artifact_is_small_and_has_provenance() -> None:
    art = models.sentiment.DEFAULT_ARTIFACT
    size = sum(p.stat().st_size for p in art.iterdir())
    assert size < 8_000_000
    prov = json.loads((art / "provenance.json").read_text())
    assert prov["data"][0]["sha256"] and len(prov["data"][0]["sha256"]) == 64
    assert prov["command"].startswith("hypermicro train sentiment")
    assert 0.0 < prov["metrics"]["holdout_stack_cv_macro_recall"] <= 1.0
    assert "torch" in prov["versions"]


def test_obvious_cases(scorer: SentimentScorer) -> None:
    texts = [
        "I absolutely love this phone, best purchase of the year!",
        "Worst customer service ever. I want my money back.",
        "The train to Chicago departs at 6:40 tomorrow morning.",
    ]
    res = scorer.score(texts)
    assert [r.label for r in res] == ["positive", "negative", "neutral"]
    assert res[0].score > 0.5 and res[1].score < -0.5 and abs(res[2].score) < 0.5
    assert all(0.0 <= r.confidence <= 1.0 and -1.0 <= r.score <= 1.0 for r in res)


def test_non_english_unsupported_and_english_kept(scorer: SentimentScorer) -> None:
    texts = ["Ce produit est vraiment nul, je suis très déçu", "I love this!", "¡Me encanta!", "I hate this."]
    res = scorer.score(texts, langs=["fr", "und", "es", None])
    assert (res[0].label, res[0].score, res[2].label, res[2].score) == ("unsupported", 0.0, "unsupported", 0.0)
    assert (res[1].label, res[3].label) == ("positive", "negative")


def test_reuses_encoder_features_and_matches_reference(scorer: SentimentScorer) -> None:
    from models.sentiment.features import FEATURE_DIM, pooled_layer_features, sentence_embeddings

    texts, _ = load_fixture()
    feats = pooled_layer_features(texts[:10])
    assert feats.shape == (10, FEATURE_DIM) and feats.dtype == np.float32
    enc = EncoderOutput(embeddings=sentence_embeddings(feats), features=feats)
    assert scorer.score(texts[:10], encoded=enc) == scorer.score(texts[:10])
    # the head really uses the features it is given: zeroing them changes some outputs
    zero = EncoderOutput(embeddings=enc.embeddings, features=np.zeros_like(feats))
    assert scorer.score(texts[:10], encoded=zero) != scorer.score(texts[:10], encoded=enc)


def test_features_last_block_is_sentence_embedding() -> None:
    from sentence_transformers import SentenceTransformer

    from models.sentiment.features import _model, pooled_layer_features, sentence_embeddings

    texts = ["short", "a somewhat longer sentence about the weather today", "@user http 🙂"]
    st = SentenceTransformer(str(_model()[1].name_or_path), device="cpu", local_files_only=True)
    st.max_seq_length = 128
    np.testing.assert_allclose(sentence_embeddings(pooled_layer_features(texts)), st.encode(texts), atol=1e-5)
    one_by_one = np.vstack([pooled_layer_features([t]) for t in texts])
    np.testing.assert_allclose(one_by_one, pooled_layer_features(texts), atol=1e-4)


def test_default_beats_vader_on_handwritten_fixture() -> None:
    texts, labels = load_fixture()
    default = evaluate(texts, labels, model="default")
    vader = evaluate(texts, labels, model="vader")
    assert default["macro_recall"] >= 0.8
    assert default["macro_recall"] > vader["macro_recall"] + 0.05


def test_docs_example_runs() -> None:
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "sentiment.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    exec(compile(example, "docs/sentiment.md", "exec"), {})


def test_provenance_records_out_of_time_protocol_and_eval_prints_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.evaluation.sentiment import command

    prov = json.loads((models.sentiment.DEFAULT_ARTIFACT / "provenance.json").read_text())
    m = prov["metrics"]
    assert m["oot_after"] == "2015-09-10" and m["n_oot"] > 4000
    assert m["n_stage_a"] + m["n_oot"] == m["n_train"]
    assert 0.6 < m["oot_macro_recall"] < m["holdout_stack_cv_macro_recall"]
    texts, labels = load_fixture()
    (tmp_path / "t.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    (tmp_path / "l.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")
    command(texts=tmp_path / "t.txt", labels=tmp_path / "l.txt", label_map=None, model="default")
    lines = capsys.readouterr().out.strip().splitlines()
    assert "cpu_s_per_1000_posts: encoder=" in lines[0]
    last = dict(kv.split("=") for kv in lines[-1].split())
    assert float(last["artifact_oot_macro_recall"]) == pytest.approx(m["oot_macro_recall"], abs=1e-4)
    assert float(last["artifact_tweeteval_val_macro_recall"]) == pytest.approx(m["val_macro_recall"], abs=1e-4)
    assert last["n"] == str(len(texts)) and float(last["macro_recall"]) >= 0.8
