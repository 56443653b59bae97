"""Out-of-time protocol of ``train sentiment`` and the per-brand negative-share check
(``hypermicro eval brand-sentiment``), on small data written here; real brand matcher and VADER."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.brands.matcher import SpacyBrandMatcher
from models.factories import registry
from pipeline.core.brands import load_brands
from pipeline.evaluation.brand_sentiment import (
    BrandPost,
    brand_labels,
    read_brand_stream,
    share_table,
)
from tests.models.test_sentiment_unit import load_fixture

REPO = Path(__file__).resolve().parents[2]


def test_out_of_time_mask_is_by_creation_time() -> None:
    from pipeline.evaluation.train_sentiment import out_of_time_mask

    created = ["2015-09-09T18:18:13Z", "2015-10-30T20:01:06Z", "", "2012-01-06T13:50:59Z", "2015-09-10T00:00:00Z"]
    assert out_of_time_mask(created, "2015-09-10").tolist() == [False, True, False, False, True]


def test_stage_a_never_fits_the_out_of_time_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Out-of-time rows carry labels that contradict their features: if stage A had fitted them
    the head would partly learn them; left out, it predicts the feature cluster and gets ~all wrong."""
    from pipeline.evaluation import train_sentiment as train

    monkeypatch.setattr(train, "MLP_EPOCHS", 3)
    texts, labels = load_fixture()
    texts, labels = texts * 4, labels * 4
    y = np.array([("negative", "neutral", "positive").index(x) for x in labels])
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 2688)).astype(np.float32)
    feats = centers[y] + rng.normal(scale=2.0, size=(len(y), 2688)).astype(np.float32)
    oot = np.zeros(len(y), dtype=bool)
    oot[-len(y) // 4 :] = True
    y_flipped = y.copy()
    y_flipped[oot] = (y[oot] + 1) % 3
    _, metrics = train.train_head(texts, y_flipped, feats, seed=0, holdout=0.25, use_vader=False, oot=oot)
    assert metrics["n_stage_a"] == int((~oot).sum()) and metrics["n_oot"] == int(oot.sum())
    assert metrics["holdout_stack_cv_macro_recall"] > 0.8
    assert metrics["oot_macro_recall"] < 0.2


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_read_brand_stream_three_formats(tmp_path: Path) -> None:
    sanders = read_brand_stream(REPO / "tests" / "fixtures" / "brands" / "sanders_format.csv")
    assert sanders and {p.brand for p in sanders} <= {"apple", "google", "microsoft", "twitter"}
    assert all(p.label in ("negative", "neutral", "positive") for p in sanders)
    apple = read_brand_stream(_write(tmp_path / "apple.csv", (
        "_unit_id,_golden,sentiment,date,text\n"
        "1,FALSE,1,Mon Dec 01 19:30:03 +0000 2014,@Apple my charger broke again\n"
        "2,FALSE,not_relevant,Mon Dec 01 19:31:03 +0000 2014,#AAPL news\n"
        "3,FALSE,5,Mon Dec 01 19:32:03 +0000 2014,\"love my new @Apple watch, thanks\"\n")))
    assert apple == [BrandPost("@Apple my charger broke again", "apple", "negative"),
                     BrandPost("love my new @Apple watch, thanks", "apple", "positive")]
    gop = read_brand_stream(_write(tmp_path / "gop.csv", (
        "id,candidate,sentiment,text\n"
        "1,Donald Trump,Negative,Trump was rude again\n"
        "2,No candidate mentioned,Neutral,#GOPDebate tonight\n"
        "3,Jeb Bush,Positive,Jeb did well\n")))
    assert [(p.brand, p.label) for p in gop] == [("trump", "negative"), ("bush", "positive")]
    with pytest.raises(Exception, match="unknown CSV format"):
        read_brand_stream(_write(tmp_path / "other.csv", "a,b\n1,2\n"))


def test_share_table_counts_matched_posts_only() -> None:
    posts = [BrandPost("a", "x", "negative"), BrandPost("b", "x", "neutral"), BrandPost("c", "x", "negative"),
             BrandPost("d", "x", "positive"), BrandPost("e", "y", "negative")]
    (x, y) = share_table(posts, ["negative", "negative", None, "positive", "neutral"])
    assert (x.brand, x.n, x.matched) == ("x", 3, 0.75)
    assert x.human_negative == pytest.approx(1 / 3) and x.predicted_negative == pytest.approx(2 / 3)
    assert x.error == pytest.approx(1 / 3)
    assert (y.brand, y.human_negative, y.predicted_negative) == ("y", 1.0, 0.0)


def test_brand_labels_follow_the_worker_path() -> None:
    """Single-brand posts take the post's sentiment; a post naming two brands takes each one's clause."""
    matcher = SpacyBrandMatcher(load_brands(REPO / "pipeline" / "config" / "brands.sanders.yaml"))
    scorer = registry.create("sentiment", "vader")
    embedder = registry.create("embedder", "hash")
    mixed = "Apple is great but Google lost all my photos"
    posts = [BrandPost("Google is awful, it lost all my photos", "google", "negative"),
             BrandPost(mixed, "apple", "positive"), BrandPost(mixed, "google", "negative"),
             BrandPost("Nothing about any company here", "microsoft", "neutral")]
    assert scorer.score([mixed])[0].label == "negative"  # the whole post reads negative...
    # ...but toward Apple it is positive; an unmatched brand is left out (None)
    assert brand_labels(posts, matcher, scorer, embedder) == ["negative", "positive", "negative", None]
