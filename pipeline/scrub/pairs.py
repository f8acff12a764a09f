"""Pairs of lines that share an integer key (a same-day group, a patient), without pandas."""

from __future__ import annotations

import numpy as np


def pairs_on(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (into `left`, into `right`) of every pair of rows with equal keys.

    Ordered by left position, then right position: the order of an inner merge that keeps the
    left keys' order. Keys are non-negative integers.
    """
    left = np.asarray(left, dtype="int64")
    right = np.asarray(right, dtype="int64")
    if not len(left) or not len(right):
        empty = np.zeros(0, dtype="int64")
        return empty, empty
    order = np.argsort(right, kind="stable")
    size = int(max(left.max(), right.max())) + 1
    counts = np.bincount(right, minlength=size)
    starts = np.cumsum(counts) - counts
    per_left = counts[left]
    total = int(per_left.sum())
    li = np.repeat(np.arange(len(left), dtype="int64"), per_left)
    # Position within each left row's run of matches, added to that key's first sorted row.
    offset = np.arange(total, dtype="int64") - np.repeat(np.cumsum(per_left) - per_left, per_left)
    ri = order[np.repeat(starts[left], per_left) + offset]
    return li, ri
