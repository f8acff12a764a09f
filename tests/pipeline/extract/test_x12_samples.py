"""Every shipped X12 sample reads to its documented outcome (docs/x12.md), with values read by
hand from several files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from pipeline.extract.x12_835 import read_remittance
from pipeline.extract.x12_837p import read_837p_batch
from pipeline.extract.x12_envelope import X12FileError

X12 = Path(__file__).parents[2] / "data" / "x12"
WRONG_COMPONENT = (
    "the ISA declares ':' (ISA16) as the component separator, but {where} is {value!r}: the "
    "file separates components with '>'. Fix ISA16 or the composites, then send the file again"
)
NO_ENVELOPE = (
    "the file starts with ST, a transaction set without its ISA/GS envelope, so its "
    "separators are not declared; ask the sender for the whole interchange (ISA ... IEA)"
)
A2 = {("GS", "MAP", "info"): 1}  # GS08 005010X222A2 read with the A1 map
IMSWEB_VALID = {
    ("ISA", "ISA11", "warning"): 1,  # 'U' (the 4010 value) where 5010 has a repetition separator
    ("HI", "1", "warning"): 8,  # HI*BK*8901*BF*87200: qualifiers and codes in separate elements
    ("HI", "5", "warning"): 4,
    ("HI", "7", "warning"): 4,
    ("SV1", "MAP", "warning"): 4,  # diagnosis pointers to HI positions without a code
    ("HL", "HL1", "warning"): 1,  # HL*2*3*22*1: numbering and parent broken
    ("HL", "HL2", "warning"): 1,
    ("LX", "LX", "warning"): 1,  # second claim's only line is LX*2
    ("ST", "4", "warning"): 1,  # SE01 says 25 segments; there are 34
}

# name -> (claims, service lines, findings by (segment, code, severity)) or (segment, reason)
OUTCOMES_837P: dict[str, tuple] = {
    "imsweb_x12_complex.x12": (
        6,
        10,
        {
            ("ISA", "ISA11", "warning"): 1,
            ("HI", "1", "warning"): 24,
            ("HI", "5", "warning"): 12,
            ("HI", "7", "warning"): 12,
            ("NM1", "7", "warning"): 6,
            ("N4", "7", "warning"): 8,
            ("OI", "7", "warning"): 8,
            ("REF", "3", "warning"): 6,
            ("SV1", "MAP", "warning"): 22,
            ("FRM", "8", "warning"): 8,
            ("HL", "HL1", "warning"): 4,
            ("HL", "HL2", "warning"): 4,
            ("LX", "LX", "warning"): 6,
            ("ST", "4", "warning"): 2,
            ("GS", "5", "warning"): 1,  # GE01 says 1 transaction set; there are 2
        },
    ),
    "imsweb_x12_many_claims.x12.gz": (
        820,
        820,
        {
            ("ISA", "ISA11", "warning"): 1,
            ("HI", "1", "warning"): 3280,
            ("HI", "5", "warning"): 1640,
            ("HI", "7", "warning"): 1640,
            ("SV1", "MAP", "warning"): 1640,
            ("HL", "HL1", "warning"): 1228,
            ("HL", "HL2", "warning"): 819,
            ("LX", "LX", "warning"): 410,
            ("ST", "4", "warning"): 1,
        },
    ),
    "imsweb_x12_valid.x12": (2, 2, IMSWEB_VALID),
    "imsweb_x12_valid_different_separators.x12": (2, 2, IMSWEB_VALID),
    "lfh_demo-file_demo.837": (1, 4, A2),
    "lfh_demo.ambulance.example5.837": (1, 4, {**A2, ("CLM", "1", "warning"): 1}),
    "lfh_demo.autoaccident.837": (1, 2, A2),
    "lfh_demo.cob.example3.A.837": (1, 3, {**A2, ("NM1", "3", "warning"): 1}),
    "lfh_demo.cob.example3.B.837": (1, 3, A2),
    "lfh_demo.cob.example3.C.837": (1, 3, A2),
    "lfh_demo.cob.example4.837": (1, 1, {**A2, ("AMT", "1", "warning"): 1}),
    "lfh_demo.drug.example10.1.837": (1, 2, A2),
    "lfh_demo.drug.example10.2.837": (1, 6, A2),
    "lfh_demo.drug.example10.3.837": (1, 6, A2),
    "lfh_demo.example1.837": (1, 4, A2),
    "lfh_demo.example2.837": (1, 4, A2),
    "lfh_demo.example7.837": (1, 2, A2),
    "lfh_demo.example8.837": (1, 1, A2),
    "lfh_demo.example6.837": (21, WRONG_COMPONENT.format(where="CLM05", value="11>B>1")),
    "lfh_demo.example9.837": (20, WRONG_COMPONENT.format(where="CLM05", value="22>B>1")),
    "lfh_demo.example11.837": (21, WRONG_COMPONENT.format(where="CLM05", value="11>B>1")),
    "lfh_demo.example12.837": (26, WRONG_COMPONENT.format(where="CLM05", value="23>B>1")),
}
# name -> (claim payments, service lines, claim-level rows, PLB amounts, findings) or refusal
OUTCOMES_835: dict[str, tuple] = {
    "affect_exhaustive_sample.835": (1, NO_ENVELOPE),
    "keironstoddart_blue_cross_nc_sample.835": (1, NO_ENVELOPE),
    "lfh_cob-contractural-adjustment.835": (
        21,
        WRONG_COMPONENT.format(where="SVC01", value="HC>55669"),
    ),
    "lfh_secondary-payment.835": (29, WRONG_COMPONENT.format(where="SVC01", value="HC>12345>26")),
    "affect_nevada_medicaid.835": (
        3,
        0,
        3,
        6,
        {("ISA", "ISA_WIDTH", "warning"): 1, ("ISA", "001", "warning"): 1},
    ),
    "keironstoddart_emedny_sample.835": (3, 10, 0, 0, {}),
    "keironstoddart_united_healthcare_legacy_sample.835": (
        2,
        5,
        0,
        0,
        {("N4", "7", "warning"): 1},  # payee state 'NP' (North Pole)
    ),
    "lfh_managed-care.835": (
        2,
        2,
        0,
        0,
        {("BPR", "8", "warning"): 1, ("PER", "3", "warning"): 1},  # BPR16 20002316
    ),
    "lfh_medicare-part-a.835": (
        2,
        0,
        2,
        1,
        {("PER", "3", "warning"): 1, ("TS3", "10", "warning"): 4},
    ),
    "lfh_tertiary-payment.835": (
        1,
        1,
        0,
        0,
        {
            ("BPR", "1", "warning"): 1,
            ("PER", "3", "warning"): 1,
            ("SVC", "1", "warning"): 2,  # SVC*HC*24599.00*...: no code after HC
            ("SVC", "4", "warning"): 1,
            ("SVC", "7", "warning"): 1,
            ("SVC", "BALANCE", "warning"): 1,
        },
    ),
    "pyx12_835_mult_loops.835": (1, 3, 0, 0, {}),
}


def _findings(frame: pd.DataFrame) -> dict:
    return dict(Counter(zip(frame["segment_id"], frame["code"], frame["severity"], strict=True)))


def test_every_shipped_sample_has_a_documented_outcome():
    assert sorted(p.name for p in (X12 / "837p").iterdir()) == sorted(OUTCOMES_837P)
    assert sorted(p.name for p in (X12 / "835").iterdir()) == sorted(OUTCOMES_835)


@pytest.mark.parametrize("name", sorted(OUTCOMES_837P))
def test_837p_sample_outcome(name):
    expected = OUTCOMES_837P[name]
    if len(expected) == 2:
        segment, reason = expected
        with pytest.raises(X12FileError) as err:
            read_837p_batch(X12 / "837p" / name)
        assert (err.value.segment, err.value.reason) == (segment, reason)
        return
    claims, lines, findings = expected
    batch = read_837p_batch(X12 / "837p" / name)
    assert (batch.details["claims"], batch.details["service_lines"]) == (claims, lines)
    assert len(batch.frame) == lines
    assert batch.frame["_claims_scrub_input_row"].tolist() == list(range(1, lines + 1))
    assert _findings(batch.findings) == findings


@pytest.mark.parametrize("name", sorted(OUTCOMES_835))
def test_835_sample_outcome(name):
    expected = OUTCOMES_835[name]
    if len(expected) == 2:
        segment, reason = expected
        with pytest.raises(X12FileError) as err:
            read_remittance(X12 / "835" / name)
        assert (err.value.segment, err.value.reason) == (segment, reason)
        return
    payments, lines, claim_rows, plb, findings = expected
    remit = read_remittance(X12 / "835" / name)
    assert len(remit.claims) == payments
    assert (remit.lines["level"] == "line").sum() == lines
    assert (remit.lines["level"] == "claim").sum() == claim_rows
    assert len(remit.provider_adjustments) == plb
    assert _findings(remit.findings) == findings


def test_refusal_message_names_file_and_segment():
    with pytest.raises(X12FileError) as err:
        read_837p_batch(X12 / "837p" / "lfh_demo.example9.837")
    assert str(err.value).startswith(f"{X12 / '837p' / 'lfh_demo.example9.837'}: segment 20: ")


# Values read by hand from the files.


def test_837p_example1_by_hand():
    """CLM*26463774*100.00; SV1 99213 40.00, 87070 15.00, 99214 35.00, 86663 10.00; pointers
    1, 1, 2, 2 into HI*BK:0340*BF:V7389; billing provider 1912301953 in ZIP 331110000."""
    f = read_837p_batch(X12 / "837p" / "lfh_demo.example1.837").frame
    assert f["claim_id"].unique().tolist() == ["26463774"]
    assert f["claim_line_number"].tolist() == ["1", "2", "3", "4"]
    assert f["hcpcs_code"].tolist() == ["99213", "87070", "99214", "86663"]
    assert f["charge_amount"].tolist() == ["40.00", "15.00", "35.00", "10.00"]
    assert f["claim_line_start_date"].tolist() == ["20061003", "20061003", "20061010", "20061010"]
    assert f["diagnosis_code_1"].tolist() == ["0340", "0340", "V7389", "V7389"]
    assert f["billing_npi"].unique().tolist() == ["1912301953"]
    assert f["service_zip"].unique().tolist() == ["331110000"]
    assert f["place_of_service_code"].unique().tolist() == ["11"]
    assert f["payer"].unique().tolist() == ["KEY INSURANCE COMPANY"]
    assert f["service_unit_quantity"].tolist() == ["1.00"] * 4
    assert f["unit_basis"].tolist() == ["UN"] * 4


def test_837p_ambulance_by_hand():
    """CLM*051068*766.50 with CLM05 41::1; four SV1 lines with modifier RH and REF*6R 1001-1004;
    A0425 is 21.00 units (loaded miles); charges 700.00 + 8.20 + 46.00 + 12.30 = 766.50."""
    f = read_837p_batch(X12 / "837p" / "lfh_demo.ambulance.example5.837").frame
    assert f["hcpcs_code"].tolist() == ["A0427", "A0425", "A0422", "A0382"]
    assert f["hcpcs_modifier_1"].tolist() == ["RH"] * 4
    assert f["line_control_number"].tolist() == ["1001", "1002", "1003", "1004"]
    assert f["service_unit_quantity"].tolist() == ["1.00", "21.00", "1.00", "1.00"]
    assert f["charge_amount"].tolist() == ["700.00", "8.20", "46.00", "12.30"]
    assert f["place_of_service_code"].unique().tolist() == ["41"]
    assert [f[f"diagnosis_code_{i}"].iloc[0] for i in range(1, 5)] == [
        "8628",
        "E8888",
        "9592",
        "8540",
    ]
    assert f["payer"].unique().tolist() == ["MEDICARE PART B"]
    assert f["claim_filing_indicator"].unique().tolist() == ["MB"]


def test_837p_modifiers_rendering_and_facility_by_hand():
    """example8: SV1*HC:K0001:RR:KH:BR (three modifiers). autoaccident: rendering NM1*82
    2366552595 (2310B) and service facility N4 99622 (2310C) over the billing ZIP 99997."""
    f = read_837p_batch(X12 / "837p" / "lfh_demo.example8.837").frame
    mods = f[[f"hcpcs_modifier_{i}" for i in range(1, 5)]].iloc[0].tolist()
    assert (f["hcpcs_code"].iloc[0], mods) == ("K0001", ["RR", "KH", "BR", ""])
    f = read_837p_batch(X12 / "837p" / "lfh_demo.autoaccident.837").frame
    assert f["rendering_npi"].tolist() == ["2366552595"] * 2
    assert f["service_zip"].tolist() == ["99622"] * 2
    assert f["hcpcs_code"].tolist() == ["99201", "26010"]
    assert f["charge_amount"].tolist() == ["150.00", "35.00"]


def test_837p_line_place_of_service_overrides_claim():
    """drug example 10.2: CLM05 12 and SV105 12 on six lines, charges summing to CLM02 2232.93."""
    f = read_837p_batch(X12 / "837p" / "lfh_demo.drug.example10.2.837").frame
    assert f["place_of_service_code"].unique().tolist() == ["12"]
    cents = sum(int(v.replace(".", "")) for v in f["charge_amount"])
    assert cents == 223293


def test_837p_many_claims_by_hand():
    """820 CLM, alternately A37YH556 (SV1 HC:99211:25) and A37YH667 (SV1 HC:478331:25, an
    invalid six-digit code), each 12.25: 820 x 12.25 = 10,045.00."""
    f = read_837p_batch(X12 / "837p" / "imsweb_x12_many_claims.x12.gz").frame
    assert f["claim_id"].value_counts().to_dict() == {"A37YH556": 410, "A37YH667": 410}
    assert f["hcpcs_code"].value_counts().to_dict() == {"99211": 410, "478331": 410}
    assert f["hcpcs_modifier_1"].unique().tolist() == ["25"]
    assert sum(int(v.replace(".", "")) for v in f["charge_amount"]) == 1004500


def test_835_united_healthcare_by_hand():
    """Two claims. Line 1: 156.42 - CO-45 67.50 = 88.92. Line 2: 184.86 - PR-1 105.26 - CO-45
    79.60 = 0. Claim 2, line 3: CAS*PR*2*5.13**1*110 (two adjustments in one CAS) and CO-45
    184.32: 328.50 - 5.13 - 110.00 - 184.32 = 29.05. BPR02 349.99 = 88.92 + 261.07."""
    r = read_remittance(X12 / "835" / "keironstoddart_united_healthcare_legacy_sample.835")
    lines = r.lines
    assert lines["claim_id"].tolist() == ["001-18573-358"] * 2 + ["001-18604-358"] * 3
    assert lines["paid_code"].tolist() == ["B4152", "B4152", "B4154", "B4034", "B4154"]
    assert lines["charge_cents"].tolist() == [15642, 18486, 45990, 2784, 32850]
    assert lines["paid_cents"].tolist() == [8892, 0, 20418, 2784, 2905]
    assert lines["allowed_cents"].tolist() == [8892, 10526, 20418, 2784, 14418]
    assert lines["line_control_number"].tolist()[:2] == ["800941258001", "800941258002"]
    adj = r.adjustments
    line5 = adj[adj["remit_row"] == 5]
    assert list(zip(line5["group"], line5["reason"], line5["amount_cents"], strict=True)) == [
        ("PR", "2", 513),
        ("PR", "1", 11000),
        ("CO", "45", 18432),
    ]
    totals = adj.groupby("remit_row")["amount_cents"].sum().reindex(lines["remit_row"]).fillna(0)
    assert (lines["charge_cents"] - totals.to_numpy() == lines["paid_cents"]).all()
    assert r.claims["paid_cents"].tolist() == [8892, 26107]
    assert r.claims["patient_responsibility_cents"].tolist() == [10526, 11513]
    assert r.claims["balanced"].tolist() == [True, True]
    assert sum(r.claims["paid_cents"]) == 34999


def test_835_emedny_and_managed_care_by_hand():
    """eMedNY: claim 2 (status 2) 12.00 and 22.00 denied CO-29; claim 3 CO-251 2.75 and 20.00
    with remark N206. Managed care: claim-level CO-A2 50.00 plus line PR-1 300.00:
    800.00 - 50.00 - 300.00 = 450.00 = CLP04."""
    r = read_remittance(X12 / "835" / "keironstoddart_emedny_sample.835")
    assert r.claims["claim_status"].tolist() == ["1", "2", "2"]
    assert r.claims["charge_cents"].tolist() == [3425, 3400, 3425]
    assert r.claims["paid_cents"].tolist() == [3425, 0, 1150]
    adj = r.adjustments
    assert list(zip(adj["group"], adj["reason"], adj["amount_cents"], strict=True)) == [
        ("CO", "29", 1200),
        ("CO", "29", 2200),
        ("CO", "251", 275),
        ("CO", "251", 2000),
    ]
    assert r.lines["remark_codes"].tolist()[-2:] == ["N206", "N206"]
    m = read_remittance(X12 / "835" / "lfh_managed-care.835")
    claim_level = m.adjustments[m.adjustments["level"] == "claim"]
    assert claim_level["amount_cents"].tolist() == [5000, 5500]
    assert m.claims["adjustments_cents"].tolist() == [35000, 70500]
    assert (m.claims["charge_cents"] - m.claims["adjustments_cents"]).tolist() == [45000, 49500]
    assert m.claims["paid_cents"].tolist() == [45000, 49500]


def test_835_claim_level_and_provider_adjustments_by_hand():
    """Medicare Part A (institutional, no SVC): claim rows 211366.97 - CO-45 73348.57 =
    138018.40 and 15000.00 - 3019.67 = 11980.33; PLB CV:CP -1.27 makes BPR02 150000.00.
    Nevada Medicaid: a third transaction with only a PLB of six amounts summing to -1812.27."""
    r = read_remittance(X12 / "835" / "lfh_medicare-part-a.835")
    assert r.lines["level"].tolist() == ["claim", "claim"]
    assert r.lines["paid_cents"].tolist() == [13801840, 1198033]
    assert r.adjustments["amount_cents"].tolist() == [7334857, 301967]
    assert r.adjustments["remit_row"].tolist() == [1, 2]
    assert r.provider_adjustments[["reason", "reference", "amount_cents"]].values.tolist() == [
        ["CV", "CP", -127]
    ]
    n = read_remittance(X12 / "835" / "affect_nevada_medicaid.835")
    assert n.details["transactions"] == 3
    assert n.provider_adjustments["amount_cents"].sum() == -181227
    assert n.claims["claim_status"].tolist() == ["4", "2", "4"]


def test_835_line_without_code_is_kept_with_its_problem():
    r = read_remittance(X12 / "835" / "lfh_tertiary-payment.835")
    row = r.lines.iloc[0]
    assert (row["paid_code"], row["charge_cents"], row["paid_cents"]) == ("", 2459900, 176650)
    assert row["problem"].startswith("SVC01 has no procedure code")


def test_findings_name_their_claim_and_line():
    """imsweb_x12_valid: claim A37YH556 spans segments 22-26 (line 1: LX at 24), the next
    subscriber's HL is segment 27, claim A37YH667 spans 31-35 (line 2: LX at 33), SE is 36."""
    f = read_837p_batch(X12 / "837p" / "imsweb_x12_valid.x12").findings
    located = {
        (seg, code): (claim, row)
        for seg, code, claim, row in f[["segment", "code", "claim_id", "input_row"]].values
    }
    assert located[(23, "1")] == ("A37YH556", "")  # HI: the claim, no line
    assert located[(25, "MAP")] == ("A37YH556", "1")  # SV1 pointer: line 1
    assert located[(27, "HL1")] == ("", "")  # between claims
    assert located[(34, "MAP")] == ("A37YH667", "2")
    assert located[(36, "4")] == ("", "")  # SE
    r = read_remittance(X12 / "835" / "lfh_tertiary-payment.835").findings
    assert r.loc[r["code"] == "BALANCE", ["claim_id", "remit_row"]].values.tolist() == [
        ["0001000054", "1"]
    ]
