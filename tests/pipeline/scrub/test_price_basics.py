"""Fee-schedule amounts, settings, statuses and releases, checked against hand arithmetic.

All amounts use the bundled CY2025 files: CF 32.3465; Houston (04412-18) GPCIs work 1.014,
PE 1.003, MP 1.409; San Francisco (01112-05) 1.088, 1.419, 0.445.
"""

from __future__ import annotations

import pytest

from tests.conftest import SAN_FRANCISCO, allowed, flags_of


def test_99213_nonfacility_san_francisco(scrub):
    """(1.30*1.088 + 1.35*1.419 + 0.10*0.445) * 32.3465 = 109.154881575 -> $109.15."""
    result = scrub({"hcpcs_code": "99213", "service_zip": SAN_FRANCISCO})
    assert allowed(result) == [10915]
    line = result.lines.iloc[0]
    assert (line["release"], line["pricing_locality"], line["setting"]) == (
        "RVU25D",
        "01112-05",
        "non_facility",
    )
    assert (line["gpci_work"], line["gpci_pe"], line["gpci_mp"]) == (1088, 1419, 445)
    assert (line["work_rvu"], line["pe_rvu"], line["mp_rvu"]) == (130, 135, 10)
    assert line["conversion_factor"] == 323465
    assert line["line_status"] == "priced"
    assert flags_of(result, 1) == []


def test_99213_facility_rate_by_place_of_service(scrub):
    """POS 22 uses the facility PE 0.57: (1.4144 + 0.57*1.419 + 0.0445) * CF = 73.3531 -> $73.35."""
    result = scrub(
        {"hcpcs_code": "99213", "service_zip": SAN_FRANCISCO, "place_of_service_code": "22"}
    )
    assert allowed(result) == [7335]
    assert result.lines["setting"].iloc[0] == "facility"


def test_half_cent_tie_rounds_up(scrub):
    """61530 in Rest of Pennsylvania (12502-99; GPCIs 1.000/0.927/0.925):
    (45.56*1 + 29.25*0.927 + 18.73*0.925) * 32.3465 = 2911.185 exactly -> $2911.19 half-up
    (binary-float round() gives 2911.18).
    """
    result = scrub({"hcpcs_code": "61530", "carrier": "12502", "locality": "99", "service_zip": ""})
    assert allowed(result) == [291119]
    assert round(2911.185, 2) == 2911.18  # the float trap this guards against


def test_opps_imaging_cap(scrub):
    """70496 in Houston, non-facility. Fee (1.75*1.014 + 6.56*1.003 + 0.11*1.409)*CF = 275.2419
    -> $275.24; OPPS amount (1.75*1.014 + 6.11*1.003 + 0.11*1.409)*CF = 260.6423 -> $260.64,
    lower, so the cap applies.
    """
    result = scrub({"hcpcs_code": "70496"})
    assert allowed(result) == [26064]
    assert "OPPS_CAP_APPLIED" in flags_of(result, 1)
    assert bool(result.lines["opps_cap_applied"].iloc[0])


def test_professional_and_technical_components_national(scrub):
    """No location: national GPCIs 1.000. 78580-26: (0.74+0.25+0.04)*CF = 33.3169 -> $33.32.
    78580-TC: (5.32+0.04)*CF = 173.3772 -> $173.38 (OPPS 401.74 is higher: no cap).
    """
    result = scrub(
        {"hcpcs_code": "78580", "hcpcs_modifier_1": "26", "service_zip": "", "patient_id": "A"},
        {"hcpcs_code": "78580", "hcpcs_modifier_1": "TC", "service_zip": "", "patient_id": "B"},
    )
    assert allowed(result) == [3332, 17338]
    assert flags_of(result, 1) == ["NO_LOCATION"]
    assert list(result.lines["pricing_locality"]) == ["national", "national"]


def test_global_test_in_facility_is_flagged(scrub):
    """78580 global at POS 21 in Houston: facility fee (0.74*1.014 + 5.57*1.003 + 0.08*1.409)*CF
    = 208.6281 -> $208.63; the -26 amount there is 34.2055 -> $34.21; at risk 208.63 - 34.21.
    """
    result = scrub({"hcpcs_code": "78580", "place_of_service_code": "21"})
    assert allowed(result) == [20863]
    flags = result.flags.set_index("rule_code")
    assert flags.loc["GLOBAL_TEST_IN_FACILITY", "dollars_at_risk_cents"] == 20863 - 3421
    assert "PE_NA_SETTING" in flags.index


def test_modifier_26_on_a_code_without_components(scrub):
    result = scrub({"hcpcs_code": "99213", "hcpcs_modifier_1": "26", "charge_amount": "120.00"})
    assert result.lines["line_status"].iloc[0] == "not_payable"
    assert allowed(result) == [0]
    assert (
        result.flags.set_index("rule_code").loc[
            "MODIFIER_INVALID_FOR_CODE", "dollars_at_risk_cents"
        ]
        == 12000
    )


@pytest.mark.parametrize(
    ("code", "status", "rule"),
    [
        pytest.param("J1100", "not_payable", "NOT_PAYABLE", id="status E excluded"),
        pytest.param("0001F", "not_payable", "NOT_PAYABLE", id="status I invalid for Medicare"),
        pytest.param("0500F", "not_payable", "REPORTING_ONLY", id="status M measurement"),
        pytest.param("20930", "not_payable", "NOT_PAYABLE", id="status B bundled"),
        pytest.param("11055", "carrier_priced", "CARRIER_PRICED", id="status R restricted"),
        pytest.param("36415", "other_fee_schedule", "OTHER_FEE_SCHEDULE", id="status X lab"),
        pytest.param("00100", "carrier_priced", "ANESTHESIA_NOT_PRICED", id="status J anesthesia"),
        pytest.param("0633T", "carrier_priced", "CARRIER_PRICED", id="status C"),
        pytest.param("ZZ999", "rejected", "INPUT_INVALID", id="not a HCPCS code shape"),
        pytest.param("99999", "unknown_code", "UNKNOWN_CODE", id="unknown CPT code"),
        pytest.param("E0431", "other_fee_schedule", "NOT_ON_FEE_SCHEDULE", id="DME code"),
    ],
)
def test_status_decides_payability(scrub, code, status, rule):
    result = scrub({"hcpcs_code": code})
    assert result.lines["line_status"].iloc[0] == status
    assert flags_of(result, 1) == [rule]


def test_release_in_force_by_date_of_service(scrub):
    """G9037 is status A in RVU25A (to 2025-09-30) and I in RVU25D (from 2025-10-01).
    National, RVU25A: (0.57 + 0.63 + 0.04) * 32.3465 = 40.10966 -> $40.11.
    0948T exists only from RVU25D.
    """
    result = scrub(
        {"hcpcs_code": "G9037", "claim_line_start_date": "2025-09-30", "service_zip": ""},
        {"hcpcs_code": "G9037", "claim_line_start_date": "2025-10-01", "service_zip": ""},
        {"hcpcs_code": "0948T", "claim_line_start_date": "2025-09-30"},
        {"hcpcs_code": "0948T", "claim_line_start_date": "2025-10-01"},
    )
    assert list(result.lines["release"]) == ["RVU25A", "RVU25D", "RVU25A", "RVU25D"]
    assert list(result.lines["line_status"]) == [
        "priced",
        "not_payable",
        "unknown_code",
        "carrier_priced",
    ]
    assert allowed(result)[:2] == [4011, 0]


def test_dates_outside_loaded_years_are_never_priced(scrub):
    result = scrub(
        {"hcpcs_code": "99213", "claim_line_start_date": "2018-06-01", "charge_amount": "80.00"},
        {"hcpcs_code": "99213", "claim_line_start_date": "2026-01-01"},
    )
    assert list(result.lines["line_status"]) == ["outside_loaded_years"] * 2
    assert allowed(result) == [None, None]
    assert flags_of(result, 1) == ["OUTSIDE_LOADED_YEARS"]
    assert result.flags["dollars_at_risk_cents"].iloc[0] == 8000


def test_injection_status_t_bundled_with_another_service(scrub):
    """36591 (status T) in Houston: (0.82*1.003 + 0.01*1.409) * CF = 27.0595 -> $27.06 alone;
    with 99214 the same day by the same provider it is not paid.
    """
    alone = scrub({"hcpcs_code": "36591"})
    assert allowed(alone) == [2706]
    both = scrub({"hcpcs_code": "36591"}, {"hcpcs_code": "99214"})
    assert list(both.lines["line_status"]) == ["not_payable", "priced"]
    assert allowed(both) == [0, 12821]
    hit = both.flags[both.flags["rule_code"] == "INJECTION_BUNDLED"]
    assert hit["dollars_at_risk_cents"].tolist() == [2706]


def test_locality_sources_and_their_flags(scrub):
    result = scrub(
        {"hcpcs_code": "99213", "service_zip": "94303", "patient_id": "A"},
        {"hcpcs_code": "99213", "service_zip": "00000", "patient_id": "B"},
        {
            "hcpcs_code": "99213",
            "service_zip": "",
            "carrier": "01182",
            "locality": "18",
            "patient_id": "C",
        },
        {
            "hcpcs_code": "99213",
            "service_zip": "",
            "carrier": "99999",
            "locality": "01",
            "patient_id": "D",
        },
    )
    assert list(result.lines["pricing_locality"]) == [
        "01112-09",
        "national",
        "01182-18",
        "national",
    ]
    assert flags_of(result, 1) == ["ZIP_NEEDS_PLUS_FOUR"]
    assert flags_of(result, 2) == ["ZIP_NOT_FOUND"]
    assert flags_of(result, 3) == []
    assert flags_of(result, 4) == ["LOCALITY_NOT_FOUND"]


def test_default_locality_for_lines_without_location(scrub):
    result = scrub({"hcpcs_code": "99213", "service_zip": ""}, default_locality="01112-05")
    assert allowed(result) == [10915]
    assert result.lines["locality_source"].iloc[0] == "default"
