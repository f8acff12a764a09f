"""Split a large batch into partitions by patient, so each partition can be scrubbed alone.

Same-day edits (NCCI pairs, MUE, multiple procedures, global periods) compare lines of one
patient; duplicate-line checks and the claim ranking compare lines of one claim. So lines
that share a patient or a claim, directly or through each other, always go to the same
partition: the partition of a group is a hash of its smallest patient key, which does not
depend on the order of the file.
"""

from __future__ import annotations

import hashlib
import logging
import math

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


def partition_count(lines: int, partition_lines: int) -> int:
    """How many partitions a batch of `lines` lines gets (1 when it fits in one)."""
    return max(1, math.ceil(lines / max(1, partition_lines)))


def _text(raw: pd.DataFrame, column: str) -> np.ndarray:
    """The column as stripped text, the way the claim normalizer reads it."""
    if column not in raw.columns:
        return np.full(len(raw), "", dtype=object)
    return raw[column].fillna("").astype("string").str.strip().to_numpy(object)


def patient_groups(raw: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Label lines linked by a patient or a claim; return (label per line, key per label).

    A line's patient is its payer and patient id, or its claim when the patient id is blank
    (as the normalizer groups them). The key of a group is its smallest patient key.
    """
    claim = _text(raw, "claim_id")
    patient = _text(raw, "patient_id")
    payer = _text(raw, "payer")
    key = np.where(patient != "", payer + "|" + patient, "claim|" + claim)
    by_claim = pd.factorize(claim)[0]
    by_patient = pd.factorize(key)[0]
    label = by_patient.copy()
    while True:  # spread the smallest label over claims and patients until nothing changes
        spread = pd.Series(label).groupby(by_claim).transform("min").to_numpy()
        spread = pd.Series(spread).groupby(by_patient).transform("min").to_numpy()
        if np.array_equal(spread, label):
            break
        label = spread
    labels, group = np.unique(label, return_inverse=True)
    keys = pd.Series(key).groupby(group).min().to_numpy(object)
    return group, keys


def assign_partitions(raw: pd.DataFrame, parts: int) -> np.ndarray:
    """Partition number (0..parts-1) of each line of a raw batch."""
    if parts <= 1 or raw.empty:
        return np.zeros(len(raw), dtype="int64")
    group, keys = patient_groups(raw)
    by_key = np.array(
        [int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8).digest(), "big") for k in keys],
        dtype=object,
    )
    part_of_group = (by_key % parts).astype("int64")
    out = part_of_group[group]
    logger.info(
        "split %d lines (%d patient groups) into %d partitions of %s lines",
        len(raw),
        len(keys),
        parts,
        "/".join(str(n) for n in np.bincount(out, minlength=parts)),
    )
    return out
