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

Key terms use class-based TF-IDF (c-TF-IDF, as in BERTopic): term frequency inside a
conversation, normalised by its length, times ``log(1 + A / f_t)`` where ``A`` is the
average number of terms per conversation and ``f_t`` the term's count over all active
conversations. Tokens come from scikit-learn's ``CountVectorizer`` analyzer with English
stop words; URLs and @mentions are dropped first.

State round-trips through :meth:`ConversationClusterer.to_dict` / ``from_dict`` (JSON-safe)
so a restarted worker resumes with the same ids.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+")


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


_BLAS: Any = None


def single_thread_blas() -> Any:
    """Context limiting numpy's BLAS to one thread.

    The per-post products here are small; multi-threaded BLAS only adds hand-offs, which on
    cores shared with the encoder cost several times the work itself.
    """
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


def _to_epoch(ts: float | int | datetime) -> float:
    if isinstance(ts, datetime):
        return ts.timestamp()
    return float(ts)


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    n = float(np.linalg.norm(x))
    return x / n if n > 0 else x


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
        self._doc_freq: Counter[str] = Counter()
        self._seq = 0
        self._now = -math.inf
        self._analyzer: Any = None
        # centroid matrix of the active conversations (row order = self._rows)
        self._rows: list[str] = []
        self._row_of: dict[str, int] = {}
        self._mat = np.zeros((0, 0), dtype=np.float32)

    # ------------------------------------------------------------------ tokens

    def _terms(self, text: str) -> tuple[str, ...]:
        if self._analyzer is None:
            from sklearn.feature_extraction.text import CountVectorizer

            self._analyzer = CountVectorizer(
                stop_words="english", lowercase=True, token_pattern=r"(?u)#?\b[^\W\d_][\w']+\b",
            ).build_analyzer()
        cleaned = _MENTION.sub(" ", _URL.sub(" ", text))
        return tuple(t.strip("'") for t in self._analyzer(cleaned) if t.strip("'") not in ("amp", "rt"))

    def _add_terms(self, conv: _Conversation, terms: Sequence[str] | Counter[str]) -> None:
        counts = terms if isinstance(terms, Counter) else Counter(terms)
        conv.terms.update(counts)
        self._doc_freq.update(counts)
        if len(conv.terms) > self.max_terms:
            keep = dict(conv.terms.most_common(self.max_terms // 2))
            dropped = Counter({t: c for t, c in conv.terms.items() if t not in keep})
            self._remove_terms(dropped)
            conv.terms = Counter(keep)

    def _remove_terms(self, counts: Counter[str]) -> None:
        self._doc_freq.subtract(counts)
        for t in [t for t, _ in counts.items() if self._doc_freq[t] <= 0]:
            del self._doc_freq[t]

    # ------------------------------------------------------------------ centroid matrix

    def _set_row(self, conv: _Conversation) -> None:
        cent = conv.centroid()
        row = self._row_of.get(conv.id)
        if row is None:
            if self._mat.shape[1] != cent.shape[0]:
                self._mat = np.zeros((max(16, len(self._rows) * 2), cent.shape[0]), dtype=np.float32)
                for i, cid in enumerate(self._rows):
                    self._mat[i] = self._active[cid].centroid()
            if len(self._rows) == len(self._mat):
                self._mat = np.vstack([self._mat, np.zeros_like(self._mat)])
            row = len(self._rows)
            self._rows.append(conv.id)
            self._row_of[conv.id] = row
        self._mat[row] = cent

    def _del_row(self, cid: str) -> None:
        row = self._row_of.pop(cid)
        last = len(self._rows) - 1
        if row != last:
            moved = self._rows[last]
            self._rows[row] = moved
            self._row_of[moved] = row
            self._mat[row] = self._mat[last]
        self._rows.pop()

    # ------------------------------------------------------------------ lifecycle

    def _new_id(self) -> tuple[str, int]:
        self._seq += 1
        return f"{self.id_prefix}{self._seq}", self._seq

    def _open(self, vec: np.ndarray, terms: tuple[str, ...], ts: float, split_from: str | None = None) -> _Conversation:
        cid, seq = self._new_id()
        conv = _Conversation(cid, seq, vec.astype(np.float64), 1, ts, ts, split_from=split_from)
        conv.reservoir.append((vec.astype(np.float16), terms))
        self._add_terms(conv, terms)
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
        self._del_row(cid)
        self._remove_terms(conv.terms)

    def _merge(self, a: _Conversation, b: _Conversation) -> _Conversation:
        keep, gone = (a, b) if (a.size, -a.first_seen, -a.seq) >= (b.size, -b.first_seen, -b.seq) else (b, a)
        gone_terms = self._key_terms(gone)
        keep.vec_sum = keep.vec_sum + gone.vec_sum
        keep.size += gone.size
        keep.first_seen = min(keep.first_seen, gone.first_seen)
        keep.last_seen = max(keep.last_seen, gone.last_seen)
        keep.reservoir = (keep.reservoir + gone.reservoir)[-self.reservoir_size :]
        del self._active[gone.id]
        self._del_row(gone.id)
        self._set_row(keep)
        self._remove_terms(gone.terms)
        self._add_terms(keep, gone.terms)
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
        x = np.stack([_unit(v.astype(np.float32)) for v, _ in conv.reservoir])
        labels = _two_means(x)
        if labels is None:
            return
        groups = [np.flatnonzero(labels == g) for g in (0, 1)]
        if min(len(g) for g in groups) < 2:
            return
        cents = [_unit(x[g].sum(axis=0)) for g in groups]
        if float(cents[0] @ cents[1]) >= self.merge_threshold:
            return
        # the larger half keeps the id (ties: the half holding the oldest reservoir member)
        keep_first = len(groups[0]) > len(groups[1]) or (len(groups[0]) == len(groups[1]) and 0 in groups[0])
        small = groups[1] if keep_first else groups[0]
        small_set = set(small.tolist())
        moved = [conv.reservoir[i] for i in small]
        conv.reservoir = [r for i, r in enumerate(conv.reservoir) if i not in small_set]
        moved_sum = np.sum([v.astype(np.float64) for v, _ in moved], axis=0)
        moved_terms: Counter[str] = Counter()
        for _, terms in moved:
            moved_terms.update(terms)
        conv.vec_sum = conv.vec_sum - moved_sum
        conv.size -= len(moved)
        moved_terms &= conv.terms  # never remove more than the conversation holds
        conv.terms.subtract(moved_terms)
        conv.terms = +conv.terms
        self._remove_terms(moved_terms)
        cid, seq = self._new_id()
        new = _Conversation(cid, seq, moved_sum, len(moved), self._now, self._now, reservoir=moved, split_from=conv.id)
        self._add_terms(new, moved_terms)
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
        n_start = len(self._rows)  # rows stay put during the loop (drops wait for the end)
        base = emb @ self._mat[:n_start].T if n_start else np.zeros((len(emb), 0), np.float32)
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
                if len(self._rows) > n_start:
                    groups.append(np.arange(n_start, len(self._rows)))
                if moved:
                    groups.append(np.fromiter(moved, np.int64, len(moved)))
                for rows in groups:
                    sims = (self._mat[rows[0] : rows[-1] + 1] if rows[0] >= n_start else self._mat[rows]) @ vec
                    if skip:
                        sims = np.where(np.isin(rows, list(skip)), -np.inf, sims)
                    k = int(np.argmax(sims))
                    if sims[k] > best:
                        row, best = int(rows[k]), float(sims[k])
                if row < 0 or not np.isfinite(best) or self._active[self._rows[row]].last_seen >= horizon:
                    break
                if row < n_start:
                    untouched[row] = False
                moved.pop(row, None)
                skip.add(row)
            terms = self._terms(text)
            if row < 0 or best < self.threshold:
                conv = self._open(vec, terms, ts)
                out.append(conv.id)
                continue
            conv = self._active[self._rows[row]]
            conv.vec_sum = conv.vec_sum + vec
            conv.size += 1
            conv.last_seen = max(conv.last_seen, ts)
            conv.reservoir = [*conv.reservoir, (vec.astype(np.float16), terms)][-self.reservoir_size :]
            self._add_terms(conv, terms)
            conv.joins_since_check += 1
            self._set_row(conv)
            if row < n_start:
                untouched[row] = False
                moved[row] = None
            out.append(conv.id)
        changed = [self._rows[r] for r in moved] + self._rows[n_start:]
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
        if not live or len(self._rows) < 2:
            return
        row_ids = list(self._rows)
        sims = np.stack([self._active[c].centroid() for c in live]) @ self._mat[: len(row_ids)].T  # one product
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
        top_k = top_k or self.key_terms
        total = sum(conv.terms.values())
        if total == 0:
            return []
        n_conv = max(len(self._active), 1)
        avg = sum(self._doc_freq.values()) / n_conv
        scored = [
            (c / total * math.log(1.0 + avg / max(self._doc_freq.get(t, c), 1)), t)
            for t, c in conv.terms.items()
        ]
        scored.sort(key=lambda p: (-p[0], p[1]))
        return [t for _, t in scored[:top_k]]

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

    # ------------------------------------------------------------------ state

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe state (config, counters, conversations, retired aliases)."""
        return {
            "version": 1,
            "config": {
                "threshold": self.threshold, "window": self.ttl_s, "merge_threshold": self.merge_threshold,
                "split_cohesion": self.split_cohesion, "min_split_size": self.min_split_size,
                "split_check_every": self.split_check_every, "max_conversations": self.max_conversations,
                "reservoir_size": self.reservoir_size, "max_terms": self.max_terms,
                "key_terms": self.key_terms, "id_prefix": self.id_prefix,
            },
            "seq": self._seq,
            "now": None if math.isinf(self._now) else self._now,
            "active": [
                {
                    "id": c.id, "seq": c.seq, "vec_sum": c.vec_sum.tolist(), "size": c.size,
                    "first_seen": c.first_seen, "last_seen": c.last_seen, "terms": dict(c.terms),
                    "reservoir": [[v.astype(np.float32).tolist(), list(t)] for v, t in c.reservoir],
                    "joins_since_check": c.joins_since_check, "split_from": c.split_from,
                }
                for c in self._active.values()
            ],
            "retired": [vars(s) | {"key_terms": list(s.key_terms)} for s in self._retired.values()],
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> ConversationClusterer:
        """Rebuild a clusterer from :meth:`to_dict` output."""
        if state.get("version") != 1:
            raise ValueError(f"unsupported conversation state version {state.get('version')!r}")
        self = cls(**state["config"])
        self._seq = int(state["seq"])
        self._now = -math.inf if state["now"] is None else float(state["now"])
        for c in state["active"]:
            conv = _Conversation(
                c["id"], int(c["seq"]), np.asarray(c["vec_sum"], dtype=np.float64), int(c["size"]),
                float(c["first_seen"]), float(c["last_seen"]), Counter(c["terms"]),
                [(np.asarray(v, dtype=np.float16), tuple(t)) for v, t in c["reservoir"]],
                int(c["joins_since_check"]), c["split_from"],
            )
            self._active[conv.id] = conv
            self._set_row(conv)
            self._doc_freq.update(conv.terms)
        for s in state["retired"]:
            self._retired[s["id"]] = ConversationSnapshot(**s)
        return self


def _two_means(x: np.ndarray, iters: int = 10) -> np.ndarray | None:
    """Deterministic spherical 2-means: seeds are the row farthest from the mean and the row farthest from it."""
    mean = _unit(x.sum(axis=0))
    a = int(np.argmin(x @ mean))
    b = int(np.argmin(x @ x[a]))
    if a == b:
        return None
    cents = np.stack([x[a], x[b]])
    labels = np.zeros(len(x), dtype=np.int64)
    for _ in range(iters):
        new = np.argmax(x @ cents.T, axis=1)
        if (new == labels).all() and _ > 0:
            break
        labels = new
        for g in (0, 1):
            if (labels == g).any():
                cents[g] = _unit(x[labels == g].sum(axis=0))
    return labels


__all__ = ["ConversationClusterer", "ConversationSnapshot", "single_thread_blas"]
