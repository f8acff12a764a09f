"""Price claim lines on the Medicare Physician Fee Schedule, exactly and for a whole batch.

Amounts are integer cents. The fee-schedule amount of a code in a locality is computed exactly
from RVUs, GPCIs and the conversion factor and rounded half-up to the cent, as CMS publishes
it (PFREV files); each payment rule then applies its percentage to that amount, rounding
half-up to the cent once per step, in the order of docs/pricing.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from pipeline.columns import INDICATORS
from pipeline.extract.releases import BEFORE_FIRST_RELEASE, OUTSIDE_LOADED_YEARS, ReferenceData
from pipeline.factorize import factorized, factorized_keys
from pipeline.scrub.bilateral import apply_bilateral
from pipeline.scrub.context import PricingContext, apply_bp, capped_fee, setting_fee
from pipeline.scrub.flags import FlagCollector
from pipeline.scrub.lookup import (
    NUMBER_FIELDS,
    Codes,
    RvuIndex,
    attach_gpci,
    filled,
    is_in,
    resolve_locality,
)
from pipeline.scrub.mppr import MultipleProcedures
from pipeline.scrub.rules import payment_rules
from pipeline.scrub.text import Dollars

logger = logging.getLogger(__name__)

PRICED_STATUSES = ("A", "T")
NOT_PAYABLE_STATUSES = {
    "B": "bundled into other services (status B)",
    "P": "bundled or excluded (status P)",
    "N": "not covered by Medicare (status N)",
    "I": "not valid for Medicare; Medicare uses another code (status I)",
    "E": "excluded from the fee schedule by regulation (status E)",
    "M": "a measurement code, reported without payment (status M)",
    "D": "deleted (status D)",
    "F": "deleted (status F)",
    "G": "not valid; Medicare uses another code (status G)",
    "H": "a deleted component (status H)",
}
LINE_STATUSES = (
    "priced",
    "not_payable",
    "carrier_priced",
    "other_fee_schedule",
    "unknown_code",
    "outside_loaded_years",
    "rejected",
)
# The order in which a line's status is decided: the first that applies wins.
STATUS_PRECEDENCE = (
    "rejected",
    "outside_loaded_years",
    "unknown_code",
    "not_payable",
    "carrier_priced",
    "other_fee_schedule",
    "priced",
)
SETTINGS = ("non_facility", "facility")
# The modifier that chooses a line's RVU row ("" for the global row).
PRICING_MODIFIERS = pd.CategoricalDtype(pd.Index(["", "26", "TC", "53"], dtype=object))
INPUT_RULES = (
    "INPUT_MALFORMED_ROW",
    "INPUT_MISSING_CODE",
    "INPUT_BAD_DATE",
    "INPUT_BAD_UNITS",
    "INPUT_BAD_AMOUNT",
    "INPUT_INVALID",
)


@dataclass
class PricingResult:
    lines: pd.DataFrame
    collector: FlagCollector  # the pricing flags as collected, for merging with later steps

    @cached_property
    def flags(self) -> pd.DataFrame:
        return self.collector.table()


def rvu_index(ref: ReferenceData) -> RvuIndex:
    """The lookup index of a ReferenceData, built once per object and kept on it."""
    cached = ref.__dict__.get("_rvu_index")
    if cached is None:
        cached = RvuIndex(ref)
        ref.__dict__["_rvu_index"] = cached  # frozen dataclass: cache beside the fields
    return cached


def price_lines(
    lines: pd.DataFrame, ref: ReferenceData, *, default_locality: str | None = None
) -> PricingResult:
    """Price every line of a normalized batch; never drop one.

    Adds the breakdown columns (release, locality, GPCIs, RVUs, CF, fee per unit, each
    adjustment), `expected_allowed_cents` and `line_status`; returns the flag table too.
    """
    ctx = PricingContext.of(lines)
    flags, idx, n = ctx.flags, ctx.idx, ctx.n
    out = lines
    charge = out["charge_cents"].fillna(0).to_numpy("int64")
    has_charge = charge > 0
    hcpcs = ctx.hcpcs

    # 1-3. Input problems, release in force, locality and GPCIs, setting.
    rejected = _input_flags(ctx, out, charge)
    rel, dated, release, outside, before_first = _release(ctx, out, ref, rejected, charge)
    loc_key, loc_source, (gw, gpe, gmp) = _locality(ctx, out, ref, rel, dated, default_locality)
    pos = out["pos"]
    facility = _facility(ctx, pos, dated)

    # 4. RVU row: 26/TC (and 53 where CMS lists it) choose the modifier-specific row.
    index = rvu_index(ref)
    codes = Codes.of(out["hcpcs"])
    has26, has_tc = ctx.has_mod("26"), ctx.has_mod("TC")
    mod_code = np.where(has26, 1, np.where(has_tc, 2, 0)).astype("int8")
    with53 = (mod_code == 0) & ctx.has_mod("53")
    if with53.any():
        found53 = index.lookup(rel, codes, "53", ("status",)).found
        mod_code[with53 & found53] = 3
    pricing_mod = pd.Categorical.from_codes(mod_code, dtype=PRICING_MODIFIERS)
    row = index.lookup(rel, codes, pricing_mod)
    exists = index.has_code(rel, codes)
    level2 = codes.matches(r"[A-V]\d{4}")
    off_schedule = dated & ~exists & level2
    flags.add(
        "NOT_ON_FEE_SCHEDULE",
        off_schedule,
        idx,
        (
            "HCPCS Level II code ",
            hcpcs,
            " is not in release ",
            release,
            "; Medicare pays such codes (DMEPOS, drugs, supplies) under another fee "
            "schedule, if at all.",
        ),
    )
    unknown = dated & ~exists & ~level2
    flags.add(
        "UNKNOWN_CODE", unknown, idx, ("Code ", hcpcs, " is not in release ", release, "."), charge
    )
    bad_mod = dated & exists & (~row.found | (has26 & has_tc))
    flags.add(
        "MODIFIER_INVALID_FOR_CODE",
        bad_mod,
        idx,
        ("Modifier ", pricing_mod, " is not valid for ", hcpcs, "."),
        charge,
    )
    live = dated & row.found & ~bad_mod

    # 5. Fee-schedule amount per unit, with the OPPS imaging cap.
    w, mp, cf = row["work_rvu"], row["mp_rvu"], row["cf"]
    pe, fee, capped = _fee_schedule_amount(ctx, row, facility, (gw, gpe, gmp), live)
    pc_fee, tc_fee, pc_row_fee = _component_fees(
        index,
        rel,
        codes,
        pricing_mod,
        fee,
        facility,
        (gw, gpe, gmp),
        row["pctc"],
        row["mult_proc"],
    )
    global_in_facility = (
        live & facility & (pricing_mod == "") & (row["pctc"] == "1") & (pc_row_fee > 0)
    )
    flags.add(
        "GLOBAL_TEST_IN_FACILITY",
        global_in_facility,
        idx,
        (
            "Global ",
            hcpcs,
            " billed at POS ",
            pos,
            "; bill ",
            hcpcs,
            "-26 (",
            Dollars(pc_row_fee),
            ").",
        ),
        (fee - pc_row_fee) * ctx.units,
    )

    # 6. Payability by status code.
    status = row["status"]
    priced = live & is_in(status, PRICED_STATUSES)
    not_pay = live & is_in(status, list(NOT_PAYABLE_STATUSES))
    status_ids, status_uniques = pd.factorize(status)
    why = np.array([NOT_PAYABLE_STATUSES.get(s, "") for s in status_uniques], dtype=object)
    flags.add(
        "NOT_PAYABLE",
        not_pay & (status != "M"),
        idx,
        (hcpcs, " is ", why[status_ids] if n else why, "."),
        charge,
    )
    flags.add(
        "REPORTING_ONLY",
        not_pay & (status == "M"),
        idx,
        (hcpcs, " is a measurement code reported without payment."),
    )
    carrier = live & is_in(status, ["C", "R"])
    flags.add(
        "CARRIER_PRICED", carrier, idx, (hcpcs, " has status ", status, ": the MAC prices it.")
    )
    anesthesia = live & (status == "J")
    flags.add(
        "ANESTHESIA_NOT_PRICED", anesthesia, idx, (hcpcs, " is an anesthesia code (status J).")
    )
    other = live & (status == "X")
    flags.add(
        "OTHER_FEE_SCHEDULE", other, idx, (hcpcs, " is paid under another fee schedule (status X).")
    )
    bundled_t = _injection_rule(ctx, priced, status, fee)
    priced &= ~bundled_t
    not_pay |= bundled_t

    # 7. Surgical roles that decide payability.
    roles = _surgical_roles(ctx, priced, row, charge)
    not_pay |= roles["denied"]
    carrier |= roles["by_report"]
    priced &= ~roles["denied"] & ~roles["by_report"]

    # 8-9. Bilateral, then multiple-procedure reductions.
    base, proc_count, bilateral_bp, pair_id = apply_bilateral(ctx, priced, fee, row["bilat"])
    rank_amount = np.where(proc_count > 0, base // np.maximum(proc_count, 1), 0)
    mppr = MultipleProcedures(ctx, priced, row["mult_proc"])
    fam_id = mppr.endoscopy(
        rank_amount, row["endo_base"], index, rel, facility, (gw, gpe, gmp), codes
    )
    offset = int(fam_id.max()) + 1 if n else 0
    fam_id = np.where((fam_id < 0) & (pair_id >= 0), pair_id + offset, fam_id)
    mppr.standard(base, rank_amount, proc_count, fam_id)
    r = payment_rules()["multiple_procedure"]
    mppr.component("4", tc_fee, proc_count, r["imaging_tc_reduced"], "imaging TC")
    mppr.component("4", pc_fee, proc_count, r["imaging_pc_reduced"], "imaging PC")
    mppr.component("6", tc_fee, proc_count, r["cardiovascular_tc_reduced"], "cardiovascular TC")
    mppr.component("7", tc_fee, proc_count, r["ophthalmology_tc_reduced"], "ophthalmology TC")
    mppr.therapy(pe * gpe * cf, proc_count)
    amount = base - mppr.reduction

    # 10. Surgical-role percentages.
    role_bp = roles["bp"]
    amount = np.where(role_bp != 10000, apply_bp(amount, role_bp), amount)
    par_amount = amount

    # 11. Participation, limiting charge, lower of charge and fee.
    nonpar = ~out["is_participating"].to_numpy(bool)
    amount, limiting, allowed = _charge_rules(
        ctx, priced, nonpar, amount, par_amount, charge, pair_id
    )
    flags.add(
        "UNITS_DEFAULTED",
        ~rejected & out["units_defaulted"].to_numpy(bool),
        idx,
        "Units were blank; 1 unit assumed.",
    )

    # 12. Status and breakdown columns.
    dupe = _duplicates(out, ~rejected)
    flags.add(
        "DUPLICATE_LINE",
        dupe,
        idx,
        (
            "Claim ",
            out["claim_id"],
            " line ",
            out["claim_line_number"],
            " appears more than once in the batch.",
        ),
        np.where(priced, np.minimum(np.where(has_charge, charge, amount), amount), charge),
    )
    # First matching condition wins; positions are those of LINE_STATUSES.
    status_code = np.select(
        [
            rejected,  # a quarantined row is rejected whatever its date (pipeline/validate)
            outside | before_first,
            unknown,
            bad_mod | not_pay,
            carrier | anesthesia,
            other | off_schedule,
            priced,
        ],
        [LINE_STATUSES.index(s) for s in STATUS_PRECEDENCE],
        default=LINE_STATUSES.index("unknown_code"),
    ).astype("int8")
    line_status = pd.Categorical.from_codes(status_code, categories=LINE_STATUSES)
    keep = priced | (status_code == LINE_STATUSES.index("not_payable"))
    breakdown = {
        "release": release,
        "pricing_locality": loc_key,
        "locality_source": _blank_where(loc_source, ~dated),
        "setting": pd.Categorical.from_codes(facility.astype("int8"), SETTINGS),
        "pricing_modifier": pricing_mod,
        "status_code": status,
        **{c: row[c] for c in INDICATORS},
        "gpci_work": _nullable(gw, dated),
        "gpci_pe": _nullable(gpe, dated),
        "gpci_mp": _nullable(gmp, dated),
        "work_rvu": _nullable(w, live),
        "pe_rvu": _nullable(pe, live),
        "mp_rvu": _nullable(mp, live),
        "conversion_factor": _nullable(cf, live),
        "fee_schedule_cents": _nullable(fee, live),
        "opps_cap_applied": capped,
        "bilateral_pct_bp": _nullable(bilateral_bp, priced & (bilateral_bp > 0)),
        "mppr_reduction_cents": _nullable(mppr.reduction, priced & (mppr.reduction > 0)),
        "role_pct_bp": _nullable(role_bp, priced & (role_bp != 10000)),
        "adjustments": _describe(
            priced, capped, bilateral_bp, mppr.notes, role_bp, nonpar, allowed < amount
        ),
        "fee_adjusted_cents": _nullable(amount, priced),
        "limiting_charge_cents": _nullable(limiting, priced & nonpar),
        "line_status": line_status,
        "expected_allowed_cents": _nullable(np.where(priced, allowed, 0), keep),
        "same_day_group": ctx.group,  # reused by the edits
    }
    columns = {name: _column(values, out.index) for name, values in breakdown.items()}
    out = pd.concat([out, pd.DataFrame(columns, index=out.index, copy=False)], axis=1)
    counts = dict(
        zip(LINE_STATUSES, np.bincount(status_code, minlength=len(LINE_STATUSES)), strict=True)
    )
    logger.info(
        "priced %d of %d lines; %d not payable, %d not priced here, %d unknown code, "
        "%d outside loaded years, %d rejected",
        counts.get("priced", 0),
        n,
        counts.get("not_payable", 0),
        counts.get("carrier_priced", 0) + counts.get("other_fee_schedule", 0),
        counts.get("unknown_code", 0),
        counts.get("outside_loaded_years", 0),
        counts.get("rejected", 0),
    )
    return PricingResult(out, flags)


def _fee_schedule_amount(ctx: PricingContext, row, facility, gpci, live):
    """Per-unit fee in the setting, lowered to the OPPS amount where the cap applies.

    Returns the PE RVU used, the fee in cents and the capped mask.
    """
    pe, fee, opps, capped = setting_fee(row, facility, gpci)
    capped &= live
    ctx.flags.add(
        "OPPS_CAP_APPLIED",
        capped,
        ctx.idx,
        ("Fee ", Dollars(fee), " capped at the OPPS amount ", Dollars(opps), "."),
    )
    na_here = np.where(facility, row["f_na"], row["nf_na"])
    ctx.flags.add(
        "PE_NA_SETTING",
        live & na_here,
        ctx.idx,
        (
            "CMS marks this setting's practice expense for ",
            ctx.hcpcs,
            " as NA; the file's value was used.",
        ),
    )
    return pe, np.where(capped, opps, fee), capped


def _charge_rules(ctx: PricingContext, priced, nonpar, amount, par_amount, charge, pair_id):
    """Non-participating 95%, the limiting charge, and the lower of charge and fee.

    Returns the fee after participation, the limiting charge and the allowed amount.
    """
    flags, idx = ctx.flags, ctx.idx
    part = payment_rules()["participation"]
    has_charge = charge > 0
    amount = np.where(nonpar, apply_bp(amount, part["non_participating"]), amount)
    limiting = apply_bp(par_amount, part["limiting_charge"])
    flags.add(
        "LIMITING_CHARGE_EXCEEDED",
        priced & nonpar & has_charge & (charge > limiting),
        idx,
        ("Charge ", Dollars(charge), " exceeds the limiting charge ", Dollars(limiting), "."),
        charge - limiting,
    )
    flags.add(
        "MISSING_CHARGE",
        priced & ~has_charge,
        idx,
        ("Charge is zero or blank; the fee-schedule amount is ", Dollars(amount), "."),
        amount,
    )
    allowed = np.where(has_charge, np.minimum(charge, amount), amount)
    under = priced & has_charge & (charge < amount)
    paired = priced & (pair_id >= 0)
    if paired.any():
        # RT and LT lines of one bilateral procedure: the lower of the total charge for both
        # sides and the bilateral amount (RVU file, BILAT SURG 0-2).
        by_pair = pd.DataFrame({"p": pair_id[paired], "c": charge[paired], "a": amount[paired]})
        totals = by_pair.groupby("p")[["c", "a"]].transform("sum")
        low = (totals["c"] < totals["a"]).to_numpy()
        allowed[paired] = np.where(low, charge[paired], amount[paired])
        under[paired] = low
    flags.add(
        "UNDERCHARGED",
        under,
        idx,
        ("Charge ", Dollars(charge), " is below the fee-schedule amount ", Dollars(amount), "."),
        amount - charge,
    )
    return amount, limiting, allowed


def _input_flags(ctx: PricingContext, out: pd.DataFrame, charge: np.ndarray) -> np.ndarray:
    """Flag rows the reader could not use; return the rejected mask."""
    problem = out["input_problem"].to_numpy(object)
    rejected = problem != ""
    if rejected.any():
        detail = out["input_detail"].to_numpy(object)
        for code in INPUT_RULES:
            ctx.flags.add(code, problem == code, ctx.idx, ("Not priced: ", detail, "."), charge)
    mod_problem = out["modifier_problem"].to_numpy(object)
    malformed = ~rejected & (mod_problem != "")
    if malformed.any():
        ctx.flags.add(
            "MODIFIER_MALFORMED",
            malformed,
            ctx.idx,
            ("Modifier ", mod_problem, " is not two letters or digits; it was ignored."),
        )
    return rejected


def _release(ctx: PricingContext, out: pd.DataFrame, ref: ReferenceData, rejected, charge):
    """Release index per line (0 where none), the dated mask, release names and misses."""
    dos = out["dos"].to_numpy("datetime64[D]")
    dos_ids, dos_u = pd.factorize(dos)  # a batch spans few dates: find releases per date
    rel = ref.release_index(np.append(np.asarray(dos_u, "datetime64[D]"), np.datetime64("NaT")))
    rel = rel[np.where(dos_ids < 0, len(dos_u), dos_ids)]
    # A real date outside every loaded release is reported as such even when the row has
    # another problem: nothing about the line can be checked without a release.
    outside = ~np.isnat(dos) & (rel == OUTSIDE_LOADED_YEARS)
    before_first = ~np.isnat(dos) & (rel == BEFORE_FIRST_RELEASE)
    rel = np.where(rejected, OUTSIDE_LOADED_YEARS, rel)
    years = sorted({r.year for r in ref.releases})
    ctx.flags.add(
        "OUTSIDE_LOADED_YEARS",
        outside,
        ctx.idx,
        f"Date of service is outside the loaded fee-schedule years {years}.",
        charge,
    )
    ctx.flags.add(
        "NO_RELEASE_IN_FORCE",
        before_first,
        ctx.idx,
        "No loaded release was in force yet on the date of service.",
        charge,
    )
    dated = ~rejected & (rel >= 0)
    rel = np.where(dated, rel, 0)
    names = pd.Index([r.name for r in ref.releases] + [""], dtype=object)
    release = pd.Categorical.from_codes(
        np.where(dated, rel, len(names) - 1), dtype=pd.CategoricalDtype(names)
    )
    return rel, dated, release, outside, before_first


def _locality(
    ctx: PricingContext,
    out: pd.DataFrame,
    ref: ReferenceData,
    rel,
    dated,
    default_locality: str | None,
):
    """Locality key and source per line, and its work/PE/MP GPCIs, with location flags."""
    flags, idx = ctx.flags, ctx.idx
    loc_key, loc_source, plus_four = resolve_locality(
        out["zip5"], out["carrier_in"], out["locality_in"], ref, default_locality
    )
    gw, gpe, gmp, gpci_found = attach_gpci(ref, rel, loc_key)
    national = loc_key == "national"
    zip5 = out["zip5"]
    flags.add(
        "NO_LOCATION",
        dated & (loc_source == "national"),
        idx,
        "No service ZIP or carrier/locality on the line.",
    )
    flags.add(
        "LOCALITY_DEFAULTED",
        dated & (loc_source == "default"),
        idx,
        ("No service ZIP or carrier/locality; priced in the default locality ", loc_key, "."),
    )
    flags.add(
        "ZIP_NOT_FOUND",
        dated & (loc_source == "zip_not_found"),
        idx,
        ("ZIP ", zip5, " is not in the CMS ZIP5 file."),
    )
    if "zip_padded" in out:  # a 4-digit ZIP read with a leading zero (extract.claims)
        given = out["zip_padded"]
        flags.add(
            "ZIP_PADDED",
            dated & filled(given) & (loc_source == "zip"),
            idx,
            ("ZIP ", given, " has 4 digits; read as ", zip5, ", priced at locality ", loc_key, "."),
        )
    flags.add(
        "LOCALITY_NOT_FOUND",
        dated & ~gpci_found & ~national & (loc_source != "zip_not_found"),
        idx,
        ("Locality ", loc_key, " is not in the GPCI file of the release."),
    )
    flags.add(
        "ZIP_NEEDS_PLUS_FOUR",
        dated & plus_four,
        idx,
        ("ZIP ", zip5, " is split by ZIP+4; priced at locality ", loc_key, "."),
    )
    unpriced = ~(gpci_found | national)
    if unpriced.any():
        if "national" not in loc_key.categories:
            loc_key = loc_key.add_categories(["national"])
        codes = loc_key.codes.copy()
        codes[unpriced] = loc_key.categories.get_loc("national")
        loc_key = pd.Categorical.from_codes(codes, dtype=loc_key.dtype)
    return loc_key, loc_source, (gw, gpe, gmp)


def _facility(ctx: PricingContext, pos: pd.Series, dated: np.ndarray) -> np.ndarray:
    """Facility setting by place of service; an unknown POS is priced non-facility."""
    rules = payment_rules()["place_of_service"]
    ids, uniques = factorized(pos)
    facility = np.isin(uniques, rules["facility"])[ids]
    known = np.isin(uniques, rules["facility"] + rules["non_facility"])[ids]
    ctx.flags.add(
        "POS_UNKNOWN",
        dated & ~known,
        ctx.idx,
        ("Place of service '", pos, "' is not a known CMS code; non-facility rate used."),
    )
    return facility


def _blank_where(values: np.ndarray, blank: np.ndarray) -> np.ndarray:
    """A copy of an object array with "" where `blank` is true (no fixed-width strings)."""
    out = np.asarray(values, dtype=object).copy()
    out[blank] = ""
    return out


def _column(values, index: pd.Index) -> pd.Series:
    """A breakdown column; text stays object dtype (no costly Arrow conversion here)."""
    if isinstance(values, pd.api.extensions.ExtensionArray):
        return pd.Series(values, index=index, copy=False)
    values = np.asarray(values)
    if values.dtype.kind in "OU":
        return pd.Series(values.astype(object, copy=False), index=index, dtype=object, copy=False)
    return pd.Series(values, index=index, copy=False)


def _duplicates(lines: pd.DataFrame, usable: np.ndarray) -> np.ndarray:
    """Second and later usable lines with the same claim id and line number."""
    sel = np.flatnonzero(usable)
    claim = lines["claim_key"] if "claim_key" in lines else lines["claim_id"]
    claim_ids, claims = factorized(claim)
    line_ids, line_numbers = factorized(lines["claim_line_number"])  # whole column: no copy
    claim_ids, line_ids = claim_ids[sel], line_ids[sel]
    key = (claim_ids + 1) * (len(line_numbers) + 1) + (line_ids + 1)
    space = (len(claims) + 1) * (len(line_numbers) + 1)
    dupe = np.zeros(len(lines), dtype=bool)
    if space <= 8 * len(key) + 1_000_000:  # the usual batch: a byte per key says "no repeats"
        seen = np.zeros(space, dtype=bool)
        seen[key] = True
        if np.count_nonzero(seen) == len(key):
            return dupe
    ids, _ = factorized_keys(key, space)
    first = np.empty(int(ids.max()) + 1 if len(ids) else 0, dtype="int64")
    first[ids[::-1]] = np.arange(len(ids) - 1, -1, -1)  # the first line of each key
    dupe[sel] = first[ids] != np.arange(len(ids))
    return dupe


def _nullable(values: np.ndarray, present: np.ndarray) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(np.asarray(values, dtype="int64"), ~np.asarray(present, bool))


def _component_fees(index, rel, codes, pricing_mod, fee, facility, gpci, pctc, mult):
    """PC and TC fee per unit for ranking imaging-type reductions, and the -26 row's fee.

    Only lines that can need them (MULT PROC 4, 6, 7 or a PC/TC indicator of 1) are looked up.
    """
    n = len(rel)
    pc, tc, pc_row = (np.zeros(n, dtype="int64") for _ in range(3))
    need = is_in(mult, ["4", "6", "7"]) | (pctc == "1")
    sel = np.flatnonzero(need)
    if not len(sel):
        return pc, tc, pc_row
    sub_gpci = tuple(g[sel] for g in gpci)
    sub_codes = Codes(codes.ids[sel], codes.uniques)
    comp = {
        mod: capped_fee(
            index.lookup(rel[sel], sub_codes, mod, NUMBER_FIELDS), facility[sel], sub_gpci
        )
        for mod in ("26", "TC")
    }
    mods, f, kind = pricing_mod[sel], fee[sel], pctc[sel]
    is_global = mods == ""
    # Component-only codes: PC/TC indicator 2 is all professional, 3 all technical.
    pc[sel] = np.where(mods == "26", f, np.where(is_global & (kind == "2"), f, comp["26"]))
    tc[sel] = np.where(mods == "TC", f, np.where(is_global & (kind == "3"), f, comp["TC"]))
    pc[sel] = np.where(mods == "TC", 0, pc[sel])
    tc[sel] = np.where(mods == "26", 0, tc[sel])
    pc_row[sel] = comp["26"]
    return pc, tc, pc_row


def _injection_rule(ctx: PricingContext, priced, status, fee) -> np.ndarray:
    """Status T is paid only when no other payable service is billed that day (RVU25D)."""
    if not (priced & (status == "T")).any():
        return np.zeros(ctx.n, dtype=bool)
    other_paid = (priced & (status != "T")).astype("int64")
    per_group = np.bincount(ctx.group, weights=other_paid, minlength=int(ctx.group.max()) + 1)
    bundled = priced & (status == "T") & (per_group[ctx.group] > 0)
    ctx.flags.add(
        "INJECTION_BUNDLED",
        bundled,
        ctx.idx,
        (ctx.hcpcs, " (status T) is bundled with another service the same day."),
        fee * ctx.units,
    )
    return bundled


# (role, modifiers, indicator column, rule when not payable, rule when documentation is
# needed or the line is priced by report, indicator values of each). RVU25D.txt, ASST SURG,
# CO-SURG and TEAM SURG.
ROLE_RULES = (
    (
        "assistant",
        ("80", "81", "82", "AS"),
        "asst",
        "ASSISTANT_NOT_PAYABLE",
        "ASSISTANT_NEEDS_DOCUMENTATION",
        ("1", "9"),
        ("0",),
    ),
    (
        "co-surgery",
        ("62",),
        "co_surg",
        "CO_SURGERY_NOT_PAYABLE",
        "CO_SURGERY_NEEDS_DOCUMENTATION",
        ("0", "9"),
        ("1",),
    ),
    (
        "team surgery",
        ("66",),
        "team",
        "TEAM_SURGERY_NOT_PAYABLE",
        "TEAM_SURGERY_BY_REPORT",
        ("0", "9"),
        ("1", "2"),
    ),
)


def _surgical_roles(ctx: PricingContext, priced, row, charge) -> dict[str, np.ndarray]:
    """Assistant (80/81/82, AS), co-surgeon (62) and team (66) rules by indicator."""
    pct = payment_rules()["surgical_roles"]
    denied = np.zeros(ctx.n, dtype=bool)
    noted: dict[str, np.ndarray] = {}
    for role, mods, column, deny_rule, note_rule, deny_values, note_values in ROLE_RULES:
        on_line = priced & ctx.has_mod(*mods)
        indicator = row[column]
        deny = on_line & is_in(indicator, deny_values)
        note = on_line & is_in(indicator, note_values)
        ctx.flags.add(
            deny_rule,
            deny,
            ctx.idx,
            (f"The {role} indicator for ", ctx.hcpcs, " is ", indicator, ": not payable."),
            charge,
        )
        ctx.flags.add(
            note_rule,
            note,
            ctx.idx,
            (f"The {role} indicator for ", ctx.hcpcs, " is ", indicator, "."),
        )
        denied |= deny
        noted[role] = on_line & ~deny
    is_as = ctx.has_mod("AS")
    bp = np.where(
        noted["co-surgery"],
        pct["co_surgeon"],
        np.where(
            noted["assistant"] & is_as,
            pct["assistant_nonphysician"],
            np.where(noted["assistant"], pct["assistant_physician"], 10000),
        ),
    )
    return {"denied": denied, "by_report": noted["team surgery"], "bp": bp}


def _describe(priced, capped, bilateral_bp, mppr_notes, role_bp, nonpar, charge_lower):
    """The adjustments applied to each priced line, in words and in order.

    Lines share few combinations of adjustments, so each combination is worded once.
    """
    text = np.full(len(priced), "", dtype=object)
    sel = np.flatnonzero(priced)
    if not len(sel):
        return text
    flags = [capped, *(mask for mask, _ in mppr_notes), nonpar, charge_lower]
    # One small integer per line: a bit per adjustment some line has, then the ids of the
    # (few) distinct bilateral and surgical-role percentages.
    code, bits = np.zeros(len(priced), dtype="int32"), 0
    for mask in flags:
        mask = np.asarray(mask, bool)
        if mask.any():  # an adjustment no line has cannot tell combinations apart
            code |= np.left_shift(mask, bits, dtype="int32")
            bits += 1
    key, space = code.astype("int64"), 1 << bits
    for bp in (bilateral_bp, role_bp):  # non-negative percentages in hundredths
        ids, distinct_bp = factorized(np.asarray(bp, dtype="int64"))
        key = key * len(distinct_bp) + ids
        space *= len(distinct_bp)
    key_ids, distinct = factorized_keys(key[sel], space)
    first = np.empty(len(distinct), dtype="int64")
    first[key_ids[::-1]] = np.arange(len(sel) - 1, -1, -1)  # first line of each combination
    words = np.array(
        [
            _adjustments(int(i), capped, bilateral_bp, mppr_notes, role_bp, nonpar, charge_lower)
            for i in sel[first]
        ],
        dtype=object,
    )
    text[sel] = words[key_ids]
    return text


def _adjustments(i, capped, bilateral_bp, mppr_notes, role_bp, nonpar, charge_lower) -> str:
    """The adjustments of line `i`, joined with '; '."""
    parts = [
        "OPPS imaging cap" if capped[i] else "",
        f"bilateral {bilateral_bp[i] / 100:g}%" if bilateral_bp[i] > 0 else "",
        *(note if mask[i] else "" for mask, note in mppr_notes),
        f"surgical role {role_bp[i] / 100:g}%" if role_bp[i] != 10000 else "",
        "non-participating 95%" if nonpar[i] else "",
        "lower of charge" if charge_lower[i] else "",
    ]
    return "; ".join(p for p in parts if p)
