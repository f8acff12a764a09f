"""The integer building blocks of the edits: line pairs, release indexes, text ids."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from pipeline.extract.ncci import NcciRelease
from pipeline.scrub.ncci_index import MueIndex, PtpIndex
from pipeline.scrub.pairs import pairs_on
from pipeline.scrub.text_ids import as_categorical, text_ids


def test_pairs_follow_an_inner_merge_in_left_order():
    left_key = np.array([2, 0, 2, 5, 1])
    right_key = np.array([1, 2, 2, 0, 3, 2])
    left_pos, right_pos = np.arange(5) * 10, np.arange(6) * 100
    got_left, got_right = pairs_on(left_key, right_key, (left_pos, right_pos))
    merged = pd.DataFrame({"k": left_key, "l": left_pos}).merge(
        pd.DataFrame({"k": right_key, "r": right_pos}), on="k"
    )
    assert got_left.tolist() == merged["l"].tolist() == [0, 0, 0, 10, 20, 20, 20, 40]
    assert got_right.tolist() == merged["r"].tolist() == [100, 200, 500, 300, 100, 200, 500, 0]


def test_pairs_of_nothing():
    got_left, got_right = pairs_on(np.array([], "int64"), np.array([1]), (np.array([]), [7]))
    assert len(got_left) == len(got_right) == 0


def _release(ptp: pd.DataFrame, mue: pd.DataFrame | None = None) -> NcciRelease:
    mue = mue if mue is not None else pd.DataFrame({"hcpcs": [], "mue_value": [], "mai": []})
    return NcciRelease("t", date(2024, 4, 1), ptp, mue, pd.DataFrame(), "tests")


def test_ptp_index_finds_exactly_the_listed_pairs_and_their_rows():
    ptp = pd.DataFrame(
        {
            "column1": ["11000", "11000", "20000", "11000", "30000"],
            "column2": ["20000", "30000", "11000", "20000", "11000"],
        },
        dtype="string",
    )
    index = PtpIndex.of(_release(ptp))
    ids = dict(zip(index.vocab, range(len(index.vocab)), strict=True))
    codes = ["11000", "20000", "30000"]
    keys = np.array([ids[a] * index.width + ids[b] for a in codes for b in codes])
    listed = {(a, b) for a, b in zip(ptp["column1"], ptp["column2"], strict=True)}
    expected = [(a, b) in listed for a in codes for b in codes]
    assert index.contains(keys).tolist() == expected
    lo, count = index.locate(np.array([ids["11000"] * index.width + ids["20000"]]))
    assert sorted(index.rows[lo[0] : lo[0] + count[0]].tolist()) == [0, 3]
    assert index.in_column1[[ids[c] for c in codes]].tolist() == [True, True, True]
    assert index.in_column2[[ids[c] for c in codes]].tolist() == [True, True, True]


def test_mue_index_keeps_the_first_row_of_a_code():
    mue = pd.DataFrame(
        {"hcpcs": ["A0001", "A0001", "B0002"], "mue_value": [1, 5, 3], "mai": [1, 2, 3]}
    )
    index = MueIndex.of(_release(pd.DataFrame({"column1": [], "column2": []}), mue))
    pos = index.codes.get_indexer(["B0002", "A0001", "C0003"])
    assert index.value[pos].tolist() == [3, 1, 0]
    assert index.mai[pos].tolist() == [3, 1, 0]


def test_text_ids_match_pandas_factorize_for_every_storage():
    values = np.array(["b", None, "a", "b", np.nan, "c"], dtype=object)
    expected_ids, expected_uniques = pd.factorize(values)
    for column in (
        pd.Series(values),
        pd.Series(values).astype("category"),
        pd.Series(values, dtype="string"),
    ):
        for mostly_distinct in (False, True):
            ids, uniques = text_ids(column, mostly_distinct=mostly_distinct)
            assert np.asarray(uniques, dtype=object)[ids[ids >= 0]].tolist() == [
                expected_uniques[i] for i in expected_ids[expected_ids >= 0]
            ]
            assert (ids < 0).tolist() == (expected_ids < 0).tolist()
    cat = as_categorical(pd.Series(values))
    assert cat.codes.tolist() == expected_ids.tolist()


def test_ptp_index_without_a_bitmap_searches_the_keys(monkeypatch):
    monkeypatch.setattr("pipeline.scrub.ncci_index.MAX_BITMAP_BITS", 0)
    ptp = pd.DataFrame(
        {"column1": ["11000", "20000"], "column2": ["20000", "30000"]}, dtype="string"
    )
    index = PtpIndex.of(_release(ptp))
    assert not len(index.bitmap)
    ids = dict(zip(index.vocab, range(len(index.vocab)), strict=True))
    codes = ["11000", "20000", "30000"]
    keys = np.array([ids[a] * index.width + ids[b] for a in codes for b in codes])
    expected = [(a, b) in {("11000", "20000"), ("20000", "30000")} for a in codes for b in codes]
    assert index.contains(keys).tolist() == expected
