"""Expected Medicare payment and the paid comparison."""

from __future__ import annotations

from tests.conftest import flags_of


def test_paid_compared_with_expected_payment(scrub):
    """99213 in Houston, allowed $91.00: coinsurance 20% = 18.20 -> 72.80; sequestration 2% of
    72.80 = 1.456 -> 1.46; expected payment $71.34. With a $50.00 deductible: 41.00 - 8.20 =
    32.80 - 0.656 (0.66) = $32.14. Tolerance $1.00.
    """
    result = scrub(
        {"hcpcs_code": "99213", "paid_amount": "65.00", "patient_id": "A"},
        {"hcpcs_code": "99213", "paid_amount": "71.00", "patient_id": "B"},
        {"hcpcs_code": "99213", "paid_amount": "80.00", "patient_id": "C"},
        {
            "hcpcs_code": "99213",
            "paid_amount": "32.14",
            "deductible_amount": "50.00",
            "patient_id": "D",
        },
        {"hcpcs_code": "99213", "patient_id": "E"},
    )
    assert result.lines["expected_payment_cents"].tolist() == [7134, 7134, 7134, 3214, 7134]
    assert flags_of(result, 1) == ["UNDERPAID"]
    assert flags_of(result, 2) == []
    assert flags_of(result, 3) == ["OVERPAID"]
    assert flags_of(result, 4) == flags_of(result, 5) == []
    risk = result.flags.set_index("input_row")["dollars_at_risk_cents"]
    assert (risk[1], risk[3]) == (634, 866)
    assert result.lines["paid_variance_cents"].tolist()[:4] == [-634, -34, 866, 0]
