"""`claims-scrub explain`: amounts by hand from the bundled CMS files, NCCI facts, tips, errors.

Bundled CY2025 data: CF 32.3465 (RVU25D). GPCIs (GPCI2025): national 1.000/1.000/1.000;
Houston 04412-18 work 1.014, PE 1.003, MP 1.409; San Francisco 01112-05 (ZIP 94110) 1.088,
1.419, 0.445. RVU25D rows (work, PE non-facility, PE facility, MP):
  78597 0.75 4.63 4.63 0.06 | -26 0.75 0.22 0.22 0.03 | -TC 0.00 4.41 4.41 0.03
  78580 0.74 5.57 5.57 0.08 | -26 0.74 0.25 0.25 0.04 | -TC 0.00 5.32 5.32 0.04
  78579 0.49 4.52 4.52 0.05 | -26 0.49 0.16 0.16 0.02 | -TC 0.00 4.36 4.36 0.03
  78598 0.85 7.14 7.14 0.07 | -26 0.85 0.26 0.26 0.03 | -TC 0.00 6.88 6.88 0.04
Facility PE equals non-facility PE for these rows, so both settings price alike; the OPPS
amounts (PE 12.56 etc.) are higher, so the imaging cap never applies to them.
"""

from __future__ import annotations

import json

import pytest

from pipeline.errors import PipelineError
from pipeline.explain.code import explain_code
from pipeline.explain.text import render
from pipeline.extract.ncci import bundled_ncci


@pytest.fixture(scope="module")
def explain():
    from pipeline.extract.releases import bundled_reference_data

    ref = bundled_reference_data()
    ncci = bundled_ncci()

    def run(code: str, **kwargs) -> dict:
        return explain_code(code, ref, ncci=ncci, **kwargs)

    return run


def amounts(doc: dict) -> dict[tuple[str, str], int | None]:
    return {(a["modifier"], a["setting"]): a["allowed_cents"] for a in doc["amounts"]}


def by_component(cents_global: int, cents_26: int, cents_tc: int) -> dict:
    return {
        ("", "non_facility"): cents_global,
        ("", "facility"): cents_global,
        ("26", "non_facility"): cents_26,
        ("26", "facility"): cents_26,
        ("TC", "non_facility"): cents_tc,
        ("TC", "facility"): cents_tc,
    }


def test_78597_national(explain):
    """National GPCIs 1.000:
    global (0.75 + 4.63 + 0.06) * 32.3465 = 5.44 * 32.3465 = 175.96496 -> $175.96
    -26    (0.75 + 0.22 + 0.03) * 32.3465 = 1.00 * 32.3465 =  32.3465  -> $32.35
    -TC    (0.00 + 4.41 + 0.03) * 32.3465 = 4.44 * 32.3465 = 143.61846 -> $143.62
    """
    doc = explain("78597")
    assert doc["date_of_service"] == "2025-10-01"  # the newest loaded release's first day
    assert doc["release"] == {
        "name": "RVU25D",
        "in_force_from": "2025-10-01",
        "in_force_until": "2025-12-31",
        "conversion_factor": "32.3465",
    }
    assert doc["locality"]["key"] == "national"
    assert doc["locality"]["gpci"] == {"work": "1.000", "pe": "1.000", "mp": "1.000"}
    assert amounts(doc) == by_component(17596, 3235, 14362)
    assert [(r["modifier"], r["work"], r["pe_non_facility"], r["mp"]) for r in doc["rvus"]] == [
        ("", "0.75", "4.63", "0.06"),
        ("26", "0.75", "0.22", "0.03"),
        ("TC", "0.00", "4.41", "0.03"),
    ]
    assert [r["pe_facility_na"] for r in doc["rvus"]] == [True, False, True]


def test_78597_houston_by_locality(explain):
    """Houston 04412-18 (work 1.014, PE 1.003, MP 1.409):
    global 0.75*1.014 + 4.63*1.003 + 0.06*1.409 = 0.7605 + 4.64389 + 0.08454 = 5.48893;
           * 32.3465 = 177.547674245 -> $177.55
    -26    0.7605 + 0.22*1.003 + 0.03*1.409 = 0.7605 + 0.22066 + 0.04227 = 1.02343;
           * 32.3465 = 33.104378495 -> $33.10
    -TC    4.41*1.003 + 0.03*1.409 = 4.42323 + 0.04227 = 4.46550; * 32.3465 = 144.44329575
           -> $144.44
    """
    doc = explain("78597", locality="04412-18")
    assert amounts(doc) == by_component(17755, 3310, 14444)
    assert doc["locality"] == {
        "key": "04412-18",
        "name": "HOUSTON",
        "state": "TX",
        "from": "--locality",
        "zip": None,
        "zip_needs_plus_four": False,
        "gpci": {"work": "1.014", "pe": "1.003", "mp": "1.409"},
    }
    global_facility = next(
        a for a in doc["amounts"] if a["modifier"] == "" and a["setting"] == "facility"
    )
    assert global_facility["place_of_service"] == "22"
    assert global_facility["rvu"] == {"work": "0.75", "pe": "4.63", "mp": "0.06"}
    assert global_facility["notes"] == [
        "PE_NA_SETTING: CMS marks this setting's practice expense for 78597 as NA; the file's "
        "value was used.",
        "GLOBAL_TEST_IN_FACILITY: Global 78597 billed at POS 22; bill 78597-26 ($33.10).",
    ]


def test_78597_san_francisco_by_zip(explain):
    """ZIP 94110 -> 01112-05 (work 1.088, PE 1.419, MP 0.445):
    global 0.75*1.088 + 4.63*1.419 + 0.06*0.445 = 0.816 + 6.56997 + 0.0267 = 7.41267;
           * 32.3465 = 239.773930155 -> $239.77
    -26    0.816 + 0.22*1.419 + 0.03*0.445 = 0.816 + 0.31218 + 0.01335 = 1.14153;
           * 32.3465 = 36.924500145 -> $36.92
    -TC    4.41*1.419 + 0.01335 = 6.25779 + 0.01335 = 6.27114; * 32.3465 = 202.84943001
           -> $202.85
    """
    doc = explain("78597", zip5="94110")
    assert amounts(doc) == by_component(23977, 3692, 20285)
    assert (doc["locality"]["key"], doc["locality"]["from"], doc["locality"]["zip"]) == (
        "01112-05",
        "zip",
        "94110",
    )


def test_78580_national_and_houston(explain):
    """National: global 6.39 * 32.3465 = 206.694135 -> $206.69; -26 1.03 * 32.3465 = 33.316895
    -> $33.32; -TC 5.36 * 32.3465 = 173.37724 -> $173.38.
    Houston: global 0.74*1.014 + 5.57*1.003 + 0.08*1.409 = 0.75036 + 5.58671 + 0.11272 =
    6.44979; * 32.3465 = 208.628132235 -> $208.63. -26 0.75036 + 0.25075 + 0.05636 = 1.05747;
    * 32.3465 = 34.205453355 -> $34.21. -TC 5.33596 + 0.05636 = 5.39232; * 32.3465 = 174.42267888
    -> $174.42.
    """
    assert amounts(explain("78580")) == by_component(20669, 3332, 17338)
    assert amounts(explain("78580", locality="04412-18")) == by_component(20863, 3421, 17442)


def test_amounts_are_the_scrubs_own(explain, scrub):
    """The same line scrubbed as a claim prices to the cent what explain shows."""
    doc = explain("78597", locality="04412-18")
    result = scrub(
        {"hcpcs_code": "78597", "hcpcs_modifier_1": "26", "place_of_service_code": "22"},
        {"hcpcs_code": "78597", "patient_id": "P2", "place_of_service_code": "11"},
    )
    scrubbed = result.lines["expected_allowed_cents"].tolist()
    assert scrubbed == [amounts(doc)[("26", "facility")], amounts(doc)[("", "non_facility")]]


def test_indicators_in_words(explain):
    doc = explain("78597")
    words = {i["indicator"]: (i["value"], i["meaning"]) for i in doc["indicators"]}
    assert words["PC/TC"] == (
        "1",
        "diagnostic test with a professional (26) and a technical (TC) component",
    )
    assert words["Global days"] == ("XXX", "global concept does not apply")
    assert words["Multiple procedure"] == ("0", "no multiple-procedure reduction")
    assert words["Imaging family"] == ("99", "concept does not apply")
    assert set(words) == {
        "PC/TC",
        "Global days",
        "Multiple procedure",
        "Bilateral",
        "Assistant at surgery",
        "Co-surgeons (62)",
        "Team surgery (66)",
        "Imaging family",
    }
    assert doc["status"] == {
        "code": "A",
        "meaning": "active: paid separately under the fee schedule",
    }


def test_ncci_partners_both_directions(explain):
    """Bundled PTP 2024Q2: 78597/78580 MI 0, 78597/78579 MI 1, 78598/78597 MI 0;
    MUE 78597: 1, MAI 3 (DOS, clinical)."""
    ncci = explain("78597")["ncci"]
    bundles = {p["code"]: p for p in ncci["bundles"]}
    into = {p["code"]: p for p in ncci["bundled_into"]}
    assert (len(bundles), len(into)) == (47, 22)
    assert bundles["78580"]["modifier_indicator"] == 0
    assert bundles["78580"]["modifier_bypass"] is False
    assert bundles["78579"]["modifier_indicator"] == 1
    assert bundles["78579"]["modifier_bypass"] is True
    assert into["78598"]["modifier_indicator"] == 0
    assert into["78598"]["rationale"] == "HCPCS/CPT procedure code definition"
    assert ncci["mue"]["units"] == 1 and ncci["mue"]["mai"] == 3
    assert ncci["mue"]["meaning"].startswith("date-of-service edit, clinical")
    assert ncci["addon"] is None
    assert (ncci["release"], ncci["days_older_than_the_quarter"]) == ("2024Q2", 548)


def test_addon_primaries(explain):
    addon = explain("99292")["ncci"]["addon"]
    assert (addon["edit_type"], addon["primaries"]) == (1, ["99291"])
    assert explain("G2211")["ncci"]["addon"]["primaries"] == ["99202-99215"]


def test_tip_effects_houston(explain):
    """Effect = correct coding minus incorrect, each through price_lines, Houston 04412-18.
    Combination, 78598 in place of 78597 + 78579 (both paid):
      global office: 78598 (0.8619 + 7.16142 + 0.09863 = 8.12195) * CF = 262.716655675 -> $262.72;
        78579 (0.49686 + 4.53356 + 0.07045 = 5.10087) * CF = 164.995291455 -> $165.00;
        262.72 - (177.55 + 165.00) = -$79.83
      -26 facility: 78598-26 (0.8619 + 0.26078 + 0.04227 = 1.16495) * CF = 37.682 -> $37.68;
        78579-26 (0.49686 + 0.16048 + 0.02818 = 0.68552) * CF = 22.174 -> $22.17;
        37.68 - (33.10 + 22.17) = -$17.59
      -TC office: 78598-TC (6.90064 + 0.05636 = 6.957) * CF = 225.0346 -> $225.03;
        78579-TC (4.37308 + 0.04227 = 4.41535) * CF = 142.8211 -> $142.82;
        225.03 - (144.44 + 142.82) = -$62.23
    Documentation, 78580 in place of 78597: 208.63 - 177.55 = +$31.08; 34.21 - 33.10 = +$1.11;
      174.42 - 144.44 = +$29.98.
    """
    tips = {t["id"]: t for t in explain("78597", locality="04412-18")["tips"]}
    assert list(tips) == [
        "LUNG_VQ_QUANTITATIVE_COMBINATION",
        "LUNG_PERFUSION_DIFFERENTIAL_PERCENTAGES",
        "LUNG_PERFUSION_AGENT",
    ]
    combo = tips["LUNG_VQ_QUANTITATIVE_COMBINATION"]["effect"]
    assert (combo["incorrect"], combo["correct"]) == (["78597", "78579"], ["78598"])
    assert [
        (c["modifier"], c["setting"], c["incorrect_cents"], c["correct_cents"], c["effect_cents"])
        for c in combo["cases"]
    ] == [
        ("", "non_facility", 34255, 26272, -7983),
        ("26", "facility", 5527, 3768, -1759),
        ("TC", "non_facility", 28726, 22503, -6223),
    ]
    docs = tips["LUNG_PERFUSION_DIFFERENTIAL_PERCENTAGES"]["effect"]
    assert [c["effect_cents"] for c in docs["cases"]] == [3108, 111, 2998]
    supply = tips["LUNG_PERFUSION_AGENT"]
    assert supply["effect"] is None
    assert supply["supplies"] == [
        {
            "code": "A9540",
            "status": "C",
            "meaning": "carrier-priced: the MAC sets the amount case by case",
        }
    ]
    assert supply["effect_note"].startswith("carrier-priced (status C): no fee-schedule dollar")
    for tip in tips.values():
        assert all(s["url"].startswith("https://") for s in tip["sources"])


def test_tip_effect_national(explain):
    """78598 nationally: 8.06 * 32.3465 = 260.71279 -> $260.71; 78579: 5.06 * 32.3465 = 163.67329
    -> $163.67; 260.71 - (175.96 + 163.67) = -$78.92."""
    tips = {t["id"]: t for t in explain("78598")["tips"]}
    cases = tips["LUNG_VQ_QUANTITATIVE_COMBINATION"]["effect"]["cases"]
    assert (cases[0]["incorrect_cents"], cases[0]["correct_cents"]) == (33963, 26071)
    assert cases[0]["effect_cents"] == -7892


def test_json_output_shape(capsys):
    from pipeline.cli import main

    assert main(["explain", "78597", "--locality", "04412-18", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc) == [
        "code",
        "date_of_service",
        "release",
        "locality",
        "status",
        "rvus",
        "amounts",
        "indicators",
        "ncci",
        "tips",
        "denials",
    ]
    assert set(doc["amounts"][0]) == {
        "component",
        "modifier",
        "setting",
        "place_of_service",
        "line_status",
        "status_code",
        "rvu",
        "conversion_factor",
        "fee_schedule_cents",
        "opps_cap_applied",
        "allowed_cents",
        "adjustments",
        "notes",
    }
    assert set(doc["ncci"]) == {
        "release",
        "effective",
        "days_older_than_the_quarter",
        "bundles",
        "bundled_into",
        "mue",
        "addon",
    }
    assert doc["denials"]["available"] is False
    assert doc["amounts"][0]["allowed_cents"] == 17755


def test_text_output(capsys):
    from pipeline.cli import main

    assert main(["explain", "78597", "--locality", "04412-18"]) == 0
    out = capsys.readouterr().out
    for expected in (
        "78597 on 2025-10-01: release RVU25D (in force 2025-10-01 to 2025-12-31), conversion "
        "factor 32.3465",
        "Locality 04412-18 HOUSTON, TX (from --locality): GPCI work 1.014, PE 1.003, MP 1.409",
        "  global                             $177.55               $177.55 *",
        "  professional (26)                   $33.10                  $33.10",
        "  Global days XXX             global concept does not apply",
        "       global, non-facility                   $342.55 ->    $262.72   -$79.83",
        "Denial patterns: no remittance history",
    ):
        assert expected in out, expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"code": "7859"}, "'7859' is not a HCPCS/CPT code; give its 5 letters or digits"),
        ({"code": "99999"}, "code 99999 is not in release RVU25D (in force on 2025-10-01)"),
        ({"code": "M1389"}, "it is in RVU25A: pick a date in force there"),
        (
            {"code": "78597", "locality": "04412-77"},
            "--locality '04412-77' is not a carrier-locality of the GPCI file of RVU25D",
        ),
        ({"code": "78597", "zip5": "77"}, "--zip '77' is not a ZIP code"),
        ({"code": "78597", "zip5": "00000"}, "--zip 00000 is not in the CMS ZIP file"),
        ({"code": "78597", "dos": "2025-02-30"}, "--date '2025-02-30' is not a date; use YYYY-MM"),
        ({"code": "78597", "dos": "2024-06-01"}, "--date 2024-06-01 is outside the loaded"),
        (
            {"code": "78597", "zip5": "77030", "locality": "04412-18"},
            "give --locality or --zip, not both",
        ),
    ],
)
def test_bad_input_is_a_clear_error(explain, kwargs, message):
    kwargs = dict(kwargs)
    code = kwargs.pop("code")
    with pytest.raises(PipelineError) as err:
        explain(code, **kwargs)
    assert message in str(err.value)


def test_cli_error_exit_code(capsys):
    from pipeline.cli import main

    assert main(["explain", "99999"]) == 2
    assert "claims-scrub: code 99999 is not in release RVU25D" in capsys.readouterr().err


def test_date_picks_the_release_in_force(explain):
    """2025-03-01 is in RVU25A; 78597 has the same RVUs there: $175.96 nationally."""
    doc = explain("78597", dos="2025-03-01")
    assert doc["release"]["name"] == "RVU25A"
    assert amounts(doc)[("", "non_facility")] == 17596


def test_render_carrier_priced_code(explain):
    text = render(explain("A9540"))
    assert "  global                    carrier-priced *        carrier-priced *" in text
    assert "Status C: carrier-priced" in text


def test_render_lists_the_first_partners_of_each_group_unless_asked_for_all(explain):
    doc = explain("99213")
    short, whole = render(doc), render(doc, all_codes=True)
    header = "    MI 1, a modifier may bypass: 59 or XE/XS/XP/XU (or an anatomic modifier such as"
    assert header + " RT/LT) (5,947):" in short
    assert "0484T ... and 5,907 more (--all-codes lists them)" in short
    assert " Q2043" not in short and short.count("\n") == 48
    assert "P3001 Q0091 Q2043" in whole and "more (--all-codes" not in whole
