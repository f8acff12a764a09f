"""Ranking helpers for multiple-procedure reductions, vectorized over groups of lines."""

from __future__ import annotations

import numpy as np

from pipeline.money import div_round_half_up


def rank_units(
    group: np.ndarray, amount: np.ndarray, units: np.ndarray, tiebreak: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rank lines within each group by per-unit amount (highest first), counting units.

    Each unit counts as one procedure. Returns, per line, how many of its units come before
    it in its group (`before`) so callers can tell full from reduced units. Ties in amount
    are broken by `tiebreak` (input order), which never changes the total paid.
    """
    order = np.lexsort((tiebreak, -amount, group))
    g, u = group[order], units[order]
    csum = np.cumsum(u)
    start = np.r_[True, g[1:] != g[:-1]]
    group_start_csum = np.maximum.accumulate(np.where(start, csum - u, 0))
    before_sorted = csum - u - group_start_csum
    before = np.empty_like(before_sorted)
    before[order] = before_sorted
    return before, order


def full_and_reduced(before: np.ndarray, units: np.ndarray, full_count: int = 1):
    """Split each line's units into those paid in full and those reduced."""
    full = np.clip(full_count - before, 0, units)
    return full, units - full


def reduce_cents(unit_cents: np.ndarray, reduced_units: np.ndarray, keep_bp: int) -> np.ndarray:
    """Amount removed when `reduced_units` units are paid at keep_bp/10000 of `unit_cents`."""
    kept = div_round_half_up(unit_cents * reduced_units * keep_bp, 10000)
    return unit_cents * reduced_units - kept
