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
    if isinstance(array, pd.arrays.NumpyExtensionArray):
        array = array.to_numpy()  # pandas hashes a bare numpy array faster than its wrapper
    if isinstance(array, np.ndarray) and array.dtype.kind in "iu" and len(array):
        if array.min() >= 0:  # small non-negative integers (ids): a presence table, no hashing
            return factorized_keys(array, int(array.max()) + 1)
    ids, uniques = pd.factorize(array)
    uniques = np.asarray(uniques)
    return ids.astype("int64"), uniques.astype(object) if uniques.dtype.kind == "U" else uniques


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
