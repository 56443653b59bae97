"""Repost / copy-paste / near-duplicate collapse with bounded memory."""

from __future__ import annotations

import numpy as np

from models.dedup import DuplicateIndex, normalise_text, text_fingerprint
from models.embedding import HashEmbedder


def test_normalise_text_strips_noise() -> None:
    a = "RT @bob: Delta LOST my bag!!! https://t.co/xyz  #fail"
    b = "delta lost my bag #FAIL https://t.co/other @carol"
    assert normalise_text(a) == normalise_text(b) == "deltalostmybagfail"
    assert text_fingerprint(a) == text_fingerprint(b)
    assert normalise_text("Café  crème") == "cafécrème"


def test_reposts_point_to_the_original_even_through_chains() -> None:
    idx = DuplicateIndex()
    assert idx.check("p1", "original thought about flights") is None
    assert idx.check("p2", "", repost_of_post="p1") == "p1"
    assert idx.check("p3", "", repost_of_post="p2") == "p1"  # repost of a repost
    assert idx.check("p4", "", repost_of_post="unknown-old") == "unknown-old"


def test_copy_paste_points_to_first_seen_and_short_texts_are_kept() -> None:
    idx = DuplicateIndex(min_chars=10)
    assert idx.check("a", "Win a FREE iPhone now!!! https://spam.example/1") is None
    assert idx.check("b", "win a free iphone now https://spam.example/2 @friend") == "a"
    assert idx.check("c", "RT win a free iPhone now") == "a"
    assert idx.check("d", "lol") is None
    assert idx.check("e", "LOL!!") is None  # too short to call a copy
    assert idx.check("f", "https://t.co/only-a-link") is None
    assert idx.check("g", "https://t.co/another-link") is None


def test_near_duplicates_by_embedding_cosine() -> None:
    emb = HashEmbedder()
    texts = [
        "the new phone battery dies after two hours of use",
        "the new phone battery dies after two hours of use, again",
        "I adopted a puppy today and she is perfect",
    ]
    vecs = emb.encode(texts).embeddings
    idx = DuplicateIndex(near_threshold=0.8)
    assert idx.check("1", texts[0], vecs[0]) is None
    assert idx.check("2", texts[1], vecs[1]) == "1"
    assert idx.check("3", texts[2], vecs[2]) is None
    # a later copy of the near-duplicate's text resolves to the first original as well
    assert idx.check("4", texts[1] + "!!", None) == "1"


def test_batch_equals_post_by_post_including_near_duplicates_inside_the_batch() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(size=(30, 48)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    # every third post is a near-copy of an earlier one (possibly in the same batch)
    vecs, texts, ids = [], [], []
    for i in range(90):
        v = base[i // 3] + (0.05 * rng.normal(size=48) if i % 3 else 0)
        vecs.append(v / np.linalg.norm(v))
        texts.append(f"text {i} " + "x" * (i % 7))
        ids.append(f"p{i}")
    emb = np.stack(vecs).astype(np.float32)
    single = DuplicateIndex(near_threshold=0.9, near_window=20)
    expected = [single.check(pid, t, e) for pid, t, e in zip(ids, texts, emb, strict=True)]
    batched = DuplicateIndex(near_threshold=0.9, near_window=20)
    got: list[str | None] = []
    for start in range(0, 90, 32):
        got += batched.check_batch(ids[start : start + 32], texts[start : start + 32], emb[start : start + 32])
    assert got == expected
    assert sum(x is not None for x in got) >= 50


def test_recheck_is_idempotent_and_batch_matches_single() -> None:
    idx = DuplicateIndex()
    assert idx.check("x", "same words in this post") is None
    assert idx.check("y", "Same words in this post!") == "x"
    assert idx.check("x", "same words in this post") is None  # redelivery: same answer
    assert idx.check("y", "anything") == "x"
    other = DuplicateIndex()
    out = other.check_batch(["x", "y", "z"], ["same words in this post", "Same words in this post!", "new one here ok"])
    assert out == ["x" if i == 1 else None for i in range(3)]


def test_memory_is_bounded() -> None:
    rng = np.random.default_rng(0)
    idx = DuplicateIndex(near_window=50, max_entries=100)
    for i in range(1000):
        vec = rng.normal(size=32).astype(np.float32)
        idx.check(f"p{i}", f"unique post number {i} with words", vec)
    assert len(idx._answer) <= 100 and len(idx._by_hash) <= 100
    assert idx._ring is not None and idx._ring.shape == (50, 32)
    # old originals fell out of the window: a copy of post 0 is now treated as new
    assert idx.check("late", "unique post number 0 with words") is None
    assert idx.check("recent", "unique post number 999 with words") == "p999"
