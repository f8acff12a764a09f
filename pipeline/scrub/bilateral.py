"""Bilateral payment rules (RVU file BILAT SURG): modifier 50, RT/LT, two units."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.scrub.context import PricingContext, apply_bp
from pipeline.scrub.lookup import group_ids, is_in
from pipeline.scrub.rules import payment_rules
from pipeline.scrub.text import Count, Percent


def apply_bilateral(ctx: PricingContext, priced: np.ndarray, fee: np.ndarray, bilat: np.ndarray):
    """Return the line amount before multiple-procedure rules and the bilateral details.

    Returns (base cents, procedures the line counts as in ranking, bilateral percentage in
    hundredths of a percent or 0, pair id shared by an RT line and its LT line or -1).
    """
    pct = payment_rules()["bilateral"]
    by_ind = {
        "0": pct["indicator_0"],
        "1": pct["indicator_1"],
        "2": pct["indicator_2"],
        "3": pct["indicator_3"],
    }
    ind_bp = np.full(ctx.n, 10000, dtype="int64")
    for ind, bp in by_ind.items():
        ind_bp[is_in(bilat, [ind])] = bp
    units = ctx.units
    mod50 = ctx.has_mod("50")
    rt, lt = ctx.has_mod("RT"), ctx.has_mod("LT")
    declared = priced & (mod50 | (rt & lt))
    two_units = priced & ~declared & (units == 2) & is_in(bilat, ["1", "2"])
    bilateral = declared | two_units

    base = fee * units
    both = np.flatnonzero(bilateral)
    base[both] = apply_bp(fee[both], ind_bp[both])
    proc_count = np.where(bilateral, np.where(is_in(bilat, ["3"]), 2, 1), units)
    bp = np.where(bilateral, ind_bp, 0)
    pair_id = np.full(ctx.n, -1, dtype="int64")

    # RT on one line and LT on another: same code, patient, provider and day.
    one_side = priced & ~bilateral & (rt ^ lt) & (units == 1) & is_in(bilat, ["0", "1", "2"])
    if one_side.any():
        rows = np.flatnonzero(one_side)
        code = np.asarray(ctx.hcpcs[rows], dtype=object)
        sub = pd.DataFrame({"g": ctx.group[rows], "code": code, "rt": rt[rows]})
        both_sides = sub.groupby(["g", "code"])["rt"].transform("nunique").to_numpy() == 2
        first_of_side = sub.groupby(["g", "code", "rt"]).cumcount().to_numpy() == 0
        paired = rows[both_sides & first_of_side]
        left = rows[both_sides & first_of_side & ~sub["rt"].to_numpy()]
        pair_id[paired] = group_ids(ctx.group[paired], ctx.hcpcs[paired])
        base[left] = apply_bp(fee[left], ind_bp[left] - 10000)
        bp[paired] = ind_bp[paired]
        bilateral[paired] = True

    invalid = bilateral & is_in(bilat, ["9"])
    ctx.flags.add(
        "BILATERAL_MODIFIER_INVALID",
        invalid,
        ctx.idx,
        ("The bilateral concept does not apply to ", ctx.hcpcs, " (indicator 9)."),
    )
    ctx.flags.add(
        "BILATERAL_UNITS",
        declared & mod50 & (units > 1),
        ctx.idx,
        ("Modifier 50 with ", Count(units, "unit"), "; Medicare wants 1 unit."),
        base,
    )
    ctx.flags.add(
        "BILATERAL_ADJUSTED",
        bilateral & ~invalid,
        ctx.idx,
        ("Bilateral indicator ", bilat, ": both sides paid at ", Percent(bp), " of one side."),
    )
    return base, proc_count, bp, pair_id
