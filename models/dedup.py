"""Near-duplicate and repost collapse with bounded memory (pure numpy).

``DuplicateIndex.check`` answers, for each post in arrival order, the id of the original it
repeats, or ``None`` when the post is itself an original:

1. **Reposts** (``repost_of_post`` set) point to the original of the reposted post (chains
   of reposts of reposts collapse to the first post).
2. **Copy-paste**: the text normalised by :func:`normalise_text` (case-folded, URLs,
   @mentions, a leading ``RT``, punctuation and whitespace removed) is hashed; the first
   post with that hash is the original. Texts shorter than ``min_chars`` after
   normalisation ("lol", a bare link) are not collapsed by hash.
3. **Near-duplicates**: cosine ``>= near_threshold`` between the post's embedding and the
   embeddings of the last ``near_window`` originals.

Memory is bounded: hashes and per-post answers are LRU maps of ``max_entries`` items, and
the embedding ring holds ``near_window`` rows. Re-checking a post id returns the answer
given the first time (at-least-once redelivery is harmless).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+")
_RT = re.compile(r"^\s*rt\b[:\s]*", re.IGNORECASE)
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise_text(text: str) -> str:
    """Lower-case letters and digits only: no URLs, @mentions, leading RT, punctuation or spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = _MENTION.sub(" ", _URL.sub(" ", text))
    text = _RT.sub("", text)
    return _NON_WORD.sub("", text.casefold())


def text_fingerprint(text: str) -> str:
    """Stable hash of :func:`normalise_text` (hex, 128 bits)."""
    return hashlib.blake2b(normalise_text(text).encode(), digest_size=16).hexdigest()


class DuplicateIndex:
    """Maps each post to the first-seen original it repeats (see module docstring)."""

    def __init__(
        self, near_threshold: float = 0.95, near_window: int = 5000, max_entries: int = 200_000,
        min_chars: int = 10,
    ) -> None:
        self.near_threshold = near_threshold
        self.near_window = near_window
        self.max_entries = max_entries
        self.min_chars = min_chars
        self._by_hash: OrderedDict[str, str] = OrderedDict()
        self._answer: OrderedDict[str, str | None] = OrderedDict()
        self._ring: np.ndarray | None = None
        self._ring_ids: list[str | None] = [None] * near_window
        self._ring_next = 0
        self._ring_size = 0

    def _remember(self, post_id: str, original: str | None) -> str | None:
        self._answer[post_id] = original
        self._answer.move_to_end(post_id)
        while len(self._answer) > self.max_entries:
            self._answer.popitem(last=False)
        return original

    def resolve(self, post_id: str) -> str:
        """The original a known post collapses to (itself if it is an original or unknown)."""
        return self._answer.get(post_id) or post_id

    def _add_to_ring(self, post_id: str, embedding: np.ndarray) -> int:
        """Store an original's vector; returns the slot it took (-1 when the window is off)."""
        if self.near_window <= 0:
            return -1
        if self._ring is None:
            self._ring = np.zeros((self.near_window, embedding.shape[0]), dtype=np.float32)
        slot = self._ring_next
        self._ring[slot] = embedding
        self._ring_ids[slot] = post_id
        self._ring_next = (slot + 1) % self.near_window
        self._ring_size = min(self._ring_size + 1, self.near_window)
        return slot

    def check(
        self, post_id: str, text: str, embedding: np.ndarray | None = None, repost_of_post: str | None = None,
    ) -> str | None:
        """Id of the original this post repeats, or ``None`` if it is an original.

        For whole batches prefer :meth:`check_batch`: one matrix product scores the batch
        against the embedding window instead of one product per post.
        """
        emb = None if embedding is None else np.asarray(embedding, dtype=np.float32).reshape(1, -1)
        return self.check_batch([post_id], [text], emb, [repost_of_post])[0]

    def check_batch(
        self, post_ids: Sequence[str], texts: Sequence[str], embeddings: np.ndarray | None = None,
        repost_of: Sequence[str | None] | None = None,
    ) -> list[str | None]:
        """:meth:`check` over a batch, in order (later rows may point at earlier ones)."""
        from models.vectors import single_thread_blas

        with single_thread_blas():
            return self._check_batch(post_ids, texts, embeddings, repost_of)

    def _check_batch(
        self, post_ids: Sequence[str], texts: Sequence[str], embeddings: np.ndarray | None,
        repost_of: Sequence[str | None] | None,
    ) -> list[str | None]:
        n = len(post_ids)
        if len(texts) != n or (repost_of is not None and len(repost_of) != n):
            raise ValueError("post_ids, texts and repost_of must have the same length")
        vecs = None
        base = None
        if embeddings is not None and n:
            vecs = np.asarray(embeddings, dtype=np.float32).reshape(n, -1)
            vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            if self._ring is not None and self._ring_size:
                base = vecs @ self._ring[: self._ring_size].T  # one product for the whole batch
        stale = np.zeros(self._ring_size, dtype=bool)  # slots overwritten during this batch
        fresh_ids: list[str] = []  # originals added during this batch, and their vectors
        fresh_vecs = np.zeros((n, vecs.shape[1] if vecs is not None else 0), dtype=np.float32)
        out: list[str | None] = []
        for i, (post_id, text) in enumerate(zip(post_ids, texts, strict=True)):
            if post_id in self._answer:
                out.append(self._answer[post_id])
                continue
            rep = repost_of[i] if repost_of is not None else None
            if rep:
                out.append(self._remember(post_id, self.resolve(rep)))
                continue
            norm = normalise_text(text)
            key = hashlib.blake2b(norm.encode(), digest_size=16).hexdigest() if len(norm) >= self.min_chars else None
            if key is not None and key in self._by_hash:
                self._by_hash.move_to_end(key)
                out.append(self._remember(post_id, self._by_hash[key]))
                continue
            vec = vecs[i] if vecs is not None else None
            original = None
            if vec is not None and float(vec @ vec) > 0:
                best = -np.inf
                if base is not None:
                    cand = np.where(stale, -np.inf, base[i])
                    j = int(np.argmax(cand))
                    best, original = float(cand[j]), self._ring_ids[j]
                if fresh_ids:
                    sims = fresh_vecs[: len(fresh_ids)] @ vec
                    k = int(np.argmax(sims))
                    if sims[k] > best:
                        best, original = float(sims[k]), fresh_ids[k]
                if best < self.near_threshold:
                    original = None
            if key is not None:
                self._by_hash[key] = original or post_id
                while len(self._by_hash) > self.max_entries:
                    self._by_hash.popitem(last=False)
            if original is not None:
                out.append(self._remember(post_id, original))
                continue
            if vec is not None and float(vec @ vec) > 0:
                slot = self._add_to_ring(post_id, vec)
                if 0 <= slot < len(stale):
                    stale[slot] = True
                fresh_vecs[len(fresh_ids)] = vec
                fresh_ids.append(post_id)
            out.append(self._remember(post_id, None))
        return out


__all__ = ["DuplicateIndex", "normalise_text", "text_fingerprint"]
