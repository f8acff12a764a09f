"""Expected Medicare payment from the allowed amount, and the comparison with what was paid."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.money import div_round_half_up
from pipeline.scrub.flags import FlagCollector
from pipeline.scrub.rules import payment_rules
from pipeline.scrub.text import Dollars


def expected_payment(allowed: np.ndarray, deductible: np.ndarray) -> np.ndarray:
    """Allowed less deductible, less 20% coinsurance, less 2% sequestration (cents, half-up).

    Sequestration comes off the Medicare payment after coinsurance (domain rules s12); the
    HPSA bonus is paid quarterly and never counted here (s11).
    """
    pct = payment_rules()["expected_payment"]
    base = np.maximum(allowed - deductible, 0)
    medicare = base - div_round_half_up(base * pct["coinsurance"], 10000)
    return medicare - div_round_half_up(medicare * pct["sequestration"], 10000)


def compare_paid(
    lines: pd.DataFrame, flags: FlagCollector, *, tolerance_cents: int
) -> pd.DataFrame:
    """Add expected_payment_cents and paid_variance_cents; flag under- and overpayments."""
    out = lines
    allowed = out["expected_allowed_cents"]
    paid_problem = out["paid_problem"].to_numpy(object)
    has_paid = (
        out["paid_cents"].notna()
        & allowed.notna()
        & (out["line_status"] == "priced")
        & (paid_problem == "")
    )
    if "remit_matched" in out:  # paid, expected and variance come from the 835 (scrub.remits)
        has_paid = has_paid & ~out["remit_matched"].to_numpy(bool)
    deductible = out["deductible_cents"].fillna(0).to_numpy("int64")
    expected = expected_payment(allowed.fillna(0).to_numpy("int64"), deductible)
    paid = out["paid_cents"].fillna(0).to_numpy("int64")
    variance = paid - expected
    added = pd.DataFrame(
        {
            "expected_payment_cents": pd.arrays.IntegerArray(
                expected, allowed.isna().to_numpy(bool)
            ),
            "paid_variance_cents": pd.arrays.IntegerArray(variance, ~has_paid.to_numpy(bool)),
        },
        index=out.index,
        copy=False,
    )
    out = pd.concat([out, added], axis=1)
    idx = out["line_index"].to_numpy()
    flags.add(
        "INPUT_BAD_PAID",
        (paid_problem != "") & (out["line_status"] != "rejected").to_numpy(),
        idx,
        ("Paid comparison skipped: ", paid_problem, "."),
    )
    mask = has_paid.to_numpy()
    under = mask & (-variance > tolerance_cents)
    over = mask & (variance > tolerance_cents)
    flags.add(
        "UNDERPAID",
        under,
        idx,
        (
            "Paid ",
            Dollars(paid),
            ", expected ",
            Dollars(expected),
            " (allowed less coinsurance and sequestration).",
        ),
        -variance,
    )
    flags.add(
        "OVERPAID",
        over,
        idx,
        ("Paid ", Dollars(paid), ", expected ", Dollars(expected), "."),
        variance,
    )
    return out
