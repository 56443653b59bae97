"""Topic taxonomy, prototype tagger, calibration artifact and the eval/train commands."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from models.base import TopicTagger
from models.embedding import HashEmbedder
from models.factories import registry
from models.topics import (
    Calibration,
    EmbeddingTopicTagger,
    calibrate,
    decide,
    loo_scores,
    macro_f1,
)
from pipeline.core.taxonomy import Topic, load_taxonomy
from pipeline.evaluation.topics import (
    TWEET_TOPIC_CALIBRATION,
    TWEET_TOPIC_YAML,
    calibrate_command,
    command,
    read_labelled,
)

REPO = Path(__file__).resolve().parents[2]

TWEET_TOPIC_IDS = [
    "arts_&_culture", "business_&_entrepreneurs", "celebrity_&_pop_culture", "diaries_&_daily_life", "family",
    "fashion_&_style", "film_tv_&_video", "fitness_&_health", "food_&_dining", "gaming", "learning_&_educational",
    "music", "news_&_social_concern", "other_hobbies", "relationships", "science_&_technology", "sports",
    "travel_&_adventure", "youth_&_student_life",
]

SMALL_YAML = """
topics:
  - id: football
    label: Football
    description: football match goal striker league
    examples: [the striker scored a late goal in the league match]
  - id: cooking
    label: Cooking
    description: cooking recipe oven pasta sauce
  - id: flights
    label: Flights
    description: flight delayed airport gate boarding
    owner: ops@example.com
"""


@pytest.fixture()
def small_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_YAML)
    return path


def test_shipped_taxonomies_load() -> None:
    topics = load_taxonomy(TWEET_TOPIC_YAML)
    assert [t.id for t in topics] == TWEET_TOPIC_IDS
    assert all(len(t.description.split()) >= 8 for t in topics)
    brand = load_taxonomy(REPO / "pipeline" / "config" / "topics.yaml")
    assert brand[0].owner == "support-lead@example.com"


@pytest.mark.parametrize(
    "body, message",
    [
        ("topics: []", "non-empty"),
        ("topics:\n  - {id: a, label: A}", "description"),
        ("topics:\n  - {id: a, label: A, description: x}\n  - {id: a, label: B, description: y}", "duplicate"),
        ("topics:\n  - {id: a, label: A, description: x, examples: nope}", "examples"),
    ],
)
def test_load_taxonomy_rejects_bad_files(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(ValueError, match=message):
        load_taxonomy(path)


def test_uncalibrated_tagger_tags_related_posts_and_skips_off_topic(small_yaml: Path) -> None:
    tagger = EmbeddingTopicTagger.from_yaml(small_yaml, HashEmbedder())
    assert isinstance(tagger, TopicTagger)
    emb = HashEmbedder().encode([
        "what a goal by the striker in the league match",
        "my flight is delayed at the airport gate again",
        "zebra quantum umbrella xylophone",
    ]).embeddings
    tags = tagger.tag(emb)
    assert tags[0][0][0] == "football"
    assert tags[1][0][0] == "flights"
    assert tags[2] == []
    assert all(isinstance(s, float) for row in tags for _, s in row)
    assert tagger.tag(np.zeros((0, 384), np.float32)) == []


def test_decide_margin_floor_max_and_min_labels() -> None:
    scores = np.array([[0.50, 0.47, 0.30, 0.10], [0.05, 0.04, 0.02, 0.01]])
    th = np.full(4, 0.2)
    keep = decide(scores, th, margin=0.05, min_labels=0, max_labels=3)
    assert keep.tolist() == [[True, True, False, False], [False, False, False, False]]
    keep = decide(scores, th, margin=1.0, min_labels=0, max_labels=2)
    assert keep[0].tolist() == [True, True, False, False]
    keep = decide(scores, th, margin=0.05, min_labels=1, max_labels=3)
    assert keep[1].tolist() == [True, False, False, False]
    # per-topic thresholds: the best-relative-to-threshold topic wins when nothing clears its bar
    keep = decide(scores[1:], np.array([0.9, 0.05, 0.9, 0.9]), margin=1.0, min_labels=1, max_labels=3)
    assert keep[0].tolist() == [False, True, False, False]


def test_macro_f1_ignores_topics_absent_from_gold_and_predictions() -> None:
    y = np.array([[1, 0, 0], [0, 1, 0]])
    assert macro_f1(y, y) == 1.0
    assert macro_f1(y, np.array([[1, 0, 1], [0, 1, 0]])) == pytest.approx(2 / 3)


def _directions(rng: np.random.Generator, d: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Three true topic directions and noisy prototypes of them (a weak zero-shot start)."""
    true = np.linalg.qr(rng.normal(size=(d, 3)))[0].T
    protos = true + 0.9 * rng.normal(size=true.shape) / np.sqrt(d)
    return true, protos / np.linalg.norm(protos, axis=1, keepdims=True)


def _synthetic_labelled(
    rng: np.random.Generator, n: int = 120, d: int = 32, dirs: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posts drawn around the true directions, with their 0/1 labels and the prototypes."""
    true, protos = dirs or _directions(rng, d)
    y = np.zeros((n, 3), dtype=np.int8)
    y[np.arange(n), rng.integers(0, 3, n)] = 1
    y[rng.random(n) < 0.2, 0] = 1
    x = y @ true + 0.35 * rng.normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True), y, protos


def test_calibration_beats_zero_shot_and_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    dirs = _directions(rng)
    x, y, protos = _synthetic_labelled(rng, dirs=dirs)
    xt, yt, _ = _synthetic_labelled(rng, n=150, dirs=dirs)  # fresh posts, same topics
    topics = [Topic(f"t{i}", f"T{i}", f"topic {i}") for i in range(3)]
    cal = calibrate(x, y, topics, protos, embedder_name="fake")
    assert cal.min_labels == 1 and cal.counts == [int(c) for c in y.sum(0)]
    zero = EmbeddingTopicTagger(topics, protos, margin=0.1, floor=0.2)
    tuned = EmbeddingTopicTagger.from_calibration(topics, protos, cal)

    def f1(tagger: EmbeddingTopicTagger) -> float:
        pred = np.zeros_like(yt)
        for i, tags in enumerate(tagger.tag(xt)):
            for tid, _ in tags:
                pred[i, int(tid[1:])] = 1
        return macro_f1(yt, pred)

    assert f1(tuned) > f1(zero)
    assert f1(tuned) > 0.8
    cal.save(tmp_path / "cal")
    loaded = Calibration.load(tmp_path / "cal")
    assert loaded.thresholds == cal.thresholds and loaded.n0 == cal.n0
    np.testing.assert_allclose(loaded.pos_means, cal.pos_means, atol=2e-3)  # float16 on disk
    again = EmbeddingTopicTagger.from_calibration(topics, protos, loaded)
    ids = [[tid for tid, _ in row] for row in again.tag(xt)]
    assert ids == [[tid for tid, _ in row] for row in tuned.tag(xt)]


def test_loo_scores_do_not_see_the_row_itself() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.array([[1], [1], [0], [0], [0], [0]], dtype=np.int8)
    protos = np.eye(8, dtype=np.float32)[:1]
    s = loo_scores(x, y, protos, n0=0.0)
    # with n0=0 the centroid of row 0 is row 1 alone
    assert s[0, 0] == pytest.approx(float(x[0] @ x[1]), abs=1e-5)


def test_calibration_for_changed_or_missing_topics_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(2)
    x, y, protos = _synthetic_labelled(rng)
    topics = [Topic(f"t{i}", f"T{i}", f"topic {i}") for i in range(3)]
    cal = calibrate(x, y, topics, protos)
    edited = [Topic("t0", "T0", "topic zero, reworded"), topics[1], Topic("new", "New", "brand new topic")]
    new_protos = np.vstack([protos[0], protos[1], protos[2]])
    with caplog.at_level(logging.WARNING, logger="models.topics"):
        tagger = EmbeddingTopicTagger.from_calibration(edited, new_protos, cal)
    assert "changed since calibration" in caplog.text and "no calibration" in caplog.text
    assert tagger.topic_ids == ["t0", "t1", "new"]
    assert tagger.thresholds[2] == pytest.approx(cal.floor)


def test_read_labelled_accepts_names_ids_indices_and_columns(tmp_path: Path) -> None:
    topics = load_taxonomy(TWEET_TOPIC_YAML)
    path = tmp_path / "l.jsonl"
    rows = [
        {"text": "a", "topics": ["Film, TV & Video", "News & Social Concern"]},
        {"text": "b", "topics": ["sports"]},
        {"text": "c", "label_name": ["music"], "ignored": 1},
        {"text": "d", "labels": [16]},
        {"text": "e", "gaming": 1, "family": 0},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    texts, y = read_labelled(path, topics)
    ids = [t.id for t in topics]
    assert texts == ["a", "b", "c", "d", "e"]
    assert [sorted(ids[k] for k in np.flatnonzero(row)) for row in y] == [
        ["film_tv_&_video", "news_&_social_concern"], ["sports"], ["music"], ["sports"], ["gaming"],
    ]
    path.write_text(json.dumps({"text": "x", "topics": ["Knitting"]}) + "\n")
    with pytest.raises(ValueError, match="unknown topic"):
        read_labelled(path, topics)


def _write_fixture(path: Path, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    vocab = {
        "football": ["goal", "striker", "league", "match", "football", "referee"],
        "cooking": ["pasta", "oven", "recipe", "sauce", "cooking", "garlic"],
        "flights": ["flight", "delayed", "airport", "gate", "boarding", "pilot"],
    }
    filler = ["today", "really", "again", "honestly", "so", "this", "my", "the"]
    with path.open("w") as fh:
        for _ in range(n):
            labels = [str(rng.choice(list(vocab)))]
            if rng.random() < 0.2:
                labels.append(str(rng.choice(list(vocab))))
            words = [str(rng.choice(vocab[lab])) for lab in labels for _ in range(3)] + list(rng.choice(filler, 3))
            rng.shuffle(words)
            fh.write(json.dumps({"text": " ".join(words), "topics": sorted(set(labels))}) + "\n")


def test_train_and_eval_commands_round_trip(tmp_path: Path, small_yaml: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    _write_fixture(train, 90, seed=1)
    _write_fixture(test, 40, seed=2)
    out = tmp_path / "artifact"
    calibrate_command(train=train, topics=small_yaml, out=out, embedder="hash", cv=3)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("loo_macro_f1=") and "cv_macro_f1=" in last
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["rows"] == 90 and prov["embedder"] == "hash" and len(prov["train_sha256"]) == 64
    assert "goal" not in (out / "calibration.json").read_text()  # no raw text in the artifact
    command(jsonl=test, topics=small_yaml, calibration=out, embedder="hash", cv=0)
    lines = capsys.readouterr().out.strip().splitlines()
    fields = dict(kv.split("=") for kv in lines[-1].split())
    assert set(fields) == {"macro_f1", "micro_f1", "n"} and fields["n"] == "40"
    assert float(fields["macro_f1"]) > 0.8
    command(jsonl=train, topics=small_yaml, calibration=None, embedder="hash", cv=3)
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("macro_f1=")


def test_docs_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (REPO / "docs" / "topics.md").read_text()
    block = text.split("```python\n")[-1].split("```")[0]
    monkeypatch.chdir(REPO)
    exec(compile(block, "docs/topics.md", "exec"), {})


def test_from_yaml_picks_up_the_shipped_calibration() -> None:
    tagger = EmbeddingTopicTagger.from_yaml(TWEET_TOPIC_YAML, HashEmbedder())
    cal = Calibration.load(TWEET_TOPIC_CALIBRATION)
    assert tagger.min_labels == 1 and tagger.margin == cal.margin
    plain = EmbeddingTopicTagger.from_yaml(TWEET_TOPIC_YAML, HashEmbedder(), calibration=None)
    assert plain.min_labels == 0


def test_shipped_calibration_artifact_is_complete() -> None:
    cal = Calibration.load(TWEET_TOPIC_CALIBRATION)
    assert cal.topic_ids == TWEET_TOPIC_IDS and cal.pos_means.shape == (19, 384)
    prov = json.loads((TWEET_TOPIC_CALIBRATION / "provenance.json").read_text())
    assert prov["rows"] == 180 and prov["cv"]["macro_f1"] > 0.3 and prov["train_file"] == "en_train.jsonl"


@pytest.mark.slow
def test_shipped_calibration_tags_obvious_tweets() -> None:
    # the ONNX cache is keyed by a content hash, so a shared temp dir is safe and saves rebuilds
    cache = os.environ.get("HYPERMICRO_MODEL_CACHE_DIR") or Path(tempfile.gettempdir()) / "hypermicro-test-models"
    enc = registry.create("embedder", "onnx-minilm", cache_dir=cache)
    tagger = EmbeddingTopicTagger.from_yaml(TWEET_TOPIC_YAML, enc, calibration=TWEET_TOPIC_CALIBRATION)
    texts = [
        "What a comeback in the fourth quarter, the Celtics win the championship!",
        "New album drops Friday and the lead single is already stuck in my head",
        "Made homemade ramen tonight, the broth simmered for eight hours",
        "Senate passes the new voting rights bill after a long debate",
    ]
    tags = tagger.tag(enc.encode(texts).embeddings)
    first = [row[0][0] for row in tags]
    assert first == ["sports", "music", "food_&_dining", "news_&_social_concern"]
    # uncalibrated brand taxonomy: an off-topic post gets nothing, a delay complaint gets "delays"
    brand = EmbeddingTopicTagger.from_yaml(REPO / "pipeline" / "config" / "topics.yaml", enc)
    rows = brand.tag(enc.encode(["my flight got cancelled and I missed my connection", "happy birthday sis"]).embeddings)
    assert rows[0] and rows[0][0][0] == "delays"
    assert rows[1] == []
