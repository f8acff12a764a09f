"""Multiple-procedure payment reductions (RVU file MULT PROC 1-7), ranked by fee amount.

Ranking is within patient + provider + date of service, highest fee first; each unit is one
procedure; ties in amount are broken by input order, which never changes the total.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.money import div_round_half_up
from pipeline.scrub.context import PricingContext, apply_bp, capped_fee
from pipeline.scrub.lookup import NUMBER_FIELDS, Codes, RvuIndex, group_ids, is_in
from pipeline.scrub.rules import payment_rules
from pipeline.scrub.text import Count, Dollars, Percent


def rank_units(group: np.ndarray, amount: np.ndarray, units: np.ndarray, tiebreak: np.ndarray):
    """How many units rank ahead of each line's first unit in its group.

    Within a group, the highest amount first; equal amounts in `tiebreak` order.
    """
    order = _rank_order(group, amount, tiebreak)
    g, u = group[order], units[order]
    csum = np.cumsum(u)
    start = np.r_[True, g[1:] != g[:-1]] if len(g) else np.zeros(0, bool)
    start_csum = np.maximum.accumulate(np.where(start, csum - u, 0)) if len(g) else csum
    before = np.empty_like(csum)
    before[order] = csum - u - start_csum
    return before


def _rank_order(group: np.ndarray, amount: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """Positions sorted by group, then amount descending, then tiebreak."""
    n = len(group)
    if not n:
        return np.zeros(0, dtype="int64")
    top, low = int(amount.max()), int(amount.min())
    group_bits = max(int(group.max()), 1).bit_length()
    increasing = n < 2 or bool((np.diff(tiebreak) > 0).all())
    if increasing and low >= 0 and group.min() >= 0 and top.bit_length() + group_bits <= 62:
        # One integer key sorted stably: input order already breaks ties.
        return np.argsort(
            (group.astype("int64") << top.bit_length()) + (top - amount), kind="stable"
        )
    return np.lexsort((tiebreak, -amount, group))


def reduced_units(before: np.ndarray, units: np.ndarray, full: int = 1) -> np.ndarray:
    """Units of each line past the first `full` of its group."""
    return units - np.clip(full - before, 0, units)


def kept_reduction(unit_cents: np.ndarray, n_reduced: np.ndarray, keep_bp: int) -> np.ndarray:
    """Amount removed when `n_reduced` units are paid at keep_bp of `unit_cents`."""
    return unit_cents * n_reduced - apply_bp(unit_cents * n_reduced, keep_bp)


class MultipleProcedures:
    """Applies every MULT PROC rule to one batch and records its flags."""

    def __init__(self, ctx: PricingContext, priced: np.ndarray, mult: np.ndarray) -> None:
        self.ctx, self.priced, self.mult = ctx, priced, mult
        self.rules = payment_rules()["multiple_procedure"]
        self.reduction = np.zeros(ctx.n, dtype="int64")
        self.notes: list[tuple[np.ndarray, str]] = []  # (lines reduced, what reduced them)

    def _record(self, red: np.ndarray, note: str) -> None:
        self.reduction += red
        self.notes.append((red > 0, note))

    def endoscopy(self, rank_amount, endo_base, index: RvuIndex, rel, setting_pe, gpci, codes):
        """MULT PROC 3: in each family (same ENDO BASE, the base code included), the highest
        is paid in full and each other its fee minus the base code's fee. Returns family ids.
        """
        ctx, priced = self.ctx, self.priced
        endo = priced & (self.mult == "3")
        fam_id = np.full(ctx.n, -1, dtype="int64")
        if not endo.any():
            return fam_id
        # A base endoscopy billed with another endoscopy of its family joins the family.
        width = len(codes.uniques) + 1
        first = np.flatnonzero(endo)
        base_ids = pd.Index(codes.uniques).get_indexer(np.asarray(endo_base[first], object))
        named = base_ids >= 0
        bases = ctx.group[first[named]] * width + base_ids[named]
        is_base = np.zeros(width, dtype=bool)
        is_base[base_ids[named]] = True
        maybe = np.flatnonzero(priced & is_base[codes.ids])
        endo[maybe[np.isin(ctx.group[maybe] * width + codes.ids[maybe], bases)]] = True

        sel = np.flatnonzero(endo)
        own_code = codes.uniques[codes.ids[sel]]
        family_code = np.asarray(endo_base[sel], dtype=object)
        family_code = np.where(family_code != "", family_code, own_code)
        base_row = index.lookup(rel[sel], Codes.of(family_code), "", NUMBER_FIELDS)
        base_fee = capped_fee(base_row, setting_pe[sel], tuple(g[sel] for g in gpci))
        fam_id[sel] = group_ids(ctx.group[sel], family_code)
        before = rank_units(fam_id[sel], rank_amount[sel], np.ones(len(sel), "int64"), sel)
        red = np.zeros(ctx.n, dtype="int64")
        later = before > 0
        red[sel[later]] = np.minimum(base_fee[later], rank_amount[sel[later]])
        self._record(red, "endoscopy base subtracted")
        ctx.flags.add(
            "ENDOSCOPY_BASE_BUNDLED",
            red > 0,
            ctx.idx,
            (
                "Base endoscopy value ",
                Dollars(red),
                " subtracted from ",
                ctx.hcpcs,
                " within its family.",
            ),
        )
        return fam_id

    def standard(self, base, rank_amount, proc_count, fam_id) -> None:
        """MULT PROC 1, 2, 3: highest 100%, others 50%; a family ranks as one procedure."""
        ctx, r = self.ctx, self.rules
        std = self.priced & is_in(self.mult, ["1", "2", "3"]) & ((proc_count > 0) | (fam_id >= 0))
        in_family = std & (fam_id >= 0)
        after = base - self.reduction
        fam_total = np.zeros(ctx.n, dtype="int64")
        if in_family.any():
            fam_total[in_family] = (
                pd.Series(after[in_family]).groupby(fam_id[in_family]).transform("sum").to_numpy()
            )
        first_in_family = np.zeros(ctx.n, dtype=bool)
        if in_family.any():
            _, first = np.unique(fam_id[in_family], return_index=True)
            first_in_family[np.flatnonzero(in_family)[first]] = True
        lead = std & ((fam_id < 0) | first_in_family)
        sel = np.flatnonzero(lead)
        if not len(sel):
            return
        amount = np.where(fam_id >= 0, fam_total, rank_amount)[sel]
        count = np.where(fam_id >= 0, 1, proc_count)[sel]
        before = rank_units(ctx.group[sel], amount, count, sel)
        n_reduced = np.zeros(ctx.n, dtype="int64")
        n_reduced[sel] = reduced_units(before, count, r["standard_full_count"])
        by_report = np.zeros(ctx.n, dtype=bool)
        by_report[sel] = before + count > r["standard_by_report_after"]
        if in_family.any():
            lead_reduced = pd.Series(n_reduced[sel], index=fam_id[sel])
            lead_reduced = lead_reduced[lead_reduced.index >= 0]
            n_reduced[in_family] = lead_reduced.reindex(fam_id[in_family]).to_numpy()
        red = np.zeros(ctx.n, dtype="int64")
        at = np.flatnonzero(std & (n_reduced != 0))
        per_proc = np.where(fam_id[at] >= 0, after[at], rank_amount[at])
        red[at] = kept_reduction(per_proc, n_reduced[at], r["standard_reduced"])
        self._record(red, "multiple procedure 50%")
        ctx.flags.add(
            "MPPR_REDUCED",
            red > 0,
            ctx.idx,
            (
                "Ranked below a higher-paid procedure the same day: ",
                Dollars(red),
                " reduction (",
                Count(n_reduced, "unit"),
                " at 50%).",
            ),
        )
        ctx.flags.add(
            "MPPR_BY_REPORT",
            std & by_report,
            ctx.idx,
            "Procedure ranked sixth or later the same day; the MAC may price it by report.",
        )

    def component(self, ind: str, fee_part: np.ndarray, proc_count, keep_bp: int, label: str):
        """Rank one component (TC or PC) of MULT PROC 4/6/7 codes; reduce the 2nd and later."""
        ctx = self.ctx
        sel = np.flatnonzero(self.priced & (self.mult == ind) & (proc_count > 0) & (fee_part > 0))
        if not len(sel):
            return
        before = rank_units(ctx.group[sel], fee_part[sel], proc_count[sel], sel)
        red = np.zeros(ctx.n, dtype="int64")
        red[sel] = kept_reduction(fee_part[sel], reduced_units(before, proc_count[sel]), keep_bp)
        self._record(red, f"{label} {keep_bp // 100}%")
        ctx.flags.add(
            "MPPR_REDUCED",
            red > 0,
            ctx.idx,
            (
                f"Second or later {label} the same day: ",
                Dollars(red),
                " reduction (paid at ",
                Percent(np.full(ctx.n, keep_bp)),
                ").",
            ),
        )

    def therapy(self, pe_1e9_unit: np.ndarray, proc_count: np.ndarray) -> None:
        """MULT PROC 5: practice expense of every unit after the highest-PE unit at 50%."""
        ctx = self.ctx
        sel = np.flatnonzero(self.priced & (self.mult == "5") & (proc_count > 0))
        if not len(sel):
            return
        keep = self.rules["therapy_pe_reduced"]
        before = rank_units(ctx.group[sel], pe_1e9_unit[sel], proc_count[sel], sel)
        n_red = reduced_units(before, proc_count[sel])
        red = np.zeros(ctx.n, dtype="int64")
        red[sel] = div_round_half_up(pe_1e9_unit[sel] * n_red * (10000 - keep), 10000 * 10**7)
        self._record(red, f"therapy PE {keep // 100}%")
        ctx.flags.add(
            "MPPR_REDUCED",
            red > 0,
            ctx.idx,
            (
                "Therapy units after the first: practice expense paid at 50% (",
                Dollars(red),
                " reduction).",
            ),
        )
