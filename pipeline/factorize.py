"""Integer ids for text columns, taken straight from the codes when a column is categorical."""

from __future__ import annotations

import numpy as np
import pandas as pd


def factorized(values: pd.Series | pd.Categorical | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row ids (int64, -1 for missing) into an array of the distinct values.

    A categorical column costs nothing here (its codes are the ids; unused categories may be
    among the values); anything else is factorized once. Ids follow first appearance, except
    for non-negative integers, whose ids follow their order.
    """
    array = values.array if isinstance(values, pd.Series) else values
    if isinstance(array, pd.Categorical):
        return array.codes.astype("int64"), np.asarray(array.categories, dtype=object)
    if isinstance(array, pd.arrays.NumpyExtensionArray | pd.arrays.DatetimeArray):
        array = array.to_numpy()  # pandas hashes a bare numpy array faster than its wrapper
    if isinstance(array, np.ndarray) and array.dtype.kind == "M" and len(array):
        dated = _by_day(array)
        if dated is not None:
            return dated
    if isinstance(array, np.ndarray) and array.dtype.kind in "iu" and len(array):
        if array.min() >= 0:  # small non-negative integers (ids): a presence table, no hashing
            return factorized_keys(array, int(array.max()) + 1)
    ids, uniques = pd.factorize(array)
    uniques = np.asarray(uniques)
    return ids.astype("int64"), uniques.astype(object) if uniques.dtype.kind == "U" else uniques


def _by_day(array: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Dates as day numbers from the earliest, mapped without hashing (NaT is missing).

    None when a value has a time of day (each time is then its own value) or all are NaT.
    """
    day = array.astype("datetime64[D]")
    missing = np.isnat(array)
    if missing.all() or not ((day.astype(array.dtype) == array) | missing).all():
        return None
    days = day.view("int64")
    first = days[~missing].min()
    ids, offsets = factorized_keys(np.where(missing, 0, days - first), int(days.max() - first) + 1)
    ids[missing] = -1
    return ids, (offsets + first).astype("datetime64[D]")


def factorized_keys(key: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids and distinct values of non-negative integer keys known to be below `space`.

    When the key space is small next to the batch (codes x modifiers x releases), a presence
    table replaces hashing; ids then follow key order rather than first appearance.
    """
    key = np.asarray(key, dtype="int64")
    if space > 4 * len(key) + 1_000_000 or (len(key) and key.min() < 0):
        ids, uniques = pd.factorize(key)
        return ids.astype("int64"), uniques
    present = np.zeros(space, dtype=bool)
    present[key] = True
    uniques = np.flatnonzero(present)
    slot = np.zeros(space, dtype="int64")
    slot[uniques] = np.arange(len(uniques))
    return slot[key], uniques
