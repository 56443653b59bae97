"""Online conversation clustering: join/open, stable ids, merge, split, TTL, c-TF-IDF labels, state."""

from __future__ import annotations

import numpy as np
import pytest

from models.conversations import ConversationClusterer
from models.embedding import HashEmbedder

D = 64


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _around(rng: np.random.Generator, center: np.ndarray, n: int, noise: float = 0.25) -> np.ndarray:
    return _unit(center[None, :] + noise * rng.normal(size=(n, D)) / np.sqrt(D))


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _basis(k: int) -> np.ndarray:
    return np.eye(D, dtype=np.float32)[:k]


def test_posts_group_by_conversation_with_stable_ids(rng: np.random.Generator) -> None:
    a, b = _basis(2)
    cl = ConversationClusterer(threshold=0.6)
    emb = np.vstack([_around(rng, a, 5), _around(rng, b, 5)])
    texts = ["flight delayed at the gate"] * 5 + ["pasta sauce recipe tonight"] * 5
    ids = cl.assign(emb, texts, list(range(10)))
    assert len(set(ids[:5])) == 1 and len(set(ids[5:])) == 1 and ids[0] != ids[5]
    # later posts of the same conversation keep the id even as the centroid drifts
    drift = _unit(a + 0.3 * _basis(3)[2])
    later = cl.assign(_around(rng, drift, 3), ["still delayed at the gate"] * 3, [20, 21, 22])
    assert set(later) == {ids[0]}
    assert cl.assign(_around(rng, _basis(4)[3], 1), ["something else entirely"], [23])[0] not in ids


def test_inputs_must_align() -> None:
    with pytest.raises(ValueError):
        ConversationClusterer().assign(np.zeros((2, D)), ["a"], [0, 1])


def test_idle_conversations_expire_after_ttl(rng: np.random.Generator) -> None:
    a = _basis(1)[0]
    cl = ConversationClusterer(threshold=0.6, window=100)
    first = cl.assign(_around(rng, a, 2), ["x y", "x y"], [0, 10])
    assert cl.assign(_around(rng, a, 1), ["x y"], [50])[0] == first[0]
    again = cl.assign(_around(rng, a, 1), ["x y"], [500])[0]  # idle for 450 s > ttl
    assert again != first[0]
    assert len(cl) == 1 and [s.id for s in cl.snapshot()] == [again]


def test_memory_is_bounded(rng: np.random.Generator) -> None:
    cl = ConversationClusterer(threshold=0.9, merge_threshold=0.95, max_conversations=10, reservoir_size=4, max_terms=20)
    emb = _unit(rng.normal(size=(200, D)))
    texts = [" ".join(f"w{rng.integers(0, 5000)}" for _ in range(30)) for _ in range(200)]
    cl.assign(emb, texts, list(range(200)))
    assert len(cl) <= 10
    same = _around(rng, _basis(1)[0], 40, noise=0.05)
    cl.assign(same, texts[:40], list(range(200, 240)))
    live = cl._active.values()  # per-conversation memory is internal: no public view of it
    assert all(len(c.reservoir) <= 4 and len(c.terms) <= 20 for c in live)


def test_merge_keeps_the_larger_conversation_id() -> None:
    a, b = _basis(2)
    b_near = 0.4 * a + np.sqrt(1 - 0.16) * b  # cos(a, b_near) = 0.4: separate conversations at first
    mid = _unit(a + b_near)
    cl = ConversationClusterer(threshold=0.5, merge_threshold=0.65, split_check_every=1000)
    big = cl.assign(np.vstack([a] * 4), ["alpha"] * 4, [0, 1, 2, 3])[0]
    small = cl.assign(np.vstack([b_near] * 2), ["beta"] * 2, [4, 5])[0]
    assert big != small
    # posts between the two drift the big centroid until it overlaps the small one
    merged = cl.assign(np.vstack([mid] * 6), ["alpha beta"] * 6, list(range(6, 12)))
    assert merged[-1] == big
    snaps = {s.id: s for s in cl.snapshot()}
    assert snaps[small].merged_into == big
    assert cl.resolve(small) == big
    assert snaps[big].size == 12 and len(cl) == 1
    assert cl.label(small) == cl.label(big)
    assert cl.assign(np.vstack([b_near]), ["beta"], [13]) == [big]


def test_spread_out_conversation_splits_into_new_id() -> None:
    a, b = _basis(2)
    # a thread drifting from one subject (a) to an unrelated one (b) in small steps
    angles = np.linspace(0, np.pi / 2, 16)
    x = np.stack([np.cos(t) * a + np.sin(t) * b for t in angles])
    texts = ["apples orchard"] * 8 + ["bananas market"] * 8
    cl = ConversationClusterer(threshold=0.6, merge_threshold=0.85, split_cohesion=0.93,
                               min_split_size=8, split_check_every=4)
    ids = cl.assign(x, texts, list(range(16)))
    first = ids[0]
    assert set(ids[:8]) == {first}  # ids handed out never change
    split = [s for s in cl.snapshot() if s.split_from == first]
    assert len(split) == 1
    # later posts go to whichever part is closer; each part's key terms follow its members
    to_b, to_a = cl.assign(np.vstack([b, a]), ["bananas", "apples"], [20, 21])
    assert {to_a, to_b} == {first, split[0].id}
    assert "bananas" in cl.label(to_b) and "apples" in cl.label(to_a)


def test_labels_use_class_based_tfidf() -> None:
    emb = HashEmbedder()
    cl = ConversationClusterer(threshold=0.2)
    texts = [
        "the airline delayed my flight again at the gate",
        "flight delayed at gate 12, airline says weather",
        "airline delayed flight, gate agent clueless https://t.co/abc @airline",
        "this pasta recipe with garlic sauce is great",
        "garlic pasta recipe, best sauce ever",
        "pasta night: garlic sauce recipe from grandma",
    ]
    ids = cl.assign(emb.encode(texts).embeddings, texts, list(range(6)))
    assert ids[0] == ids[1] == ids[2] and ids[3] == ids[4] == ids[5] and ids[0] != ids[3]
    flight = cl.label(ids[0], top_k=4)
    pasta = cl.label(ids[3], top_k=4)
    assert set(flight) <= {"airline", "delayed", "flight", "gate", "weather", "agent", "clueless", "says"}
    assert {"flight", "delayed"} & set(flight) and {"pasta", "garlic"} & set(pasta)
    assert not {"the", "at", "my", "https", "abc"} & set(flight + pasta)  # stop words, URLs, mentions
    assert cl.label("conv-unknown") == []
