"""NCCI edits on small hand-made batches, with the bundled 2024Q2 tables and custom ones."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from pipeline.extract.ncci import NcciRelease, bundled_ncci
from pipeline.scrub.tips import KIND_RULES
from tests.conftest import NO_EDITS, flags_of

FACILITY = {"place_of_service_code": "22"}


@pytest.fixture
def edits(scrub):
    """Scrub with the bundled NCCI release."""

    def run(*rows, **kwargs):
        return scrub(*rows, ncci=bundled_ncci(), **kwargs)

    return run


def ncci_flags(result, line: int) -> list[str]:
    """The line's flags less the billing-tip flags (tests/pipeline/scrub/test_tips.py)."""
    return [f for f in flags_of(result, line) if f not in KIND_RULES.values()]


def _custom_ptp(**row) -> NcciRelease:
    """A release holding one PTP row (column 1 99214, column 2 99213 unless given)."""
    ptp = pd.DataFrame(
        [
            {
                "column1": "99214",
                "column2": "99213",
                "effective_date": None,
                "deletion_date": None,
                "modifier_indicator": 1,
                "rationale": "test",
                **row,
            }
        ]
    ).astype(
        {
            "effective_date": "datetime64[s]",
            "deletion_date": "datetime64[s]",
            "modifier_indicator": "int8",
        }
    )
    return NcciRelease("test", date(2025, 1, 1), ptp, NO_EDITS.mue, NO_EDITS.aoc, "test")


def test_ptp_indicator_0_bundles_column_2_across_claims(edits):
    """78597/78580 is an active edit with modifier indicator 0 (PROVENANCE s7)."""
    result = edits(
        {"hcpcs_code": "78597", "claim_id": "C1"},
        {"hcpcs_code": "78580", "claim_id": "C2", "hcpcs_modifier_1": "59"},
        {"hcpcs_code": "78580", "claim_id": "C3", "claim_line_start_date": "2025-10-16"},
        {"hcpcs_code": "78580", "claim_id": "C4", "rendering_npi": "1987654328"},
    )
    assert ncci_flags(result, 1) == []
    assert ncci_flags(result, 2) == ["PTP_BUNDLED"]
    assert "BYPASS_MODIFIER_WITHOUT_EDIT" not in flags_of(result, 2)
    assert ncci_flags(result, 3) == []
    assert ncci_flags(result, 4) == []
    hit = result.flags.set_index("rule_code").loc["PTP_BUNDLED"]
    assert hit["dollars_at_risk_cents"] == result.lines["expected_allowed_cents"].iloc[1]
    assert "column-1 code 78597 (claim C1 line 1)" in hit["reason"]


def test_ptp_indicator_1_needs_a_modifier(edits):
    result = edits(
        {"hcpcs_code": "99214", "patient_id": "A"},
        {"hcpcs_code": "99213", "patient_id": "A"},
        {"hcpcs_code": "99214", "patient_id": "B"},
        {"hcpcs_code": "99213", "patient_id": "B", "hcpcs_modifier_1": "XU"},
    )
    assert flags_of(result, 2) == ["PTP_MODIFIER_NEEDED"]
    assert flags_of(result, 4) == []
    assert "add 25 if the visit was significant" in result.flags["reason"].iloc[0]


def test_blank_patient_ids_are_not_one_patient(edits):
    result = edits(
        {"hcpcs_code": "78597", "patient_id": "", "claim_id": "C1"},
        {"hcpcs_code": "78580", "patient_id": "", "claim_id": "C2"},
    )
    assert ncci_flags(result, 2) == []


def test_bypass_modifier_without_an_edit(edits):
    result = edits({"hcpcs_code": "99213", "hcpcs_modifier_1": "59"})
    assert flags_of(result, 1) == ["BYPASS_MODIFIER_WITHOUT_EDIT"]


@pytest.mark.parametrize(
    ("dos", "flagged"),
    [
        pytest.param("2025-10-15", True, id="on the deletion date"),
        pytest.param("2025-10-16", False, id="the day after"),
    ],
)
def test_ptp_deletion_date_is_inclusive(scrub, dos, flagged):
    ncci = _custom_ptp(deletion_date=pd.Timestamp("2025-10-15"))
    result = scrub(
        {"hcpcs_code": "99214", "claim_line_start_date": dos},
        {"hcpcs_code": "99213", "claim_line_start_date": dos},
        ncci=ncci,
    )
    assert (flags_of(result, 2) == ["PTP_MODIFIER_NEEDED"]) is flagged


def test_ptp_effective_date_and_indicator_9(scrub):
    later = _custom_ptp(effective_date=pd.Timestamp("2025-10-20"))
    result = scrub({"hcpcs_code": "99214"}, {"hcpcs_code": "99213"}, ncci=later)
    assert flags_of(result, 2) == []
    never = _custom_ptp(modifier_indicator=9)
    result = scrub({"hcpcs_code": "99214"}, {"hcpcs_code": "99213"}, ncci=never)
    assert flags_of(result, 2) == []


def test_mue_line_edit_mai_1(edits):
    """G0514 (itself an add-on): MUE 1, MAI 1. Two units on one line deny; two one-unit
    lines do not."""
    result = edits(
        {"hcpcs_code": "G0514", "service_unit_quantity": "2", "patient_id": "A"},
        {"hcpcs_code": "G0514", "patient_id": "B"},
        {"hcpcs_code": "G0514", "patient_id": "B"},
    )
    assert "MUE_LINE_EXCEEDED" in flags_of(result, 1)
    assert not {"MUE_LINE_EXCEEDED"} & set(flags_of(result, 2) + flags_of(result, 3))
    assert result.lines["mue_status"].tolist() == ["exceeded", "within MUE", "within MUE"]


def test_mue_day_edits_sum_across_claims(edits):
    """G0008: MUE 1, MAI 2 (policy). 78580: MUE 1, MAI 3 (clinical)."""
    result = edits(
        {"hcpcs_code": "G0008", "claim_id": "C1"},
        {"hcpcs_code": "G0008", "claim_id": "C2"},
        {"hcpcs_code": "78580", "service_unit_quantity": "2", "patient_id": "B"},
        {"hcpcs_code": "0001F", "patient_id": "C"},
    )
    assert (
        flags_of(result, 1)
        == flags_of(result, 2)
        == ["OTHER_FEE_SCHEDULE", "MUE_DAY_POLICY_EXCEEDED"]
    )
    assert "MUE_DAY_CLINICAL_EXCEEDED" in flags_of(result, 3)
    mue3 = result.flags.query("input_row == 3 and rule_code == 'MUE_DAY_CLINICAL_EXCEEDED'")
    assert "appeal with records" in mue3["reason"].iloc[0]
    assert result.lines["mue_status"].iloc[3] == "no published MUE"
    assert result.lines["mue_value"].tolist()[:3] == [1, 1, 1]


def test_addon_codes(edits):
    """11045 is a type 1 add-on of 11042; 20701 is type 3 from 2023."""
    result = edits(
        {"hcpcs_code": "11045", "patient_id": "A", **FACILITY},
        {"hcpcs_code": "11045", "patient_id": "B", **FACILITY},
        {"hcpcs_code": "11042", "patient_id": "B", **FACILITY},
        {"hcpcs_code": "20701", "patient_id": "C", **FACILITY},
    )
    assert flags_of(result, 1) == ["ADDON_WITHOUT_PRIMARY"]
    assert "ADDON_WITHOUT_PRIMARY" not in flags_of(result, 2)
    assert "ADDON_PRIMARY_NOT_LISTED" in flags_of(result, 4)


def test_g2211_follows_its_own_rule(edits):
    result = edits(
        {"hcpcs_code": "G2211", "patient_id": "A"},
        {"hcpcs_code": "G2211", "patient_id": "B"},
        {"hcpcs_code": "99213", "patient_id": "B"},
        {"hcpcs_code": "G2211", "patient_id": "C"},
        {"hcpcs_code": "99213", "patient_id": "C", "hcpcs_modifier_1": "25"},
        {"hcpcs_code": "G2211", "patient_id": "D"},
        {"hcpcs_code": "99213", "patient_id": "D", "hcpcs_modifier_1": "25"},
        {"hcpcs_code": "G0439", "patient_id": "D"},
    )
    assert flags_of(result, 1) == ["ADDON_WITHOUT_PRIMARY"]
    assert flags_of(result, 2) == []
    assert flags_of(result, 4) == ["G2211_WITH_MODIFIER_25"]
    assert flags_of(result, 6) == []


def test_modifier_25_on_a_procedure(edits):
    result = edits(
        {"hcpcs_code": "11042", "hcpcs_modifier_1": "25", **FACILITY},
        {"hcpcs_code": "99213", "hcpcs_modifier_1": "25", "patient_id": "B"},
    )
    assert "MODIFIER_25_57_NOT_EM" in flags_of(result, 1)
    assert "MODIFIER_25_57_NOT_EM" not in flags_of(result, 2)


def test_summary_names_the_ncci_release_and_its_age(edits):
    result = edits({"hcpcs_code": "99213"})
    assert result.summary["ncci_release"] == {
        "release": "2024Q2",
        "effective": "2024-04-01",
        "source": result.summary["ncci_release"]["source"],
        "newest_date_of_service": "2025-10-15",
        "days_older_than_that_quarter": 548,
    }


def test_em_around_major_surgery_needs_57(edits):
    """27447 has a 090 global period."""
    result = edits(
        {"hcpcs_code": "27447", "claim_line_start_date": "2025-10-15", **FACILITY},
        {"hcpcs_code": "99213", "claim_line_start_date": "2025-10-14"},
        {
            "hcpcs_code": "99214",
            "claim_line_start_date": "2025-10-15",
            "hcpcs_modifier_1": "57",
            "claim_id": "C2",
        },
        {"hcpcs_code": "99213", "claim_line_start_date": "2025-10-13", "claim_id": "C3"},
    )
    assert "GLOBAL_EM_WITHOUT_57" in flags_of(result, 2)
    assert flags_of(result, 3) == []
    assert "GLOBAL_EM_WITHOUT_57" not in flags_of(result, 4)


def test_em_on_the_day_of_a_minor_procedure(edits):
    """11042 has a 000 global period."""
    rows = [{"hcpcs_code": "11042", **FACILITY}]
    for pid, mod in (("A", ""), ("B", "25"), ("C", "57")):
        rows += [
            {"hcpcs_code": "11042", "patient_id": pid, **FACILITY},
            {"hcpcs_code": "99213", "patient_id": pid, "hcpcs_modifier_1": mod},
        ]
    result = edits(*rows[1:])
    assert "GLOBAL_EM_WITHOUT_25" in flags_of(result, 2)
    assert not {"GLOBAL_EM_WITHOUT_25", "MODIFIER_57_ON_MINOR"} & set(flags_of(result, 4))
    assert "MODIFIER_57_ON_MINOR" in flags_of(result, 6)


@pytest.mark.parametrize(
    ("visit_day", "modifier", "flagged"),
    [
        pytest.param("2025-10-11", "", True, id="post-op day 10"),
        pytest.param("2025-10-12", "", False, id="post-op day 11"),
        pytest.param("2025-10-11", "24", False, id="day 10 with 24"),
    ],
)
def test_em_in_the_post_operative_period(edits, visit_day, modifier, flagged):
    """17000 has a 010 global period: days 1-10 after the procedure."""
    result = edits(
        {"hcpcs_code": "17000", "claim_line_start_date": "2025-10-01"},
        {
            "hcpcs_code": "99213",
            "claim_line_start_date": visit_day,
            "claim_id": "C2",
            "hcpcs_modifier_1": modifier,
        },
    )
    assert ("GLOBAL_EM_WITHOUT_24" in flags_of(result, 2)) is flagged


def test_procedure_in_the_post_operative_period(edits):
    result = edits(
        {"hcpcs_code": "27447", "claim_line_start_date": "2025-10-01", **FACILITY},
        {
            "hcpcs_code": "11042",
            "claim_line_start_date": "2025-10-06",
            "claim_id": "C2",
            **FACILITY,
        },
        {
            "hcpcs_code": "11042",
            "claim_line_start_date": "2025-10-07",
            "claim_id": "C3",
            "hcpcs_modifier_1": "79",
            **FACILITY,
        },
    )
    assert "GLOBAL_PROCEDURE_WITHOUT_MODIFIER" in flags_of(result, 2)
    assert "GLOBAL_PROCEDURE_WITHOUT_MODIFIER" not in flags_of(result, 3)
