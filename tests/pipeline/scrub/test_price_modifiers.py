"""Bilateral, multiple-procedure and surgical-role rules, each with its arithmetic.

Houston (04412-18) GPCIs 1.014 / 1.003 / 1.409, CF 32.3465, RVU25D. Each percentage step
rounds half-up to the cent.
"""

from __future__ import annotations

from tests.conftest import allowed, flags_of

FACILITY = {"place_of_service_code": "22"}


def test_modifier_50_indicator_1_pays_150_percent(scrub):
    """64721 (BILAT 1), facility: (4.97*1.014 + 7.53*1.003 + 0.99*1.409)*CF = 452.4331 -> $452.43;
    150% = 678.645 -> $678.65.
    """
    result = scrub({"hcpcs_code": "64721", "hcpcs_modifier_1": "50", **FACILITY})
    assert allowed(result) == [67865]
    assert result.lines["bilateral_pct_bp"].iloc[0] == 15000
    assert "BILATERAL_ADJUSTED" in flags_of(result, 1)


def test_rt_and_lt_lines_are_one_bilateral_procedure(scrub):
    """Same as above on two lines: RT $452.43, LT 50% = 226.215 -> $226.22; total $678.65."""
    result = scrub(
        {"hcpcs_code": "64721", "hcpcs_modifier_1": "RT", **FACILITY},
        {"hcpcs_code": "64721", "hcpcs_modifier_1": "LT", **FACILITY},
    )
    assert allowed(result) == [45243, 22622]


def test_bilateral_pair_charged_less_than_150_percent(scrub):
    """Lower of the total charge for both sides ($600) and 150% ($678.65): each side its charge."""
    result = scrub(
        {"hcpcs_code": "64721", "hcpcs_modifier_1": "RT", "charge_amount": "300.00", **FACILITY},
        {"hcpcs_code": "64721", "hcpcs_modifier_1": "LT", "charge_amount": "300.00", **FACILITY},
    )
    assert allowed(result) == [30000, 30000]


def test_two_units_of_a_bilateral_code(scrub):
    result = scrub({"hcpcs_code": "64721", "service_unit_quantity": "2", **FACILITY})
    assert allowed(result) == [67865]


def test_modifier_50_indicator_2_pays_one_side(scrub):
    """92134 (BILAT 2) non-facility: (0.32*1.014 + 0.63*1.003 + 0.02*1.409)*CF = 31.8467
    -> $31.85, once for both sides."""
    result = scrub({"hcpcs_code": "92134", "hcpcs_modifier_1": "50"})
    assert allowed(result) == [3185]


def test_standard_multiple_procedure_reduction(scrub):
    """19125 ($482.35 facility) and 11042 ($61.11 facility): 11042 ranks second by fee, whatever
    the line order, and is paid 50%: 30.555 -> $30.56.
    """
    result = scrub({"hcpcs_code": "11042", **FACILITY}, {"hcpcs_code": "19125", **FACILITY})
    assert allowed(result) == [3056, 48235]
    assert "MPPR_REDUCED" in flags_of(result, 1)
    assert result.lines["mppr_reduction_cents"].fillna(0).tolist() == [3055, 0]


def test_reduction_only_within_patient_provider_and_day(scrub):
    result = scrub(
        {"hcpcs_code": "11042", **FACILITY},
        {"hcpcs_code": "19125", "rendering_npi": "1987654328", **FACILITY},
        {"hcpcs_code": "19125", "claim_line_start_date": "2025-10-16", **FACILITY},
    )
    assert allowed(result) == [6111, 48235, 48235]


def test_endoscopy_family_subtracts_the_base(scrub):
    """45385 ($445.67) and 45380 ($423.37), base 45378 ($335.46), non-facility: the higher is
    paid in full, the other 423.37 - 335.46 = $87.91. 43235 billed with 43239 (its family,
    base 43235) pays nothing.
    """
    result = scrub(
        {"hcpcs_code": "45380"},
        {"hcpcs_code": "45385"},
        {"hcpcs_code": "43235", "patient_id": "P2"},
        {"hcpcs_code": "43239", "patient_id": "P2"},
    )
    got = allowed(result)
    assert got[:3] == [8791, 44567, 0]
    assert "ENDOSCOPY_BASE_BUNDLED" in flags_of(result, 1)


def test_endoscopy_family_ranks_as_one_procedure(scrub):
    """With 27447 ($1,320.65) the same day, the family ($533.58) ranks second: each of its
    lines is paid at 50%: 445.67 -> 222.835 -> $222.84; 87.91 -> 43.955 -> $43.96.
    """
    result = scrub({"hcpcs_code": "45380"}, {"hcpcs_code": "45385"}, {"hcpcs_code": "27447"})
    assert allowed(result) == [4396, 22284, 132065]


def test_imaging_reduces_tc_50_and_pc_5_percent(scrub):
    """74177 global $300.38 (TC $214.71, PC $85.67) and 71260 global $166.15 (TC $111.87,
    PC $54.28). 71260 ranks second on both: TC reduction 111.87 - 55.94 = 55.93; PC reduction
    54.28 - 51.57 (51.566) = 2.71; 166.15 - 55.93 - 2.71 = $107.51.
    """
    result = scrub({"hcpcs_code": "71260"}, {"hcpcs_code": "74177"})
    assert allowed(result) == [10751, 30038]
    assert result.lines["mppr_reduction_cents"].fillna(0).tolist() == [5593 + 271, 0]


def test_therapy_reduces_practice_expense_of_later_units(scrub):
    """97110 x2 ($29.17 each) and 97140 ($27.54). PE parts: 97110 0.43*1.003*CF = 13.95072;
    97140 0.40*1.003*CF = 12.97742. The first 97110 unit has the highest PE and is paid in
    full; the second 97110 unit loses 6.975 -> $6.98 and 97140 loses 6.489 -> $6.49:
    58.34 - 6.98 = $51.36 and 27.54 - 6.49 = $21.05.
    """
    result = scrub({"hcpcs_code": "97140"}, {"hcpcs_code": "97110", "service_unit_quantity": "2"})
    assert allowed(result) == [2105, 5136]


def test_cardiovascular_reduces_tc_25_percent(scrub):
    """93880 TC $146.39 outranks 93306 TC $123.35; 93306 keeps 75% of its TC: 92.5125 -> 92.51,
    reduction 30.84; 189.94 - 30.84 = $159.10.
    """
    result = scrub({"hcpcs_code": "93306"}, {"hcpcs_code": "93880"})
    assert allowed(result) == [15910, 18380]


def test_ophthalmology_reduces_tc_20_percent(scrub):
    """92250 TC $16.03 outranks 92134 TC $14.41; 92134 keeps 80%: 11.528 -> 11.53, reduction
    2.88; 31.85 - 2.88 = $28.97.
    """
    result = scrub({"hcpcs_code": "92134"}, {"hcpcs_code": "92250"})
    assert allowed(result) == [2897, 3609]


def test_surgical_roles(scrub):
    """Facility amounts: 27447 $1,320.65, 47562 $688.95.
    80: 16% of 1320.65 = 211.304 -> $211.30. AS: 13.6% of 688.95 = 93.6972 -> $93.70.
    62: 62.5% of 1320.65 = 825.40625 -> $825.41 (CO-SURG 1: documentation needed).
    80 on 11042 (ASST SURG 1) and 66 on 27447 (TEAM SURG 0) are not payable.
    """
    rows = [
        {"hcpcs_code": "27447", "hcpcs_modifier_1": "80"},
        {"hcpcs_code": "47562", "hcpcs_modifier_1": "AS"},
        {"hcpcs_code": "27447", "hcpcs_modifier_1": "62"},
        {"hcpcs_code": "11042", "hcpcs_modifier_1": "80"},
        {"hcpcs_code": "27447", "hcpcs_modifier_1": "66"},
    ]
    result = scrub(*({**r, **FACILITY, "patient_id": f"P{i}"} for i, r in enumerate(rows)))
    assert allowed(result) == [21130, 9370, 82541, 0, 0]
    assert flags_of(result, 3) == ["CO_SURGERY_NEEDS_DOCUMENTATION"]
    assert flags_of(result, 4) == ["ASSISTANT_NOT_PAYABLE"]
    assert flags_of(result, 5) == ["TEAM_SURGERY_NOT_PAYABLE"]


def test_non_participating_and_limiting_charge(scrub):
    """99213 in San Francisco, $109.15 par. Non-par 95% = 103.6925 -> $103.69. Limiting charge
    109.25% of 109.15 = 119.246 -> $119.25; a $150.00 charge exceeds it by $30.75.
    """
    result = scrub(
        {
            "hcpcs_code": "99213",
            "service_zip": "94110",
            "participating": "N",
            "charge_amount": "150.00",
        }
    )
    assert allowed(result) == [10369]
    assert result.lines["limiting_charge_cents"].iloc[0] == 11925
    risk = result.flags.set_index("rule_code").loc[
        "LIMITING_CHARGE_EXCEEDED", "dollars_at_risk_cents"
    ]
    assert risk == 3075


def test_lower_of_charge_and_missing_charge(scrub):
    """99213 in Houston is $91.00 (90.9956). A $50.00 charge is paid $50.00 and is $41.00
    undercharged; a blank charge is a missing charge, expected at the full $91.00.
    """
    result = scrub(
        {"hcpcs_code": "99213", "charge_amount": "50.00"},
        {"hcpcs_code": "99213", "charge_amount": "", "patient_id": "P2"},
        {"hcpcs_code": "99213", "charge_amount": "0", "patient_id": "P3"},
    )
    assert allowed(result) == [5000, 9100, 9100]
    flags = result.flags.set_index(["input_row", "rule_code"])["dollars_at_risk_cents"]
    assert flags[(1, "UNDERCHARGED")] == 4100
    assert flags[(2, "MISSING_CHARGE")] == 9100
    assert flags[(3, "MISSING_CHARGE")] == 9100


def test_modifier_50_indicator_3_pays_each_side(scrub):
    """73630 (BILAT 3) non-facility: (0.17*1.014 + 0.83*1.003 + 0.02*1.409)*CF = 33.4156
    -> $33.42; each side at 100%: $66.84.
    """
    result = scrub({"hcpcs_code": "73630", "hcpcs_modifier_1": "50"})
    assert allowed(result) == [6684]
    assert result.lines["bilateral_pct_bp"].tolist() == [20000]


def test_modifier_50_indicator_0_pays_one_side(scrub):
    """11042 (BILAT 0) facility $61.11: the 150% adjustment does not apply."""
    result = scrub({"hcpcs_code": "11042", "hcpcs_modifier_1": "50", **FACILITY})
    assert allowed(result) == [6111]


def test_modifier_50_where_the_concept_does_not_apply(scrub):
    """11300 has BILAT 9: modifier 50 is flagged and one side is paid."""
    result = scrub({"hcpcs_code": "11300", "hcpcs_modifier_1": "50"})
    assert "BILATERAL_MODIFIER_INVALID" in flags_of(result, 1)
