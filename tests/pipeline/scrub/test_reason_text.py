"""Reason sentences say "1 unit", never "1 units"."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.extract.ncci import bundled_ncci
from pipeline.scrub.text import Count, render


@pytest.mark.parametrize(
    ("units", "said"),
    [
        pytest.param(1, "1 unit of X", id="one"),
        pytest.param(2, "2 units of X", id="two"),
        pytest.param(0, "0 units of X", id="none"),
    ],
)
def test_count_is_singular_for_one(units, said):
    text = render((Count(np.array([5, units]), "unit"), " of X"), np.array([1]))
    assert text.to_pylist() == [said]


def test_mue_reasons_count_units_in_words(scrub):
    result = scrub(
        {"hcpcs_code": "0582T"},  # MUE 0 per day (MAI 3)
        {"hcpcs_code": "G0008", "claim_id": "C2", "patient_id": "P2"},  # MUE 1 (MAI 2)
        {"hcpcs_code": "G0008", "claim_id": "C2", "patient_id": "P2"},
        ncci=bundled_ncci(),
    )
    flags = result.flags[result.flags["rule_code"].str.startswith("MUE_")]
    assert flags["reason"].str.split(" that day").str[0].tolist() == [
        "1 unit of 0582T",
        "2 units of G0008",
        "2 units of G0008",
    ]
