"""RVU rows found by (release, code, modifier) on the bundled RVU25A and RVU25D files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.extract.releases import bundled_reference_data
from pipeline.scrub.lookup import Codes, RvuIndex


@pytest.fixture(scope="module")
def rvu_index() -> RvuIndex:
    return RvuIndex(bundled_reference_data())


def _codes(values: list[str | None]) -> Codes:
    return Codes.of(pd.Series(values, dtype="category"))


def test_rows_by_release_code_and_modifier(rvu_index):
    # Release 0 is RVU25A, 1 is RVU25D. 0948T is new in RVU25D; 99213 has no TC row;
    # XX is no modifier of the file; ZZZZZ no code; a missing code matches nothing.
    rel = np.array([0, 0, 1, 0, 1, 0, 1, 1, 1])
    codes = _codes(["71046", "71046", "71046", "0948T", "0948T", "99213", "99213", "ZZZZZ", None])
    mods = pd.Categorical(["", "26", "TC", "", "", "TC", "XX", "", ""])
    rows = rvu_index.lookup(rel, codes, mods)
    assert rows.found.tolist() == [True, True, True, False, True, False, False, False, False]
    assert rows["work_rvu"].tolist() == [22, 22, 0, 0, 0, 0, 0, 0, 0]
    assert rows["nf_pe_rvu"].tolist() == [77, 8, 69, 0, 0, 0, 0, 0, 0]
    assert list(rows["status"]) == ["A", "A", "A", "", "C", "", "", "", ""]


def test_one_modifier_for_every_line(rvu_index):
    rows = rvu_index.lookup(np.array([0, 1, 1]), _codes(["71046", "99213", "0948T"]), "26")
    assert rows.found.tolist() == [True, False, False]
    assert rvu_index.lookup(np.array([0]), _codes(["71046"]), "QQ").found.tolist() == [False]


def test_code_present_in_release_with_any_modifier(rvu_index):
    rel = np.array([0, 1, 0, 1, 1])
    codes = _codes(["0948T", "0948T", "M1389", "M1389", None])
    assert rvu_index.has_code(rel, codes).tolist() == [False, True, True, False, False]
