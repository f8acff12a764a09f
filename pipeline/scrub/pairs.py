"""Pairs of lines that share an integer key (a same-day group, a patient), without pandas."""

from __future__ import annotations

import numpy as np


def pairs_on(
    left: np.ndarray, right: np.ndarray, *columns: tuple[np.ndarray, np.ndarray]
) -> list[np.ndarray]:
    """Every pair of a left row and a right row with equal keys, as columns of the pairs.

    Each of `columns` is (per left row, per right row) values; the result has one array per
    value column, left then right, in that order. Pairs are ordered by left row, then right
    row: the order of an inner merge that keeps the left keys' order. Keys are small
    non-negative integers (ids).
    """
    left = np.asarray(left, dtype="int64")
    right = np.asarray(right, dtype="int64")
    if not len(left) or not len(right):
        return [v[:0] for pair in columns for v in pair]
    order = np.argsort(right, kind="stable")
    size = int(max(left.max(), right.max())) + 1
    counts = np.bincount(right, minlength=size)
    per_left = counts[left]
    # Sorted right row of each pair: its key's first sorted row, plus its rank in the run.
    first = (np.cumsum(counts) - counts)[left] - (np.cumsum(per_left) - per_left)
    at = np.repeat(first, per_left)
    at += np.arange(len(at), dtype="int64")
    out = []
    for left_values, right_values in columns:
        out.append(np.repeat(left_values, per_left))
        out.append(np.asarray(right_values)[order][at])
    return out
