"""Online clustering of posts into conversations (pure numpy; no Faust).

Policy, one post at a time in arrival order:

* **Join or open.** A post joins the active conversation whose centroid (normalised sum of
  member embeddings) is most similar, if that cosine is ``>= threshold``; otherwise it opens
  a new conversation. Centroids drift as members arrive; the id never changes.
* **Merge.** At the end of each :meth:`~ConversationClusterer.assign` call, every
  conversation that changed is compared with the live ones; if its drifted centroid is
  ``>= merge_threshold`` similar to another, the two merge. The larger one (ties: the
  older, then the lower sequence number) keeps its id; the other is retired with
  ``merged_into`` set, and its id resolves to the survivor for ``ttl_s``.
* **Split.** Cohesion is ``||sum|| / size`` (the mean member-to-centroid cosine, exact for
  unit vectors). At the end of a call, a conversation with ``split_check_every`` joins
  since its last check, at least ``min_split_size`` members and cohesion below
  ``split_cohesion`` is re-examined: 2-means over its recent members (a bounded
  reservoir); if both halves hold at least two posts and their centroids are less similar
  than ``merge_threshold`` (so they would not merge straight back), one half leaves as a
  new conversation (``split_from`` = the old id): the larger half keeps the id (ties: the
  half with the oldest member). Ids already handed out never change; later posts go to
  whichever part is closer.
* **Bounded memory.** Conversations idle longer than ``ttl_s`` (relative to the latest
  timestamp seen) are evicted, at most ``max_conversations`` stay active (least recently
  active evicted first), each keeps at most ``reservoir_size`` recent member vectors
  (float16) and ``max_terms`` term counts.

Key terms use class-based TF-IDF (:mod:`models.conversation_terms`); the centroid matrix,
2-means and the split decision live in :mod:`models.vectors`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from models.conversation_terms import TermIndex
from models.vectors import CentroidMatrix, single_thread_blas, split_off, unit


@dataclass(frozen=True)
class ConversationSnapshot:
    """What storage keeps about one conversation."""

    id: str
    key_terms: list[str]
    size: int
    first_seen: float
    last_seen: float
    merged_into: str | None = None
    split_from: str | None = None


@dataclass
class _Conversation:
    id: str
    seq: int
    vec_sum: np.ndarray  # float64 (d,)
    size: int
    first_seen: float
    last_seen: float
    terms: Counter[str] = field(default_factory=Counter)
    reservoir: list[tuple[np.ndarray, tuple[str, ...]]] = field(default_factory=list)
    joins_since_check: int = 0
    split_from: str | None = None

    def centroid(self) -> np.ndarray:
        norm = float(np.linalg.norm(self.vec_sum))
        return (self.vec_sum / norm if norm > 0 else self.vec_sum).astype(np.float32)

    def cohesion(self) -> float:
        return float(np.linalg.norm(self.vec_sum)) / max(self.size, 1)

    def take(self, members: np.ndarray) -> tuple[list[tuple[np.ndarray, tuple[str, ...]]], np.ndarray, Counter[str]]:
        """Remove the reservoir ``members`` (indices) from this conversation; returns them with
        their vector sum and term counts (never more terms than the conversation holds)."""
        leaving = set(members.tolist())
        moved = [self.reservoir[i] for i in members]
        self.reservoir = [r for i, r in enumerate(self.reservoir) if i not in leaving]
        moved_sum = np.sum([v.astype(np.float64) for v, _ in moved], axis=0)
        moved_terms: Counter[str] = Counter()
        for _, terms in moved:
            moved_terms.update(terms)
        self.vec_sum = self.vec_sum - moved_sum
        self.size -= len(moved)
        moved_terms &= self.terms
        self.terms.subtract(moved_terms)
        self.terms = +self.terms
        return moved, moved_sum, moved_terms


def _to_epoch(ts: float | int | datetime) -> float:
    if isinstance(ts, datetime):
        return ts.timestamp()
    return float(ts)


class ConversationClusterer:
    """Assigns posts to conversations online; see the module docstring for the policy."""

    def __init__(
        self, threshold: float = 0.55, window: float = 6 * 3600.0, merge_threshold: float = 0.85,
        split_cohesion: float = 0.5, min_split_size: int = 8, split_check_every: int = 8,
        max_conversations: int = 2000, reservoir_size: int = 32, max_terms: int = 400,
        key_terms: int = 8, id_prefix: str = "conv-",
    ) -> None:
        """``window`` is the inactivity TTL in seconds; ``id_prefix`` should differ per partition/worker."""
        if not 0 < threshold < 1 or not threshold <= merge_threshold <= 1:
            raise ValueError("need 0 < threshold <= merge_threshold <= 1")
        self.threshold = threshold
        self.ttl_s = float(window)
        self.merge_threshold = merge_threshold
        self.split_cohesion = split_cohesion
        self.min_split_size = min_split_size
        self.split_check_every = split_check_every
        self.max_conversations = max_conversations
        self.reservoir_size = reservoir_size
        self.max_terms = max_terms
        self.key_terms = key_terms
        self.id_prefix = id_prefix
        self._active: dict[str, _Conversation] = {}
        self._retired: dict[str, ConversationSnapshot] = {}
        self._terms = TermIndex(max_terms)
        self._seq = 0
        self._now = -math.inf
        self._cents = CentroidMatrix()  # centroids of the active conversations

    def _set_row(self, conv: _Conversation) -> None:
        self._cents.set(conv.id, conv.centroid())

    # ------------------------------------------------------------------ lifecycle

    def _new_id(self) -> tuple[str, int]:
        self._seq += 1
        return f"{self.id_prefix}{self._seq}", self._seq

    def _open(self, vec: np.ndarray, terms: tuple[str, ...], ts: float, split_from: str | None = None) -> _Conversation:
        cid, seq = self._new_id()
        conv = _Conversation(cid, seq, vec.astype(np.float64), 1, ts, ts, split_from=split_from)
        conv.reservoir.append((vec.astype(np.float16), terms))
        conv.terms = self._terms.add(conv.terms, terms)
        self._active[cid] = conv
        self._set_row(conv)
        return conv

    def _evict(self) -> None:
        horizon = self._now - self.ttl_s
        for cid in [c for c, conv in self._active.items() if conv.last_seen < horizon]:
            self._drop(cid)
        if len(self._active) > self.max_conversations:
            by_age = sorted(self._active.values(), key=lambda c: (c.last_seen, c.seq))
            for conv in by_age[: len(self._active) - self.max_conversations]:
                self._drop(conv.id)
        for rid in [r for r, snap in self._retired.items() if snap.last_seen < horizon]:
            del self._retired[rid]

    def _drop(self, cid: str) -> None:
        conv = self._active.pop(cid)
        self._cents.delete(cid)
        self._terms.remove(conv.terms)

    def _merge(self, a: _Conversation, b: _Conversation) -> _Conversation:
        keep, gone = (a, b) if (a.size, -a.first_seen, -a.seq) >= (b.size, -b.first_seen, -b.seq) else (b, a)
        gone_terms = self._key_terms(gone)
        keep.vec_sum = keep.vec_sum + gone.vec_sum
        keep.size += gone.size
        keep.first_seen = min(keep.first_seen, gone.first_seen)
        keep.last_seen = max(keep.last_seen, gone.last_seen)
        keep.reservoir = (keep.reservoir + gone.reservoir)[-self.reservoir_size :]
        del self._active[gone.id]
        self._cents.delete(gone.id)
        self._set_row(keep)
        self._terms.remove(gone.terms)
        keep.terms = self._terms.add(keep.terms, gone.terms)
        self._retired[gone.id] = ConversationSnapshot(
            gone.id, gone_terms, gone.size, gone.first_seen, self._now, merged_into=keep.id,
            split_from=gone.split_from,
        )
        return keep

    def _maybe_split(self, conv: _Conversation) -> None:
        conv.joins_since_check = 0
        if conv.size < self.min_split_size or conv.cohesion() >= self.split_cohesion:
            return
        if len(conv.reservoir) < 4:
            return
        x = np.stack([unit(v.astype(np.float32)) for v, _ in conv.reservoir])
        small = split_off(x, self.merge_threshold)
        if small is None:
            return
        moved, moved_sum, moved_terms = conv.take(small)
        self._terms.remove(moved_terms)
        cid, seq = self._new_id()
        new = _Conversation(cid, seq, moved_sum, len(moved), self._now, self._now, reservoir=moved, split_from=conv.id)
        new.terms = self._terms.add(new.terms, moved_terms)
        self._active[cid] = new
        self._set_row(conv)
        self._set_row(new)

    # ------------------------------------------------------------------ public API

    def assign(
        self, embeddings: np.ndarray, texts: Sequence[str], timestamps: Sequence[float | int | datetime],
    ) -> list[str]:
        """Conversation id of each post (in input order); ``embeddings`` rows are L2-normalised.

        Similarities to the conversations that existed before the call come from one matrix
        product per call; only conversations touched inside the call are re-scored per post.
        Merge and split checks run once at the end of the call, so a post may carry the id
        of a conversation merged away by that check: :meth:`resolve` maps it to the survivor.
        """
        emb = np.asarray(embeddings, dtype=np.float32)
        if not (len(emb) == len(texts) == len(timestamps)):
            raise ValueError("embeddings, texts and timestamps must have the same length")
        if len(emb) == 0:
            return []
        with single_thread_blas():
            return self._assign(emb, texts, timestamps)

    def _assign(
        self, emb: np.ndarray, texts: Sequence[str], timestamps: Sequence[float | int | datetime],
    ) -> list[str]:
        emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        self._evict()
        n_start = len(self._cents)  # rows stay put during the loop (drops wait for the end)
        base = emb @ self._cents.mat[:n_start].T if n_start else np.zeros((len(emb), 0), np.float32)
        untouched = np.ones(n_start, dtype=bool)  # snapshot rows whose centroid has not moved
        moved: dict[int, None] = {}  # snapshot rows changed in this call (ordered set)
        skip: set[int] = set()  # rows idle past the TTL (dropped at the end of the call)
        out: list[str] = []
        for i, (text, raw_ts) in enumerate(zip(texts, timestamps, strict=True)):
            vec = emb[i]
            ts = _to_epoch(raw_ts)
            self._now = max(self._now, ts)
            horizon = self._now - self.ttl_s
            while True:  # best live candidate
                row, best = -1, -np.inf
                if n_start:
                    cand = np.where(untouched, base[i], -np.inf)
                    j = int(np.argmax(cand))
                    row, best = j, float(cand[j])
                # rows created in this call are contiguous after the snapshot; moved ones are few
                groups = []
                if len(self._cents) > n_start:
                    groups.append(np.arange(n_start, len(self._cents)))
                if moved:
                    groups.append(np.fromiter(moved, np.int64, len(moved)))
                for rows in groups:
                    mat = self._cents.mat
                    sims = (mat[rows[0] : rows[-1] + 1] if rows[0] >= n_start else mat[rows]) @ vec
                    if skip:
                        sims = np.where(np.isin(rows, list(skip)), -np.inf, sims)
                    k = int(np.argmax(sims))
                    if sims[k] > best:
                        row, best = int(rows[k]), float(sims[k])
                if row < 0 or not np.isfinite(best) or self._active[self._cents.rows[row]].last_seen >= horizon:
                    break
                if row < n_start:
                    untouched[row] = False
                moved.pop(row, None)
                skip.add(row)
            terms = self._terms.tokens(text)
            if row < 0 or best < self.threshold:
                conv = self._open(vec, terms, ts)
                out.append(conv.id)
                continue
            conv = self._active[self._cents.rows[row]]
            conv.vec_sum = conv.vec_sum + vec
            conv.size += 1
            conv.last_seen = max(conv.last_seen, ts)
            conv.reservoir = [*conv.reservoir, (vec.astype(np.float16), terms)][-self.reservoir_size :]
            conv.terms = self._terms.add(conv.terms, terms)
            conv.joins_since_check += 1
            self._set_row(conv)
            if row < n_start:
                untouched[row] = False
                moved[row] = None
            out.append(conv.id)
        changed = [self._cents.rows[r] for r in moved] + self._cents.rows[n_start:]
        self._evict()  # idle conversations must not absorb fresh ones
        self._merge_overlaps(changed)
        for cid in changed:
            candidate = self._active.get(cid)
            if candidate is not None and candidate.joins_since_check >= self.split_check_every:
                self._maybe_split(candidate)
        self._evict()
        return out

    def _merge_overlaps(self, changed: Sequence[str]) -> None:
        """Merge each changed conversation with the live one its centroid now overlaps most."""
        live = [c for c in changed if c in self._active]
        if not live or len(self._cents) < 2:
            return
        row_ids = list(self._cents.rows)
        sims = np.stack([self._active[c].centroid() for c in live]) @ self._cents.mat[: len(row_ids)].T  # one product
        moved: set[str] = set()
        for cid, row in zip(live, sims, strict=True):
            if cid in moved or cid not in self._active:
                continue  # already merged in this pass: its centroid moved, the next call re-checks it
            over = np.flatnonzero(row >= self.merge_threshold)
            for k in over[np.argsort(-row[over])]:
                other = row_ids[k]
                if other == cid or other not in self._active or other in moved:
                    continue
                survivor = self._merge(self._active[cid], self._active[other])
                moved.update((cid, other, survivor.id))
                break

    def resolve(self, conversation_id: str) -> str:
        """The live id a (possibly merged-away) conversation id now refers to."""
        seen = set()
        cid = conversation_id
        while cid in self._retired and cid not in seen:
            seen.add(cid)
            nxt = self._retired[cid].merged_into
            if nxt is None:
                break
            cid = nxt
        return cid

    def _key_terms(self, conv: _Conversation, top_k: int | None = None) -> list[str]:
        return self._terms.key_terms(conv.terms, len(self._active), top_k or self.key_terms)

    def label(self, conversation_id: str, top_k: int | None = None) -> list[str]:
        """Key terms of a conversation by c-TF-IDF (best first); ``[]`` for an unknown id."""
        cid = self.resolve(conversation_id)
        conv = self._active.get(cid)
        if conv is not None:
            return self._key_terms(conv, top_k)
        snap = self._retired.get(cid)
        return list(snap.key_terms) if snap else []

    def snapshot(self) -> list[ConversationSnapshot]:
        """Every active conversation plus recently merged ones (with ``merged_into``), oldest first."""
        live = [
            ConversationSnapshot(c.id, self._key_terms(c), c.size, c.first_seen, c.last_seen, None, c.split_from)
            for c in self._active.values()
        ]
        return sorted([*live, *self._retired.values()], key=lambda s: (s.first_seen, s.id))

    def __len__(self) -> int:
        return len(self._active)


__all__ = ["ConversationClusterer", "ConversationSnapshot"]
