"""Price claim lines on the Medicare Physician Fee Schedule, exactly and for a whole batch.

Amounts are integer cents. The fee-schedule amount of a code in a locality is computed exactly
from RVUs, GPCIs and the conversion factor and rounded half-up to the cent, as CMS publishes
it (PFREV files); each payment rule then applies its percentage to that amount, rounding
half-up to the cent once per step, in the order of domain rules s17.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.extract.releases import BEFORE_FIRST_RELEASE, OUTSIDE_LOADED_YEARS, ReferenceData
from pipeline.money import div_round_half_up
from pipeline.scrub.adjust import full_and_reduced, rank_units, reduce_cents
from pipeline.scrub.flags import FlagCollector
from pipeline.scrub.lookup import (
    attach_gpci,
    code_exists,
    group_ids,
    lookup_rvu,
    resolve_locality,
    rvu_table,
)
from pipeline.scrub.rules import payment_rules

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
    "G": "not valid (status G)",
    "H": "deleted modifier (status H)",
}
ASSISTANT_MODS = ("80", "81", "82")
LINE_STATUSES = (
    "priced",
    "not_payable",
    "carrier_priced",
    "other_fee_schedule",
    "unknown_code",
    "outside_loaded_years",
    "rejected",
)


@dataclass
class PricingResult:
    lines: pd.DataFrame
    flags: pd.DataFrame


def _has_mod(lines: pd.DataFrame, *mods: str) -> np.ndarray:
    cols = [lines[f"mod_{i}"].to_numpy() for i in range(1, 5)]
    return np.logical_or.reduce([np.isin(c, mods) for c in cols])


def _fee_1e9(w, pe, mp, gw, gpe, gmp, cf):
    """Exact fee in 1e-9 dollars: RVUs (1e-2) x GPCIs (1e-3) x CF (1e-4)."""
    return (w * gw + pe * gpe + mp * gmp) * cf


def _cents(x_1e9: np.ndarray) -> np.ndarray:
    return div_round_half_up(x_1e9, 10**7)


def _money(cents) -> pd.Series:
    return pd.Series(cents).map(lambda c: f"${c / 100:,.2f}")


def price_lines(
    lines: pd.DataFrame, ref: ReferenceData, *, default_locality: str | None = None
) -> PricingResult:
    """Price every line of a normalized batch; never drop one.

    Adds the breakdown columns (release, locality, GPCIs, RVUs, CF, fee per unit, each
    adjustment) and `expected_allowed_cents`, `line_status`; returns the flag table too.
    """
    rules = payment_rules()
    flags = FlagCollector()
    out = lines.copy()
    n = len(out)
    idx = out["line_index"].to_numpy()
    charge = out["charge_cents"].fillna(0).to_numpy(dtype="int64")
    units = out["units"].to_numpy(dtype="int64")

    # 1. Input problems and the release in force.
    rejected = (out["input_problem"] != "").to_numpy()
    for code in ("INPUT_MISSING_CODE", "INPUT_BAD_DATE", "INPUT_BAD_UNITS", "INPUT_BAD_AMOUNT"):
        hit = (out["input_problem"] == code).to_numpy()
        flags.add(code, hit, idx, "The input row cannot be priced as given.", charge)
    rel = ref.release_index(out["dos"].to_numpy(dtype="datetime64[D]"))
    rel = np.where(rejected, OUTSIDE_LOADED_YEARS, rel)
    outside = ~rejected & (rel == OUTSIDE_LOADED_YEARS)
    before_first = ~rejected & (rel == BEFORE_FIRST_RELEASE)
    years = sorted({r.year for r in ref.releases})
    flags.add(
        "OUTSIDE_LOADED_YEARS",
        outside,
        idx,
        f"Date of service is outside the loaded fee-schedule years {years}.",
        charge,
    )
    flags.add(
        "NO_RELEASE_IN_FORCE",
        before_first,
        idx,
        "No loaded release was in force yet on the date of service.",
        charge,
    )
    dated = ~rejected & (rel >= 0)
    rel_safe = np.where(dated, rel, 0)
    names = np.array([r.name for r in ref.releases], dtype=object)
    out["release"] = pd.Series(
        np.where(dated, names[rel_safe], ""), index=out.index, dtype="string"
    )

    # 2. Locality and GPCIs.
    loc_key, loc_source, plus_four = resolve_locality(out, ref, default_locality)
    gw, gpe, gmp, gpci_found = attach_gpci(ref, rel_safe, loc_key)
    national = (loc_key == "national").to_numpy()
    unknown_loc = ~gpci_found & ~national
    flags.add(
        "NO_LOCATION",
        dated & (loc_source == "national").to_numpy(),
        idx,
        "No service ZIP or carrier/locality on the line.",
    )
    flags.add(
        "ZIP_NOT_FOUND",
        dated & (loc_source == "zip_not_found").to_numpy(),
        idx,
        "ZIP " + out["zip5"] + " is not in the CMS ZIP5 file.",
    )
    flags.add(
        "LOCALITY_NOT_FOUND",
        dated & unknown_loc & (loc_source != "zip_not_found").to_numpy(),
        idx,
        "Locality " + loc_key + " is not in the GPCI file of the release.",
    )
    flags.add(
        "ZIP_NEEDS_PLUS_FOUR",
        dated & plus_four,
        idx,
        "ZIP " + out["zip5"] + " is split by ZIP+4; priced at locality " + loc_key + ".",
    )
    out["locality"] = loc_key.where(gpci_found | national, "national")
    out["locality_source"] = loc_source
    out["gpci_work"], out["gpci_pe"], out["gpci_mp"] = gw, gpe, gmp

    # 3. Setting by place of service.
    pos = out["pos"]
    facility = pos.isin(rules["place_of_service"]["facility"]).to_numpy()
    known_pos = facility | pos.isin(rules["place_of_service"]["non_facility"]).to_numpy()
    flags.add(
        "POS_UNKNOWN",
        dated & ~known_pos,
        idx,
        "Place of service '" + pos + "' is not a known CMS code; non-facility rate used.",
    )
    out["setting"] = np.where(facility, "facility", "non_facility")

    # 4. RVU row: 26/TC (and 53 where CMS lists it) choose the modifier-specific row.
    table = rvu_table(ref)
    has26, has_tc = _has_mod(out, "26"), _has_mod(out, "TC")
    pricing_mod = np.where(has26, "26", np.where(has_tc, "TC", ""))
    row53, found53 = lookup_rvu(
        table, rel_safe, out["hcpcs"], pd.Series(["53"] * n, dtype="string")
    )
    pricing_mod = np.where((pricing_mod == "") & _has_mod(out, "53") & found53, "53", pricing_mod)
    pricing_mod = pd.Series(pricing_mod, index=out.index, dtype="string")
    row, found = lookup_rvu(table, rel_safe, out["hcpcs"], pricing_mod)
    exists = code_exists(table, rel_safe, out["hcpcs"])
    unknown = dated & ~exists
    flags.add(
        "UNKNOWN_CODE",
        unknown,
        idx,
        "Code " + out["hcpcs"] + " is not in release " + out["release"] + ".",
        charge,
    )
    bad_mod = dated & exists & (~found | (has26 & has_tc))
    flags.add(
        "MODIFIER_INVALID_FOR_CODE",
        bad_mod,
        idx,
        "Modifier "
        + pricing_mod
        + " is not valid for "
        + out["hcpcs"]
        + " (PC/TC indicator "
        + row["pctc"].where(found, "?")
        + ").",
        charge,
    )
    out["pricing_modifier"] = pricing_mod
    for col in (
        "status",
        "pctc",
        "glob_days",
        "mult_proc",
        "bilat",
        "asst",
        "co_surg",
        "team",
        "endo_base",
    ):
        out[col if col != "status" else "status_code"] = row[col].where(found, "").to_numpy()
    live = dated & found & ~bad_mod

    # 5. Fee-schedule amount per unit, OPPS imaging cap.
    w, mp, cf = (row[c].to_numpy(dtype="int64") for c in ("work_rvu", "mp_rvu", "cf"))
    pe = np.where(facility, row["f_pe_rvu"], row["nf_pe_rvu"]).astype("int64")
    fee = _cents(_fee_1e9(w, pe, mp, gw, gpe, gmp, cf))
    opps_pe = np.where(facility, row["opps_f_pe"], row["opps_nf_pe"]).astype("int64")
    opps_mp = row["opps_mp"].to_numpy(dtype="int64")
    opps = _cents(_fee_1e9(w, opps_pe, opps_mp, gw, gpe, gmp, cf))
    capped = live & ((opps_pe > 0) | (opps_mp > 0)) & (opps < fee)
    flags.add(
        "OPPS_CAP_APPLIED",
        capped,
        idx,
        "Fee " + _money(fee) + " capped at the OPPS amount " + _money(opps) + ".",
    )
    fee = np.where(capped, opps, fee)
    na_here = np.where(facility, row["f_na"], row["nf_na"]).astype(bool)
    flags.add(
        "PE_NA_SETTING",
        live & na_here,
        idx,
        "CMS marks the "
        + out["setting"].str.replace("_", "-")
        + " PE of "
        + out["hcpcs"]
        + " as NA; the file's value was used.",
    )
    out["work_rvu"], out["pe_rvu"], out["mp_rvu"] = w, pe, mp
    out["conversion_factor"] = cf
    out["fee_schedule_cents"] = np.where(live, fee, 0)
    out["opps_cap_applied"] = capped

    # Component fees (26 and TC rows) for imaging ranking and the facility check.
    comp = {}
    for mod in ("26", "TC"):
        crow, cfound = lookup_rvu(
            table, rel_safe, out["hcpcs"], pd.Series([mod] * n, dtype="string")
        )
        cpe = np.where(facility, crow["f_pe_rvu"], crow["nf_pe_rvu"]).astype("int64")
        cw, cmp_ = crow["work_rvu"].to_numpy("int64"), crow["mp_rvu"].to_numpy("int64")
        cfee = _cents(_fee_1e9(cw, cpe, cmp_, gw, gpe, gmp, crow["cf"].to_numpy("int64")))
        copps_pe = np.where(facility, crow["opps_f_pe"], crow["opps_nf_pe"]).astype("int64")
        copps = _cents(
            _fee_1e9(
                cw,
                copps_pe,
                crow["opps_mp"].to_numpy("int64"),
                gw,
                gpe,
                gmp,
                crow["cf"].to_numpy("int64"),
            )
        )
        ccap = (copps_pe > 0) & (copps < cfee)
        comp[mod] = np.where(cfound, np.where(ccap, copps, cfee), 0)
    is_global = pricing_mod.to_numpy() == ""
    pc_fee = np.where(pricing_mod == "26", fee, np.where(is_global, comp["26"], 0))
    tc_fee = np.where(pricing_mod == "TC", fee, np.where(is_global, comp["TC"], 0))
    global_test_fac = (
        live & facility & is_global & (out["pctc"] == "1").to_numpy() & (comp["26"] > 0)
    )
    flags.add(
        "GLOBAL_TEST_IN_FACILITY",
        global_test_fac,
        idx,
        "Global "
        + out["hcpcs"]
        + " billed at POS "
        + pos
        + "; bill "
        + out["hcpcs"]
        + "-26 ("
        + _money(comp["26"])
        + ").",
        (fee - comp["26"]) * units,
    )

    # 6. Payability by status code.
    status = out["status_code"].to_numpy()
    priced = live & np.isin(status, PRICED_STATUSES)
    not_pay = live & np.isin(status, list(NOT_PAYABLE_STATUSES))
    reason = pd.Series(status).map(NOT_PAYABLE_STATUSES).fillna("")
    flags.add(
        "NOT_PAYABLE",
        not_pay & (status != "M"),
        idx,
        out["hcpcs"] + " is " + reason.to_numpy() + ".",
        charge,
    )
    flags.add(
        "REPORTING_ONLY",
        not_pay & (status == "M"),
        idx,
        out["hcpcs"] + " is a measurement code reported without payment.",
    )
    carrier = live & np.isin(status, ["C", "R"])
    flags.add(
        "CARRIER_PRICED",
        carrier,
        idx,
        out["hcpcs"] + " has status " + out["status_code"] + ": the MAC prices it.",
    )
    anesthesia = live & (status == "J")
    flags.add(
        "ANESTHESIA_NOT_PRICED",
        anesthesia,
        idx,
        out["hcpcs"] + " is an anesthesia code (status J).",
    )
    other = live & (status == "X")
    flags.add(
        "OTHER_FEE_SCHEDULE",
        other,
        idx,
        out["hcpcs"] + " is paid under another fee schedule (status X).",
    )

    group = group_ids(out["patient_key"], out["provider"], out["dos"])
    order_key = idx  # ties: input order

    # Status T: paid only if no other payable fee-schedule service that day.
    other_paid = priced & (status != "T")
    group_has_other = np.bincount(group, weights=other_paid, minlength=group.max() + 1 if n else 0)
    injection_bundled = priced & (status == "T") & (group_has_other[group] > 0)
    flags.add(
        "INJECTION_BUNDLED",
        injection_bundled,
        idx,
        out["hcpcs"] + " (status T) is bundled with another service the same day.",
        fee * units,
    )
    priced &= ~injection_bundled
    not_pay |= injection_bundled

    # 7. Surgical roles that decide payability before pricing.
    mult, bilat = out["mult_proc"].to_numpy(), out["bilat"].to_numpy()
    asst_ind, co_ind, team_ind = (out[c].to_numpy() for c in ("asst", "co_surg", "team"))
    is_asst, is_as = _has_mod(out, *ASSISTANT_MODS), _has_mod(out, "AS")
    is_co, is_team = _has_mod(out, "62"), _has_mod(out, "66")
    asst_line = priced & (is_asst | is_as)
    asst_denied = asst_line & np.isin(asst_ind, ["1", "9"])
    flags.add(
        "ASSISTANT_NOT_PAYABLE",
        asst_denied,
        idx,
        "Assistant-at-surgery indicator " + out["asst"] + " for " + out["hcpcs"] + ".",
        charge,
    )
    flags.add(
        "ASSISTANT_NEEDS_DOCUMENTATION",
        asst_line & (asst_ind == "0"),
        idx,
        "Assistant at surgery for " + out["hcpcs"] + " needs documentation of necessity.",
    )
    co_line = priced & is_co
    co_denied = co_line & np.isin(co_ind, ["0", "9"])
    flags.add(
        "CO_SURGERY_NEEDS_DOCUMENTATION",
        co_line & (co_ind == "1"),
        idx,
        "Co-surgery on " + out["hcpcs"] + " is paid only with documentation.",
    )
    flags.add(
        "CO_SURGERY_NOT_PAYABLE",
        co_denied,
        idx,
        "Co-surgery indicator " + out["co_surg"] + " for " + out["hcpcs"] + ".",
        charge,
    )
    team_line = priced & is_team
    team_denied = team_line & np.isin(team_ind, ["0", "9"])
    flags.add(
        "TEAM_SURGERY_NOT_PAYABLE",
        team_denied,
        idx,
        "Team-surgery indicator " + out["team"] + " for " + out["hcpcs"] + ".",
        charge,
    )
    team_by_report = team_line & ~team_denied
    flags.add(
        "TEAM_SURGERY_BY_REPORT",
        team_by_report,
        idx,
        "Team surgery on " + out["hcpcs"] + " is priced by report.",
    )
    role_denied = asst_denied | co_denied | team_denied
    not_pay |= role_denied
    carrier |= team_by_report
    priced &= ~role_denied & ~team_by_report

    # 8. Bilateral rules, then the amount of the line before multiple-procedure rules.
    base, proc_count, bilateral_bp, pair_id = _bilateral(
        out, priced, fee, units, bilat, group, flags, idx
    )
    rank_amount = np.where(proc_count > 0, div_round_half_up(base, np.maximum(proc_count, 1)), 0)

    # 9. Multiple-procedure reductions.
    reduction, mppr_note = _multiple_procedures(
        out,
        priced,
        rank_amount,
        proc_count,
        base,
        mult,
        group,
        order_key,
        table,
        rel_safe,
        facility,
        gw,
        gpe,
        gmp,
        pc_fee,
        tc_fee,
        pe,
        cf,
        flags,
        idx,
        pair_id,
    )
    amount = base - reduction

    # 10. Surgical-role percentages.
    roles = rules["surgical_roles"]
    role_bp = np.where(
        is_co & co_line,
        roles["co_surgeon"],
        np.where(
            is_as & asst_line,
            roles["assistant_nonphysician"],
            np.where(is_asst & asst_line, roles["assistant_physician"], 10000),
        ),
    )
    amount = np.where(role_bp != 10000, div_round_half_up(amount * role_bp, 10000), amount)
    par_amount = amount

    # 11. Participation, limiting charge, lower of charge and fee.
    part = rules["participation"]
    nonpar = ~out["participating"].to_numpy()
    amount = np.where(nonpar, div_round_half_up(amount * part["non_participating"], 10000), amount)
    limiting = div_round_half_up(par_amount * part["limiting_charge"], 10000)
    has_charge = out["charge_cents"].fillna(0).to_numpy("int64") > 0
    over_limit = priced & nonpar & has_charge & (charge > limiting)
    flags.add(
        "LIMITING_CHARGE_EXCEEDED",
        over_limit,
        idx,
        "Charge " + _money(charge) + " exceeds the limiting charge " + _money(limiting) + ".",
        charge - limiting,
    )
    flags.add(
        "MISSING_CHARGE",
        priced & ~has_charge,
        idx,
        "Charge is zero or blank; the fee-schedule amount is " + _money(amount) + ".",
        amount,
    )
    under = priced & has_charge & (charge < amount)
    flags.add(
        "UNDERCHARGED",
        under,
        idx,
        "Charge " + _money(charge) + " is below the fee-schedule amount " + _money(amount) + ".",
        amount - charge,
    )
    allowed = np.where(has_charge, np.minimum(charge, amount), amount)
    paired = priced & (pair_id >= 0)
    if paired.any():
        # RT and LT lines of one bilateral procedure: the lower of the total charge for both
        # sides and the bilateral amount (RVU file, BILAT SURG 0-2).
        pair_charge = pd.Series(charge[paired]).groupby(pair_id[paired]).transform("sum").to_numpy()
        pair_amount = pd.Series(amount[paired]).groupby(pair_id[paired]).transform("sum").to_numpy()
        allowed[paired] = np.where(pair_charge < pair_amount, charge[paired], amount[paired])
    flags.add(
        "UNITS_DEFAULTED",
        ~rejected & out["units_defaulted"].to_numpy(),
        idx,
        "Units were blank; 1 unit assumed.",
    )

    # 12. Status and the breakdown columns.
    status_col = np.select(
        [
            rejected,
            outside | before_first,
            unknown,
            bad_mod | not_pay,
            carrier | anesthesia,
            other,
            priced,
        ],
        [
            "rejected",
            "outside_loaded_years",
            "unknown_code",
            "not_payable",
            "carrier_priced",
            "other_fee_schedule",
            "priced",
        ],
        default="unknown_code",
    )
    out["line_status"] = pd.Series(status_col, index=out.index, dtype="string")
    out["bilateral_pct_bp"] = np.where(priced, bilateral_bp, 0)
    out["mppr_reduction_cents"] = np.where(priced, reduction, 0)
    out["role_pct_bp"] = np.where(priced, role_bp, 0)
    out["limiting_charge_cents"] = pd.array(np.where(priced & nonpar, limiting, 0), dtype="Int64")
    out["limiting_charge_cents"] = out["limiting_charge_cents"].where(priced & nonpar, pd.NA)
    out["adjustments"] = _describe(
        out, priced, bilateral_bp, mppr_note, role_bp, nonpar, has_charge, charge, amount, capped
    )
    out["fee_adjusted_cents"] = pd.array(np.where(priced, amount, 0), dtype="Int64")
    allowed_col = pd.array(np.where(priced, allowed, 0), dtype="Int64")
    keep = priced | (status_col == "not_payable")
    out["expected_allowed_cents"] = pd.Series(allowed_col, index=out.index).where(keep, pd.NA)
    out["fee_adjusted_cents"] = out["fee_adjusted_cents"].where(priced, pd.NA)
    logger.info(
        "priced %d of %d lines; %d not payable, %d not priced here, %d unknown code, "
        "%d outside loaded years, %d rejected",
        int(priced.sum()),
        n,
        int((status_col == "not_payable").sum()),
        int((carrier | anesthesia | other).sum()),
        int(unknown.sum()),
        int((outside | before_first).sum()),
        int(rejected.sum()),
    )
    return PricingResult(out, flags.table())


def _bilateral(out, priced, fee, units, bilat, group, flags, idx):
    """Apply modifier 50, RT+LT and two-unit bilateral rules (RVU file BILAT SURG).

    Returns the line amount before multiple-procedure rules, the number of procedures the
    line counts as in ranking, and the bilateral percentage applied (0 when none).
    """
    pct = payment_rules()["bilateral"]
    by_ind = {
        "0": pct["indicator_0"],
        "1": pct["indicator_1"],
        "2": pct["indicator_2"],
        "3": pct["indicator_3"],
        "9": 10000,
    }
    ind_bp = (
        np.array([by_ind.get(b, 10000) for b in bilat], dtype="int64")
        if len(bilat)
        else np.zeros(0, "int64")
    )
    mod50 = _has_mod(out, "50")
    rt, lt = _has_mod(out, "RT"), _has_mod(out, "LT")
    declared = priced & (mod50 | (rt & lt))
    two_units = priced & ~declared & (units == 2) & np.isin(bilat, ["1", "2"])
    bilateral = declared | two_units

    base = fee * units
    base = np.where(bilateral, div_round_half_up(fee * ind_bp, 10000), base)
    proc_count = np.where(bilateral, np.where(bilat == "3", 2, 1), units)
    bp = np.where(bilateral, ind_bp, 0)

    # RT on one line and LT on another, same code, patient, provider and day.
    single_side = priced & ~bilateral & (rt ^ lt) & (units == 1) & np.isin(bilat, ["0", "1", "2"])
    if single_side.any():
        sub = pd.DataFrame({"g": group, "code": out["hcpcs"].to_numpy(), "rt": rt, "i": idx})[
            single_side
        ]
        sides = sub.groupby(["g", "code"])["rt"].transform("nunique") == 2
        rank = sub.groupby(["g", "code", "rt"]).cumcount()
        second = sides & ~sub["rt"] & (rank == 0)  # the first LT line pairs with an RT line
        first = sides & sub["rt"] & (rank == 0)
        second_mask = np.zeros(len(idx), bool)
        second_mask[np.flatnonzero(single_side)[second.to_numpy()]] = True
        paired = second_mask.copy()
        paired[np.flatnonzero(single_side)[first.to_numpy()]] = True
        pair_id = np.where(paired, group_ids(group, out["hcpcs"].to_numpy()), -1)
        keep_bp = ind_bp - 10000
        base = np.where(second_mask, div_round_half_up(fee * keep_bp, 10000), base)
        bp = np.where(second_mask, ind_bp, bp)
        bilateral = bilateral | second_mask
    else:
        pair_id = np.full(len(idx), -1, dtype="int64")

    invalid = bilateral & (bilat == "9")
    flags.add(
        "BILATERAL_MODIFIER_INVALID",
        invalid,
        idx,
        "Bilateral indicator 9: the bilateral concept does not apply to " + out["hcpcs"] + ".",
    )
    flags.add(
        "BILATERAL_UNITS",
        declared & mod50 & (units > 1),
        idx,
        "Modifier 50 with " + out["units"].astype("string") + " units; bill 1 unit.",
        base,
    )
    flags.add(
        "BILATERAL_ADJUSTED",
        bilateral & ~invalid,
        idx,
        "Bilateral indicator "
        + pd.Series(bilat, dtype="string")
        + ": paid at "
        + pd.Series(bp // 100, dtype="string")
        + "% of one side.",
    )
    return base, proc_count, bp, pair_id


def _multiple_procedures(
    out,
    priced,
    rank_amount,
    proc_count,
    base,
    mult,
    group,
    order_key,
    table,
    rel_safe,
    facility,
    gw,
    gpe,
    gmp,
    pc_fee,
    tc_fee,
    pe,
    cf,
    flags,
    idx,
    pair_id,
):
    """Reductions for MULT PROC 1-7, ranked by fee amount within patient, provider and day."""
    r = payment_rules()["multiple_procedure"]
    n = len(idx)
    reduction = np.zeros(n, dtype="int64")
    note = np.full(n, "", dtype=object)

    # Endoscopy families (indicator 3): subtract the base code's fee from all but the highest.
    endo = priced & (mult == "3")
    if endo.any():
        # A base endoscopy billed with another endoscopy of its family joins the family.
        bases = pd.MultiIndex.from_arrays([group[endo], out["endo_base"].to_numpy()[endo]])
        mine = pd.MultiIndex.from_arrays([group, out["hcpcs"].to_numpy()])
        endo |= priced & mine.isin(bases)
    fam_id = np.full(n, -1, dtype="int64")
    if endo.any():
        endo_reduction, fam_id = _endo_family(
            out, endo, group, rank_amount, table, rel_safe, facility, gw, gpe, gmp
        )
        reduction += endo_reduction
        note = np.where(endo_reduction > 0, "endoscopy base subtracted", note)
        flags.add(
            "ENDOSCOPY_BASE_BUNDLED",
            endo_reduction > 0,
            idx,
            "Base endoscopy value subtracted within the family of " + out["hcpcs"] + ".",
        )
    # The RT and LT lines of one bilateral procedure also rank as one procedure.
    offset = int(fam_id.max()) + 1 if n else 0
    fam_id = np.where((fam_id < 0) & (pair_id >= 0), pair_id + offset, fam_id)

    # Standard ranking (indicators 1, 2, 3): a family counts as one procedure.
    std = priced & np.isin(mult, ["1", "2", "3"]) & ((proc_count > 0) | (fam_id >= 0))
    fam_total = np.zeros(n, dtype="int64")
    in_family = std & (fam_id >= 0)
    if in_family.any():
        fam_total[in_family] = (
            pd.Series((base - reduction)[in_family]).groupby(fam_id[in_family]).transform("sum")
        ).to_numpy()
    lead = std & ((fam_id < 0) | _first_of(fam_id))
    amt = np.where(fam_id >= 0, fam_total, rank_amount)
    cnt = np.where(fam_id >= 0, 1, proc_count)
    sel = np.flatnonzero(lead)
    if len(sel):
        before, _ = rank_units(group[sel], amt[sel], cnt[sel], order_key[sel])
        full, reduced = full_and_reduced(before, cnt[sel], r["standard_full_count"])
        by_report = np.clip(before + cnt[sel] - r["standard_by_report_after"], 0, cnt[sel])
        keep_bp = np.where(reduced > 0, r["standard_reduced"], 10000)
        # spread the family's percentage to each of its lines
        line_keep = np.full(n, 10000, dtype="int64")
        line_reduced_units = np.zeros(n, dtype="int64")
        line_by_report = np.zeros(n, dtype="int64")
        line_keep[sel] = keep_bp
        line_reduced_units[sel] = reduced
        line_by_report[sel] = by_report
        if (fam_id >= 0).any():
            lead_of_family = pd.Series(line_keep[sel], index=fam_id[sel])
            lead_of_family = lead_of_family[lead_of_family.index >= 0]
            in_fam = std & (fam_id >= 0)
            line_keep[in_fam] = lead_of_family.reindex(fam_id[in_fam]).to_numpy()
            line_reduced_units[in_fam] = (line_keep[in_fam] < 10000).astype("int64")
        after_endo = base - reduction
        per_proc = np.where(fam_id >= 0, after_endo, rank_amount)
        red_units = np.where(fam_id >= 0, line_reduced_units > 0, line_reduced_units)
        std_red = np.where(std, reduce_cents(per_proc, red_units, r["standard_reduced"]), 0)
        reduction += std_red
        note = np.where(std_red > 0, _join(note, "multiple procedure 50%"), note)
        flags.add(
            "MPPR_REDUCED",
            std_red > 0,
            idx,
            "Ranked below a higher-paid procedure the same day: "
            + _money(std_red)
            + " reduction ("
            + pd.Series(red_units, dtype="string")
            + " unit(s) at 50%).",
        )
        flags.add(
            "MPPR_BY_REPORT",
            std & (line_by_report > 0),
            idx,
            "Procedure ranked sixth or later the same day; the MAC may price it by report.",
        )

    # Imaging (4), cardiovascular (6), ophthalmology (7): reduce the TC (and imaging PC).
    for ind, tc_keep, label in (
        ("4", r["imaging_tc_reduced"], "imaging TC"),
        ("6", r["cardiovascular_tc_reduced"], "cardiovascular TC"),
        ("7", r["ophthalmology_tc_reduced"], "ophthalmology TC"),
    ):
        fam = priced & (mult == ind) & (proc_count > 0)
        comp = [(tc_fee, tc_keep, label)]
        if ind == "4":
            comp.append((pc_fee, r["imaging_pc_reduced"], "imaging PC"))
        for fee_part, keep, text in comp:
            sel = np.flatnonzero(fam & (fee_part > 0))
            if not len(sel):
                continue
            before, _ = rank_units(group[sel], fee_part[sel], proc_count[sel], order_key[sel])
            _, reduced = full_and_reduced(before, proc_count[sel])
            red = np.zeros(n, dtype="int64")
            red[sel] = reduce_cents(fee_part[sel], reduced, keep)
            reduction += red
            note = np.where(red > 0, _join(note, f"{text} {keep // 100}%"), note)
            flags.add(
                "MPPR_REDUCED",
                red > 0,
                idx,
                "Second or later "
                + text
                + " the same day: "
                + _money(red)
                + f" reduction (paid at {keep // 100}%).",
            )

    # Therapy (5): PE of every unit after the highest-PE unit paid at 50%.
    ther = np.flatnonzero(priced & (mult == "5") & (proc_count > 0))
    if len(ther):
        pe_1e9 = pe[ther] * gpe[ther] * cf[ther]
        before, _ = rank_units(group[ther], pe_1e9, proc_count[ther], order_key[ther])
        _, reduced = full_and_reduced(before, proc_count[ther])
        keep = r["therapy_pe_reduced"]
        red = np.zeros(n, dtype="int64")
        red[ther] = div_round_half_up(pe_1e9 * reduced * (10000 - keep), 10000 * 10**7)
        reduction += red
        note = np.where(red > 0, _join(note, f"therapy PE {keep // 100}%"), note)
        flags.add(
            "MPPR_REDUCED",
            red > 0,
            idx,
            "Therapy units after the first: practice expense paid at 50% ("
            + _money(red)
            + " reduction).",
        )
    return reduction, note


def _first_of(ids: np.ndarray) -> np.ndarray:
    first = np.zeros(len(ids), bool)
    _, pos = np.unique(ids, return_index=True)
    first[pos] = True
    return first


def _join(note: np.ndarray, text: str) -> np.ndarray:
    return np.where(note == "", text, note + "; " + text)


def _endo_family(out, endo, group, rank_amount, table, rel_safe, facility, gw, gpe, gmp):
    """Endoscopy family rule (MULT PROC 3): in each family of one patient, provider and day,
    the highest-valued endoscopy is paid in full and each other pays its fee minus the fee of
    the family's base code (so a base billed with another family member pays nothing).

    Returns the reduction per line and a family id per line (-1 outside families).
    """
    n = len(endo)
    base_code = out["endo_base"].reset_index(drop=True).astype("string")
    family_code = base_code.where(base_code != "", out["hcpcs"].reset_index(drop=True))
    base_row, base_found = lookup_rvu(
        table, rel_safe, family_code, pd.Series([""] * n, dtype="string")
    )
    bpe = np.where(facility, base_row["f_pe_rvu"], base_row["nf_pe_rvu"]).astype("int64")
    base_fee = _cents(
        _fee_1e9(
            base_row["work_rvu"].to_numpy("int64"),
            bpe,
            base_row["mp_rvu"].to_numpy("int64"),
            gw,
            gpe,
            gmp,
            base_row["cf"].to_numpy("int64"),
        )
    )
    base_fee = np.where(base_found, base_fee, 0)

    fam_id = np.where(endo, group_ids(group, family_code.to_numpy()), -1)
    sel = np.flatnonzero(endo)
    before, _ = rank_units(fam_id[sel], rank_amount[sel], np.ones(len(sel), "int64"), sel)
    reduction = np.zeros(n, dtype="int64")
    others = before > 0
    reduction[sel[others]] = np.minimum(base_fee[sel[others]], rank_amount[sel[others]])
    return reduction, fam_id


def _describe(
    out, priced, bilateral_bp, mppr_note, role_bp, nonpar, has_charge, charge, amount, capped
) -> pd.Series:
    """Human-readable list of the adjustments applied to each priced line."""
    parts = pd.Series("", index=out.index, dtype="string")

    def add(mask, text):
        nonlocal parts
        text = (
            pd.Series(text, index=out.index, dtype="string") if not isinstance(text, str) else text
        )
        joined = parts.where(parts == "", parts + "; ") + text
        parts = parts.mask(np.asarray(mask) & priced, joined)

    add(capped, "OPPS imaging cap")
    add(
        bilateral_bp > 0,
        "bilateral " + pd.Series(bilateral_bp // 100, index=out.index).astype("string") + "%",
    )
    add(
        pd.Series(mppr_note, index=out.index) != "",
        pd.Series(mppr_note, index=out.index).astype("string"),
    )
    add(
        role_bp != 10000,
        "surgical role "
        + pd.Series(role_bp / 100, index=out.index).map("{:g}".format).astype("string")
        + "%",
    )
    add(nonpar, "non-participating 95%")
    add(has_charge & (charge < amount), "lower of charge")
    return parts
