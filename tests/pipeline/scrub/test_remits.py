"""Matching 835 lines to claim lines and the remittance flags, with amounts worked by hand.

99213 in Houston (77030, 2025-10-15) is allowed $91.00 (tests/pipeline/scrub/test_payment.py).
A Medicare-style payment of it: CO-45 (charge - 91.00), PR-2 coinsurance 18.20, CO-253
sequestration 2% of 72.80 = 1.46, paid 71.34.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.extract.x12_835 import read_remittance
from pipeline.scrub.remits import Remittances
from tests.conftest import flags_of

ISA = (
    "ISA*00*          *00*          *ZZ*SYNMAC         *ZZ*SYNSUBMIT      *251115*0900*^*00501*"
    "000000301*0*T*:~"
)


def remittance(tmp_path: Path, *claims: str, name: str = "remit") -> Remittances:
    """An 835 around the given CLP/SVC/CAS/REF/DTM segments ('~'-separated)."""
    body = [
        "BPR*I*0*C*NON************20251115",
        "TRN*1*T1*1512345678",
        "N1*PR*SYNTHETIC MAC",
        "N1*PE*SYNTHETIC PRACTICE*XX*1234567893",
        "LX*1",
    ]
    for claim in claims:
        body += [s for s in claim.split("~") if s]
    segments = ["ST*835*0001", *body]
    segments.append(f"SE*{len(segments) + 1}*0001")
    text = "\n".join(
        [
            ISA,
            "GS*HP*SYNMAC*SYNSUBMIT*20251115*0900*301*X*005010X221A1~",
            *(s + "~" for s in segments),
            "GE*1*301~",
            "IEA*1*000000301~",
        ]
    )
    path = tmp_path / f"{name}.835"
    path.write_text(text)
    return Remittances.build([read_remittance(path)], [name])


PAID_99213 = (
    "SVC*HC:99213*150.00*71.34**1~DTM*472*20251015~CAS*CO*45*59.00**253*1.46~CAS*PR*2*18.20~"
)


def claim(claim_id: str, status: str, charge: str, paid: str, *lines: str) -> str:
    return f"CLP*{claim_id}*{status}*{charge}*{paid}**MB*ICN{claim_id}~" + "".join(lines)


def test_line_control_number_first_then_code_and_date(scrub, tmp_path):
    """Line 1 carries REF*6R A; lines 1 and 2 are both 99213 on the same day. The payment's
    second 99213 (no REF*6R) goes to line 2, the one the payment did not pay yet."""
    remits = remittance(
        tmp_path,
        claim(
            "C1",
            "1",
            "500.00",
            "142.68",
            "SVC*HC:99213*150.00*71.34**1~DTM*472*20251015~CAS*CO*45*59.00**253*1.46~"
            "CAS*PR*2*18.20~REF*6R*A~",
            PAID_99213,
            "SVC*HC:99214*200.00*0**1~DTM*472*20251016~CAS*CO*97*200.00~",
        ),
    )
    result = scrub(
        {"hcpcs_code": "99213", "charge_amount": "150.00", "line_control_number": "A"},
        {"hcpcs_code": "99213", "charge_amount": "150.00"},
        {"hcpcs_code": "99214", "charge_amount": "200.00", "claim_line_start_date": "2025-10-16"},
        remits=remits,
    )
    lines = result.lines
    assert lines["remit_match"].tolist() == [
        "claim id + line control number",
        "claim id + procedure code + date of service",
        "claim id + procedure code + date of service",
    ]
    assert lines["remit_paid_cents"].tolist() == [7134, 7134, 0]
    assert flags_of(result, 1) == flags_of(result, 2) == []
    assert flags_of(result, 3) == ["PAYER_DENIED"]
    reason = result.flags.set_index("input_row").loc[3, "reason"]
    assert reason == (
        "Denied on the remittance: CO-97 200.00 (97: included in the payment for another service)."
    )
    # 99214 in Houston: (1.92 x 1.014 + 1.80 x 1.003 + 0.15 x 1.409) x 32.3465 = 128.21
    assert result.flags.set_index("input_row").loc[3, "dollars_at_risk_cents"] == 12821
    assert remits.unmatched().empty


def test_sequestration_is_not_underpayment_but_a_short_payment_is(scrub, tmp_path):
    """Claim A: paid 71.34 with CO-253 1.46 -> expected 72.80 - 1.46 = 71.34, no flag.
    Claim B: no sequestration taken, paid 72.80 -> expected 72.80, no flag.
    Claim C: paid 70.00 with CO-253 1.46 and an extra CO-45 1.34 -> short by 1.34 > $1.00."""
    remits = remittance(
        tmp_path,
        claim("A", "1", "150.00", "71.34", PAID_99213),
        claim(
            "B",
            "1",
            "150.00",
            "72.80",
            "SVC*HC:99213*150.00*72.80**1~DTM*472*20251015~CAS*CO*45*59.00~CAS*PR*2*18.20~",
        ),
        claim(
            "C",
            "1",
            "150.00",
            "70.00",
            "SVC*HC:99213*150.00*70.00**1~DTM*472*20251015~CAS*CO*45*60.34**253*1.46~"
            "CAS*PR*2*18.20~",
        ),
    )
    result = scrub(
        {"claim_id": "A", "hcpcs_code": "99213", "patient_id": "A", "charge_amount": "150.00"},
        {"claim_id": "B", "hcpcs_code": "99213", "patient_id": "B", "charge_amount": "150.00"},
        {"claim_id": "C", "hcpcs_code": "99213", "patient_id": "C", "charge_amount": "150.00"},
        remits=remits,
    )
    lines = result.lines
    assert lines["expected_payment_cents"].tolist() == [7134, 7280, 7134]
    assert lines["paid_variance_cents"].tolist() == [0, 0, -134]
    assert lines["remit_sequestration_cents"].tolist() == [146, 0, 146]
    assert lines["remit_adjustments"].tolist() == [
        "CO-45 59.00; CO-253 1.46; PR-2 18.20",
        "CO-45 59.00; PR-2 18.20",
        "CO-45 60.34; CO-253 1.46; PR-2 18.20",
    ]
    assert [flags_of(result, i) for i in (1, 2, 3)] == [[], [], ["REMIT_UNDERPAID"]]
    assert result.flags["reason"].tolist() == [
        "Paid $70.00, expected $71.34: allowed $91.00 less patient responsibility $18.20 less "
        "sequestration $1.46. Adjustments: CO-45 60.34; CO-253 1.46; PR-2 18.20."
    ]
    assert result.flags["dollars_at_risk_cents"].tolist() == [134]


def test_downcode_from_svc06(scrub, tmp_path):
    """Billed 99214 (allowed 128.21), paid as 99213: PR-2 18.20, sequestration 2% of
    (128.21 - 18.20 = 110.01) = 2.20, expected 107.81; paid 71.34 -> 36.47 short."""
    remits = remittance(
        tmp_path,
        claim(
            "C1",
            "1",
            "200.00",
            "71.34",
            "SVC*HC:99213*200.00*71.34**1*HC:99214~DTM*472*20251015~"
            "CAS*CO*45*109.00**253*1.46~CAS*PR*2*18.20~",
        ),
    )
    result = scrub({"hcpcs_code": "99214", "charge_amount": "200.00"}, remits=remits)
    assert flags_of(result, 1) == ["PAYER_DOWNCODED", "REMIT_UNDERPAID"]
    assert result.flags["reason"].tolist()[0] == "Billed 99214, paid as 99213 ($71.34 paid)."
    assert result.flags["dollars_at_risk_cents"].tolist() == [3647, 3647]
    assert result.lines["dollars_at_risk_cents"].tolist() == [3647]


def test_reversal_and_correction_replace_the_first_payment(scrub, tmp_path):
    remits = remittance(
        tmp_path,
        claim(
            "C1",
            "1",
            "150.00",
            "60.00",
            "SVC*HC:99213*150.00*60.00**1~DTM*472*20251015~CAS*CO*45*70.34**253*1.46~"
            "CAS*PR*2*18.20~",
        ),
        claim(
            "C1",
            "22",
            "-150.00",
            "-60.00",
            "SVC*HC:99213*-150.00*-60.00**-1~DTM*472*20251015~CAS*CO*45*-70.34**253*-1.46~"
            "CAS*PR*2*-18.20~",
        ),
        claim("C1", "1", "150.00", "71.34", PAID_99213),
    )
    result = scrub({"hcpcs_code": "99213", "charge_amount": "150.00"}, remits=remits)
    lines = result.lines
    assert lines["remit_paid_cents"].tolist() == [7134]
    assert lines["remit_patient_responsibility_cents"].tolist() == [1820]
    assert lines["remit_adjustments"].tolist() == ["CO-45 59.00; CO-253 1.46; PR-2 18.20"]
    assert lines["remit_claim_status"].tolist() == ["1"]
    assert flags_of(result, 1) == []


def test_reversal_of_an_earlier_runs_payment_then_correction(scrub, tmp_path):
    """The original payment came in an earlier 835; this one reverses it (-60.00) and pays the
    correction (71.34): the line's payment is 71.34, not 71.34 - 60.00."""
    remits = remittance(
        tmp_path,
        claim(
            "C1",
            "22",
            "-150.00",
            "-60.00",
            "SVC*HC:99213*-150.00*-60.00**-1~DTM*472*20251015~CAS*CO*45*-70.34**253*-1.46~"
            "CAS*PR*2*-18.20~",
        ),
        claim("C1", "1", "150.00", "71.34", PAID_99213),
    )
    result = scrub({"hcpcs_code": "99213", "charge_amount": "150.00"}, remits=remits)
    assert result.lines["remit_paid_cents"].tolist() == [7134]
    assert result.lines["paid_variance_cents"].tolist() == [0]
    assert flags_of(result, 1) == []


def test_reversal_alone_is_flagged(scrub, tmp_path):
    remits = remittance(
        tmp_path,
        claim(
            "C1",
            "22",
            "-150.00",
            "-71.34",
            "SVC*HC:99213*-150.00*-71.34**-1~DTM*472*20251015~CAS*CO*45*-59.00**253*-1.46~"
            "CAS*PR*2*-18.20~",
        ),
    )
    result = scrub({"hcpcs_code": "99213", "charge_amount": "150.00"}, remits=remits)
    assert flags_of(result, 1) == ["PAYMENT_REVERSED"]
    assert result.flags["dollars_at_risk_cents"].tolist() == [7134]


def test_deductible_is_not_a_denial_and_secondary_is_not_flagged(scrub, tmp_path):
    """Claim A: paid 0 because the whole 91.00 went to the deductible (PR-1): the patient
    owes it, nothing is flagged. Claim B: a secondary payer's 0 with OA-23 is reported only."""
    remits = remittance(
        tmp_path,
        claim(
            "A",
            "1",
            "150.00",
            "0",
            "SVC*HC:99213*150.00*0**1~DTM*472*20251015~CAS*CO*45*59.00~CAS*PR*1*91.00~",
        ),
        claim(
            "B",
            "2",
            "150.00",
            "0",
            "SVC*HC:99213*150.00*0**1~DTM*472*20251015~CAS*OA*23*150.00~",
        ),
    )
    result = scrub(
        {"claim_id": "A", "hcpcs_code": "99213", "patient_id": "A", "charge_amount": "150.00"},
        {"claim_id": "B", "hcpcs_code": "99213", "patient_id": "B", "charge_amount": "150.00"},
        remits=remits,
    )
    assert flags_of(result, 1) == flags_of(result, 2) == []
    assert result.lines["remit_claim_status"].tolist() == ["1", "2"]
    assert result.lines["expected_payment_cents"].tolist()[0] == 0


def test_claim_level_denial_denies_every_line_and_keeps_the_batch_paid(scrub, tmp_path):
    """A CLP with status 4 and CO-16 but no SVC applies to both lines of claim C1. It has no
    line amounts, so the batch's own paid_amount is still compared (UNDERPAID: 0.00 paid,
    71.34 expected)."""
    remits = remittance(tmp_path, claim("C1", "4", "300.00", "0", "CAS*CO*16*300.00~"))
    result = scrub(
        {"hcpcs_code": "99213", "charge_amount": "150.00", "paid_amount": "0.00"},
        {"hcpcs_code": "99213", "charge_amount": "150.00", "claim_line_start_date": "2025-10-16"},
        remits=remits,
    )
    assert flags_of(result, 1) == ["UNDERPAID", "PAYER_DENIED"]
    assert flags_of(result, 2) == ["PAYER_DENIED"]
    assert result.lines["remit_paid_cents"].isna().all()
    assert (
        result.lines["remit_match"].tolist()
        == ["claim id (claim-level payment, no service lines)"] * 2
    )
    denied = result.flags[result.flags["rule_code"] == "PAYER_DENIED"]
    assert (
        denied["reason"].tolist()
        == [
            "Denied on the remittance: CO-16 300.00 (16: claim or line lacks information needed "
            "to adjudicate)."
        ]
        * 2
    )
    assert denied["dollars_at_risk_cents"].tolist() == [9100, 9100]


def test_remittance_replaces_the_batch_paid_comparison(scrub, tmp_path):
    """The batch says paid 10.00 (UNDERPAID without a remittance); the 835 paid 71.34."""
    remits = remittance(tmp_path, claim("C1", "1", "150.00", "71.34", PAID_99213))
    result = scrub(
        {"hcpcs_code": "99213", "charge_amount": "150.00", "paid_amount": "10.00"},
        remits=remits,
    )
    assert flags_of(result, 1) == []
    assert result.lines["expected_payment_cents"].tolist() == [7134]
    assert result.claims["paid_cents"].tolist() == [7134]
    assert result.summary["remittance"] == {"lines_matched": 1, "paid_cents": 7134}


def test_rows_matched_in_one_batch_are_not_offered_to_the_next(scrub, tmp_path):
    remits = remittance(tmp_path, claim("C1", "1", "150.00", "71.34", PAID_99213))
    scrub({"hcpcs_code": "99213", "charge_amount": "150.00"}, remits=remits, batch="first")
    again = scrub({"hcpcs_code": "99213", "charge_amount": "150.00"}, remits=remits, batch="b2")
    assert again.lines["remit_match"].isna().all()
    matches = pd.concat(remits.matches)
    assert matches["matched_batch"].tolist() == ["first"]


@pytest.mark.parametrize(
    ("svc", "flags", "downcode_reason"),
    [
        pytest.param(
            "SVC*HC:99213*200.00*N/A**1*HC:99214~DTM*472*20251015~"
            "CAS*CO*45*109.00**253*1.46~CAS*PR*2*18.20~",
            ["PAYER_DOWNCODED", "REMIT_PAID_UNREADABLE"],
            "Billed 99214, paid as 99213 (paid amount unreadable, not compared).",
            id="downcoded-paid-na",
        ),
        pytest.param(
            "SVC*HC:99214*200.00*N/A**1~DTM*472*20251015~CAS*CO*97*200.00~",
            ["REMIT_PAID_UNREADABLE"],
            None,
            id="payer-side-adjustment-paid-na-is-not-a-denial",
        ),
    ],
)
def test_an_unreadable_paid_amount_is_not_compared(scrub, tmp_path, svc, flags, downcode_reason):
    """SVC03 'N/A' used to be read as $0.00 paid: downcoded '($0.00 paid)', underpaid by the
    whole 107.81, or denied for paying nothing. Now the paid amount stays unknown, nothing is
    compared with it, and the line says why."""
    remits = remittance(tmp_path, claim("C1", "1", "200.00", "71.34", svc))
    result = scrub({"hcpcs_code": "99214", "charge_amount": "200.00"}, remits=remits)
    assert flags_of(result, 1) == flags
    by_rule = result.flags.set_index("rule_code")
    assert by_rule.loc["REMIT_PAID_UNREADABLE", "reason"] == (
        "The remittance's paid amount for this line could not be read (remit segment 10; see "
        "x12_findings), so the payment was not compared with the expected payment."
    )
    if downcode_reason:
        assert by_rule.loc["PAYER_DOWNCODED", "reason"] == downcode_reason
    assert result.flags["dollars_at_risk_cents"].tolist() == [0] * len(flags)
    lines = result.lines
    assert lines["remit_paid_cents"].isna().tolist() == [True]
    assert lines["paid_cents"].isna().tolist() == [True]
    assert lines["paid_variance_cents"].isna().tolist() == [True]
    assert lines["remit_match"].tolist() == ["claim id + procedure code + date of service"]
    assert result.summary["remittance"] == {"lines_matched": 1, "paid_cents": 0}
    row = remits.rows.iloc[0]
    assert row["problem"] == (
        "SVC03 (paid) is not an amount; the payment is not compared with the expected payment"
    )
