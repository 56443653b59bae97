"""Fast unit tests of the sentiment package: registry, language gating, label maps, eval output,
head save/load, and the compact n-gram model reproducing scikit-learn's TF-IDF exactly."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from models.base import SentimentResult, SentimentScorer
from models.factories import registry
from models.sentiment.head import normalize_text
from models.sentiment.scorer import english_eligible, results_from_proba
from pipeline.evaluation.sentiment import command, evaluate, parse_label_map, read_labelled

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "sentiment" / "handwritten.tsv"


def load_fixture() -> tuple[list[str], list[str]]:
    with FIXTURE.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def test_default_and_vader_are_known() -> None:
    assert {"default", "vader"} <= set(registry.names("sentiment"))


def test_vader_scorer_protocol_and_obvious_cases() -> None:
    vader = registry.create("sentiment", "vader")
    assert isinstance(vader, SentimentScorer)
    res = vader.score(["I love this, it is wonderful!", "This is terrible and I hate it.", "The bus leaves at 5."])
    assert [r.label for r in res] == ["positive", "negative", "neutral"]
    assert res[0].score > 0 > res[1].score
    assert all(-1.0 <= r.score <= 1.0 and 0.0 <= r.confidence <= 1.0 for r in res)


def test_vader_non_english_unsupported() -> None:
    vader = registry.create("sentiment", "vader")
    res = vader.score(["I love it", "J'adore ce produit, il est génial", "I hate it"], langs=["en", "fr", None])
    assert res[1] == SentimentResult("unsupported", 0.0, 0.0)
    assert [res[0].label, res[2].label] == ["positive", "negative"]


@pytest.mark.parametrize(("lang", "ok"), [(None, True), ("en", True), ("und", True), ("EN", True),
                                          ("en-GB", True), ("en_US", True), ("fr", False), ("es", False),
                                          ("de", False), ("eng", False)])
def test_english_eligible(lang: str | None, ok: bool) -> None:
    assert english_eligible(lang) is ok


def test_results_from_proba() -> None:
    res = results_from_proba(np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]]))
    assert [r.label for r in res] == ["negative", "positive", "neutral"]
    assert res[0].score == pytest.approx(-0.6) and res[1].score == pytest.approx(0.5)
    assert [r.confidence for r in res] == pytest.approx([0.7, 0.6, 0.5])


def test_label_map_default_words_and_custom() -> None:
    m = parse_label_map(None)
    assert (m["0"], m["1"], m["2"], m["positive"]) == ("negative", "neutral", "positive", "positive")
    custom = parse_label_map("negative=neg,neutral=neu,neutral=irrelevant,positive=pos")
    assert (custom["neg"], custom["irrelevant"], custom["pos"]) == ("negative", "neutral", "positive")
    with pytest.raises(ValueError):
        parse_label_map("happy=1")


def test_read_labelled_skips_unmapped(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("a\nb\nc\n", encoding="utf-8")
    (tmp_path / "l.txt").write_text("positive\nirrelevant\nNegative\n", encoding="utf-8")
    texts, labels, skipped = read_labelled(tmp_path / "t.txt", tmp_path / "l.txt")
    assert (texts, labels, skipped) == (["a", "c"], ["positive", "negative"], 1)


def test_eval_command_last_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    texts, labels = load_fixture()
    code = {"negative": "0", "neutral": "1", "positive": "2"}
    (tmp_path / "texts.txt").write_text("\n".join(texts[:12]) + "\n", encoding="utf-8")
    (tmp_path / "labels.txt").write_text("\n".join(code[x] for x in labels[:12]) + "\n", encoding="utf-8")
    command(texts=tmp_path / "texts.txt", labels=tmp_path / "labels.txt", label_map=None, model="vader")
    lines = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("negative ") for line in lines)
    last = dict(kv.split("=") for kv in lines[-1].split())
    assert set(last) == {"macro_recall", "accuracy", "n"}
    assert last["n"] == "12"
    assert 0.0 <= float(last["macro_recall"]) <= 1.0


def test_evaluate_dict_counts_errors() -> None:
    res = evaluate(["I love it!", "I hate it.", "It opens at 9."], ["positive", "negative", "positive"], model="vader")
    assert res["n"] == 3
    assert res["per_class"]["positive"]["recall"] == pytest.approx(0.5)
    assert res["accuracy"] == pytest.approx(2 / 3)


def test_normalize_text() -> None:
    t = normalize_text("@Bob Sooooo GOOD &amp; cheap \\u2019 https://t.co/x")
    assert t == "@user soo good & cheap \u2019  http "


def test_ngram_model_matches_sklearn_tfidf() -> None:
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    from pipeline.evaluation import train_sentiment as train

    texts, labels = load_fixture()
    norm = [normalize_text(t) for t in texts] * 2
    y = np.array([("negative", "neutral", "positive").index(x) for x in labels] * 2)
    model = train.fit_ngram(norm, y)
    word = TfidfVectorizer(ngram_range=train.NGRAM_WORD, min_df=2, max_features=train.NGRAM_WORD_MAX,
                           sublinear_tf=True, token_pattern=r"(?u)[\w@#']+|[^\w\s]+", lowercase=False)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=train.NGRAM_CHAR, min_df=3,
                           max_features=train.NGRAM_CHAR_MAX, sublinear_tf=True, lowercase=False)
    ref = sp.hstack([word.fit_transform(norm), char.fit_transform(norm)], format="csr")
    ours = model.transform(norm)
    assert ours.shape == ref.shape
    assert abs(ours - ref).max() < 1e-5
    # trained on the rows, it separates them
    assert (model.log_proba(norm).argmax(1) == y).mean() > 0.9


def test_train_head_save_load_roundtrip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tiny head on synthetic features: deterministic, and the saved artifact reproduces it."""
    from models.sentiment.head import SentimentHead
    from pipeline.evaluation import train_sentiment as train

    monkeypatch.setattr(train, "MLP_EPOCHS", 3)
    texts, labels = load_fixture()
    texts, labels = texts * 4, labels * 4
    y = np.array([("negative", "neutral", "positive").index(x) for x in labels])
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 2688)).astype(np.float32)
    feats = centers[y] + rng.normal(scale=2.0, size=(len(y), 2688)).astype(np.float32)
    head, metrics = train.train_head(texts, y, feats, seed=0, holdout=0.25, use_vader=False)
    head2, _ = train.train_head(texts, y, feats, seed=0, holdout=0.25, use_vader=False)
    p = head.proba(texts, feats)
    np.testing.assert_allclose(p, head2.proba(texts, feats), atol=1e-6)
    head.save(tmp_path)
    loaded = SentimentHead.load(tmp_path)
    np.testing.assert_allclose(loaded.proba(texts, feats), p, atol=2e-3)  # float16 weights
    assert p.shape == (len(texts), 3) and np.allclose(p.sum(1), 1.0, atol=1e-5)
    assert (p.argmax(1) == y).mean() > 0.8
    assert 0.0 <= metrics["holdout_stack_cv_macro_recall"] <= 1.0


def test_training_features_are_recomputed_for_a_new_encoder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import models.embedding as me
    from models.base import EncoderOutput
    from pipeline.evaluation import train_sentiment as ts

    passes: list[float] = []

    class FakeEncoder:
        def __init__(self, **_: object) -> None:
            self.value = float(len(passes) + 1)

        def encode(self, texts: list[str]) -> EncoderOutput:
            passes.append(self.value)
            return EncoderOutput(embeddings=np.zeros((len(texts), 384), np.float32),
                                 features=np.full((len(texts), 2688), self.value, np.float32))

    monkeypatch.setattr(me, "OnnxMiniLMEmbedder", FakeEncoder)
    monkeypatch.setattr(me, "cache_key", lambda: "graph-a")
    texts = ["great flight", "lost my bag"]
    first = ts.cached_features(texts, "data-sha", tmp_path, model_cache_dir=tmp_path)
    again = ts.cached_features(texts, "data-sha", tmp_path, model_cache_dir=tmp_path)
    assert len(passes) == 1 and np.array_equal(first, again)  # same encoder: read from the cache
    monkeypatch.setattr(me, "cache_key", lambda: "graph-b")  # e.g. an onnxruntime upgrade
    rebuilt = ts.cached_features(texts, "data-sha", tmp_path, model_cache_dir=tmp_path)
    assert len(passes) == 2 and rebuilt[0, 0] == 2.0
