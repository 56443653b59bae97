"""Vector helpers of the online clusterer and dedup: a one-thread BLAS context, unit vectors,
deterministic spherical 2-means (and the split decision built on it) and a growable matrix of
conversation centroids."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from threadpoolctl import ThreadpoolController

__all__ = ["CentroidMatrix", "single_thread_blas", "split_off", "two_means", "unit"]

_BLAS: ThreadpoolController | None = None


def single_thread_blas() -> AbstractContextManager[object]:
    """Context limiting numpy's BLAS to one thread.

    The per-post products here are small; multi-threaded BLAS only adds hand-offs, which on
    cores shared with the encoder cost several times the work itself.
    """
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    limiter: AbstractContextManager[object] = _BLAS.limit(limits=1, user_api="blas")
    return limiter


def unit(x: np.ndarray) -> np.ndarray:
    """``x`` as float32 scaled to length 1 (a zero vector stays zero)."""
    x = np.asarray(x, dtype=np.float32)
    n = float(np.linalg.norm(x))
    return x / n if n > 0 else x


def two_means(x: np.ndarray, iters: int = 10) -> np.ndarray | None:
    """Deterministic spherical 2-means: seeds are the row farthest from the mean and the row farthest from it."""
    mean = unit(x.sum(axis=0))
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
                cents[g] = unit(x[labels == g].sum(axis=0))
    return labels


class CentroidMatrix:
    """Centroids of the live conversations as rows of one float32 matrix (one product scores a
    batch against all of them). Rows are packed: deleting one moves the last row into its place."""

    def __init__(self) -> None:
        self.rows: list[str] = []
        """Conversation id of each row, in row order."""
        self.row_of: dict[str, int] = {}
        self.mat = np.zeros((0, 0), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.rows)

    def set(self, cid: str, centroid: np.ndarray) -> None:
        """Write ``cid``'s centroid, appending a row for a new id (the matrix doubles when full)."""
        row = self.row_of.get(cid)
        if row is None:
            if self.mat.shape[1] != centroid.shape[0]:
                if self.rows:
                    raise ValueError(f"embedding dimension changed from {self.mat.shape[1]} to {centroid.shape[0]}")
                self.mat = np.zeros((16, centroid.shape[0]), dtype=np.float32)
            if len(self.rows) == len(self.mat):
                self.mat = np.vstack([self.mat, np.zeros_like(self.mat)])
            row = len(self.rows)
            self.rows.append(cid)
            self.row_of[cid] = row
        self.mat[row] = centroid

    def delete(self, cid: str) -> None:
        """Remove ``cid``'s row (the last row takes its place)."""
        row = self.row_of.pop(cid)
        last = len(self.rows) - 1
        if row != last:
            moved = self.rows[last]
            self.rows[row] = moved
            self.row_of[moved] = row
            self.mat[row] = self.mat[last]
        self.rows.pop()


def split_off(x: np.ndarray, max_similarity: float) -> np.ndarray | None:
    """Rows (indices) of the half that should leave when unit rows ``x`` split in two by
    :func:`two_means`; ``None`` unless both halves hold two rows or more and their centroids
    are less similar than ``max_similarity``. The larger half stays (ties: the half holding row 0)."""
    labels = two_means(x)
    if labels is None:
        return None
    groups = [np.flatnonzero(labels == g) for g in (0, 1)]
    if min(len(g) for g in groups) < 2:
        return None
    cents = [unit(x[g].sum(axis=0)) for g in groups]
    if float(cents[0] @ cents[1]) >= max_similarity:
        return None
    keep_first = len(groups[0]) > len(groups[1]) or (len(groups[0]) == len(groups[1]) and 0 in groups[0])
    return groups[1] if keep_first else groups[0]
