"""Match 835 remittance lines to claim lines; flag denials, downcoding and underpayment.

A remittance line matches a claim line of the same claim id (CLP01 = CLM01) by its line
control number (REF*6R), else by the billed procedure code (SVC06, else SVC01) and date of
service. A claim payment without service lines applies to every line of its claim. The
payments of one claim line are read in file order: a reversal (claim status 22, negative
amounts) cancels every payment before it, in this run or an earlier one, and what is paid
after it (the correction) is the line's payment. Only primary adjudication (statuses in
payment_rules.yaml) feeds the flags; secondary and tertiary payments are matched and
reported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.columns import REMIT_WORKING
from pipeline.money import div_round_half_up
from pipeline.scrub.flags import FlagCollector
from pipeline.scrub.rules import payment_rules
from pipeline.scrub.text import Dollars

logger = logging.getLogger(__name__)

# Columns added to a claim batch's lines when remittances were given to the run.
REMIT_COLUMNS = (
    "remit_paid_cents",
    "remit_paid_code",
    "remit_claim_status",
    "remit_adjustments",
    "remit_patient_responsibility_cents",
    "remit_sequestration_cents",
    "remit_remark_codes",
    "remit_match",
    "remit_source",
)
# summarize() output: the report columns plus working columns (columns.INTERNAL).
SUMMARY_COLUMNS = (*REMIT_COLUMNS, *REMIT_WORKING)
BOOLEAN_COLUMNS = (
    "remit_flaggable",
    "remit_line_level",
    "remit_reversed_only",
    "remit_denied",
    "remit_paid_unreadable",
)
METHODS = {
    "lcn": "claim id + line control number",
    "code_date": "claim id + procedure code + date of service",
    "code": "claim id + procedure code (no date on the remittance)",
    "claim": "claim id (claim-level payment, no service lines)",
}


def _rules() -> dict:
    return payment_rules()["remittance"]


@dataclass
class Remittances:
    """The 835 files of one run: their rows, adjustments and what each row matched."""

    names: list[str]
    sources: list[str]
    rows: pd.DataFrame  # every file's rows; remit_key is unique in the run
    adjustments: pd.DataFrame
    matches: list[pd.DataFrame] = field(default_factory=list)
    row_flags: list[pd.DataFrame] = field(default_factory=list)

    @classmethod
    def build(cls, files: list, names: list[str]) -> Remittances:
        """Combine parsed RemitFile objects (pipeline.extract.x12_835) into one set."""
        rows, adjustments = [], []
        for i, f in enumerate(files):
            rows.append(f.lines.assign(file=i))
            adjustments.append(f.adjustments.assign(file=i))
        rows_df = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
        adj_df = pd.concat(adjustments, ignore_index=True) if adjustments else pd.DataFrame()
        if not rows_df.empty:
            rows_df["remit_key"] = np.arange(len(rows_df))
            rows_df["payment"] = (
                rows_df["file"].astype(str) + ":" + rows_df["remit_claim"].astype(str)
            )
            key = rows_df.set_index(["file", "remit_row"])["remit_key"]
            adj_df = adj_df[adj_df["remit_row"].notna()]
            adj_df["remit_key"] = key.reindex(
                pd.MultiIndex.from_arrays([adj_df["file"], adj_df["remit_row"].astype("int64")])
            ).to_numpy()
            rows_df = _with_adjustment_totals(rows_df, adj_df)
        return cls(names, [f.source for f in files], rows_df, adj_df)

    @property
    def empty(self) -> bool:
        return self.rows.empty

    def matched_keys(self) -> set[int]:
        done: set[int] = set()
        for m in self.matches:
            done |= set(m["remit_key"].tolist())
        return done

    def unmatched(self) -> pd.DataFrame:
        return self.rows[~self.rows["remit_key"].isin(self.matched_keys())]

    def attach(self, lines: pd.DataFrame, batch: str) -> pd.DataFrame:
        """A batch's lines with what this run's remittances say about them.

        Adds REMIT_COLUMNS and working columns (remit_matched, remit_flaggable, ...); the
        rows a line matched are not offered to later batches or to the history store.
        """
        rest = self.unmatched()
        mine = lines["claim_id"].astype("string").str.strip().isin(set(rest["claim_id"]))
        some = lines[mine.to_numpy(bool)]
        candidates = _claim_lines(some, key=some["line_index"].to_numpy())
        pairs = match(candidates, rest)
        if not pairs.empty:
            self.matches.append(
                _describe_matches(pairs, candidates, batch=batch, matched_in="this run")
            )
        summary = summarize(pairs, self, len(lines))
        out = lines.join(summary, on="line_index")
        # Paid, expected payment and variance come from the 835 where it paid the line itself
        # (a paid amount the 835 left unreadable stays unknown, not the batch's own).
        out["remit_matched"] = out["remit_line_level"].to_numpy(bool)
        return out

    def record_flags(self, flags: pd.DataFrame, lines: pd.DataFrame, matched_in: str) -> None:
        """Keep remittance flags against the latest remittance row of each flagged line."""
        if flags.empty:
            return
        latest = lines.set_index("line_index")["remit_latest_key"]
        at = flags.assign(remit_key=latest.reindex(flags["line_index"]).to_numpy())
        self.row_flags.append(at.drop(columns=["line_index"]).assign(matched_in=matched_in))

    def months(self) -> set[str] | None:
        """Service months (YYYY-MM) of the unmatched rows; None when a row has no date."""
        dates = self.unmatched()["service_date"].astype(str)
        if dates.empty:
            return set()
        if (dates.str.len() < 6).any():
            return None
        return {f"{d[:4]}-{d[4:6]}" for d in dates}


def apply_remits(
    lines: pd.DataFrame,
    flags: FlagCollector,
    remits: Remittances,
    *,
    tolerance_cents: int,
) -> pd.DataFrame:
    """Flag a batch's remittance-matched lines; their paid, expected payment and variance
    come from the remittance (compare_paid left them alone)."""
    own = FlagCollector()
    added = flag_remits(lines, own, tolerance_cents=tolerance_cents)
    remits.record_flags(own.table(), lines, "this run")
    flags.absorb(own)
    matched = lines["remit_matched"].to_numpy(bool)
    out = lines.copy()  # claim-level-only matches keep the batch's own paid amount
    for col, new in (
        ("paid_cents", lines["remit_paid_cents"]),
        ("expected_payment_cents", added["remit_expected_payment_cents"]),
        ("paid_variance_cents", added["remit_variance_cents"]),
    ):
        out[col] = out[col].mask(matched, new)
    return out


def match_history(
    remits: Remittances, history: pd.DataFrame, *, tolerance_cents: int
) -> pd.DataFrame:
    """Match rows no batch of this run matched against earlier batches' lines; flag them.

    `history` holds history-store rows (report.history) of the remittances' claims. Returns
    the claim lines that matched, with their flags recorded on the remittance rows.
    """
    rest = remits.unmatched()
    if rest.empty or history.empty:
        return history.iloc[:0]
    past = history.copy()
    if "run_id" in past:  # a claim line sent again: its latest scrub counts
        past = past.sort_values("run_id", kind="stable")
    past = past.drop_duplicates(["claim_id", "claim_line_number"], keep="last")
    past = past.reset_index(drop=True)
    past["line_index"] = np.arange(len(past))
    candidates = _claim_lines(past, key=past["line_index"].to_numpy())
    pairs = match(candidates, rest)
    if pairs.empty:
        return past.iloc[:0]
    batches = past["batch"] if "batch" in past else pd.Series("", index=past.index)
    remits.matches.append(_describe_matches(pairs, candidates, batch=batches, matched_in="history"))
    lines = past.join(summarize(pairs, remits, len(past)), on="line_index")
    own = FlagCollector()
    added = flag_remits(lines, own, tolerance_cents=tolerance_cents)
    remits.record_flags(own.table(), lines, "history")
    return pd.concat([lines, added], axis=1)[lines["remit_match"].notna().to_numpy(bool)]


def _with_adjustment_totals(rows: pd.DataFrame, adj: pd.DataFrame) -> pd.DataFrame:
    rules = _rules()
    amount = adj["amount_cents"].astype("int64")
    parts = pd.DataFrame(
        {
            "remit_key": adj["remit_key"].astype("int64"),
            "pr": amount.where(adj["group"] == rules["patient_responsibility_group"], 0),
            "seq": amount.where(adj["reason"] == rules["sequestration_reason"], 0),
            "total": amount,
        }
    )
    sums = parts.groupby("remit_key")[["pr", "seq", "total"]].sum()
    out = rows.join(sums, on="remit_key")
    for col in ("pr", "seq", "total"):
        out[col] = out[col].fillna(0).astype("int64")
    out["adjustments_text"] = (
        _adjustment_text(adj.assign(remit_key=adj["remit_key"].astype("int64")), "remit_key")
        .reindex(out["remit_key"])
        .fillna("")
        .to_numpy()
    )
    return out.rename(
        columns={"pr": "pr_cents", "seq": "seq_cents", "total": "adjustments_total_cents"}
    )


def _adjustment_text(adj: pd.DataFrame, by: str) -> pd.Series:
    """'CO-45 67.50; PR-2 5.13' per `by` key, adjustments netted by group and reason."""
    if adj.empty:
        return pd.Series(dtype=object)
    net = (
        adj.assign(amount=adj["amount_cents"].astype("int64"))
        .groupby([by, "group", "reason"], sort=False)["amount"]
        .sum()
        .reset_index()
    )
    net = net[net["amount"] != 0]
    text = net["group"] + "-" + net["reason"] + " " + net["amount"].map(_dollars)
    return text.groupby(net[by]).agg("; ".join)


def _dollars(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _claim_lines(lines: pd.DataFrame, key: np.ndarray) -> pd.DataFrame:
    """The matching view of claim lines: claim id, line control number, code, date, order."""

    def text(col: str) -> pd.Series:
        if col not in lines:
            return pd.Series("", index=lines.index, dtype=object)
        return lines[col].astype("string").fillna("").str.strip().astype(object)

    dos = pd.to_datetime(lines["dos"], errors="coerce")
    return pd.DataFrame(
        {
            "line_key": key,
            "claim_id": text("claim_id").to_numpy(),
            "claim_line_number": text("claim_line_number").to_numpy(),
            "lcn": text("line_control_number").to_numpy(),
            "code": text("hcpcs").str.upper().to_numpy(),
            "date": dos.dt.strftime("%Y%m%d").fillna("").to_numpy(),
            "payer": text("payer").to_numpy(),
            "order": np.arange(len(lines)),
        }
    )


def match(claim_lines: pd.DataFrame, remit: pd.DataFrame) -> pd.DataFrame:
    """Pairs (remit_key, line_key, method) of remittance rows and the claim lines they pay."""
    empty = pd.DataFrame({"remit_key": [], "line_key": [], "method": []})
    if remit.empty or claim_lines.empty:
        return empty
    claims = set(claim_lines["claim_id"]) - {""}  # no claim id: a line outside any claim
    r = remit[remit["claim_id"].isin(claims)]
    r = pd.DataFrame(
        {
            "remit_key": r["remit_key"].to_numpy(),
            "payment": r["payment"].to_numpy(),
            "level": r["level"].to_numpy(object),
            "claim_id": r["claim_id"].astype(object).to_numpy(),
            "lcn": r["line_control_number"].astype(object).to_numpy(),
            "code": r["billed_code"].astype(object).str.upper().to_numpy(),
            "date": r["service_date"].astype(object).to_numpy(),
            "row": r["remit_row"].to_numpy("int64"),
        }
    )
    found = []
    lines = r[r["level"] == "line"]
    by_lcn = claim_lines[claim_lines["lcn"] != ""].drop_duplicates(["claim_id", "lcn"])
    a = lines[lines["lcn"] != ""].merge(
        by_lcn[["claim_id", "lcn", "line_key"]], on=["claim_id", "lcn"]
    )
    found.append(a.assign(method="lcn"))
    rest = lines[~lines["remit_key"].isin(a["remit_key"])]
    taken = a[["payment", "line_key"]]
    for method, keys in (
        ("code_date", ["claim_id", "code", "date"]),
        ("code", ["claim_id", "code"]),
    ):
        part = rest[(rest["code"] != "") & ((rest["date"] != "") == (method == "code_date"))]
        pairs = _one_to_one(part, claim_lines, keys, taken)
        found.append(pairs.assign(method=method))
        taken = pd.concat([taken, pairs[["payment", "line_key"]]])
        rest = rest[~rest["remit_key"].isin(pairs["remit_key"])]
    whole = r[r["level"] == "claim"].merge(claim_lines[["claim_id", "line_key"]], on="claim_id")
    found.append(whole.assign(method="claim"))
    out = pd.concat([f[["remit_key", "line_key", "method"]] for f in found], ignore_index=True)
    return out if len(out) else empty


def _one_to_one(
    remit: pd.DataFrame, lines: pd.DataFrame, keys: list[str], taken: pd.DataFrame
) -> pd.DataFrame:
    """Within one claim payment, the k-th remittance row of a code (and date) pays the k-th
    claim line of that code (and date) not already paid by that payment."""
    if remit.empty:
        return pd.DataFrame({"remit_key": [], "line_key": [], "payment": []})
    pairs = remit.merge(lines[[*keys, "line_key", "order"]], on=keys)
    done = pairs.merge(taken.assign(_taken=True), on=["payment", "line_key"], how="left")
    pairs = pairs[done["_taken"].isna().to_numpy()]
    group = ["payment", *keys]
    pairs = pairs.assign(
        r_rank=pairs.groupby(group)["row"].rank(method="dense"),
        l_rank=pairs.groupby(group)["order"].rank(method="dense"),
    )
    return pairs[pairs["r_rank"] == pairs["l_rank"]][["remit_key", "line_key", "payment"]]


def _describe_matches(
    pairs: pd.DataFrame, claim_lines: pd.DataFrame, *, batch, matched_in: str
) -> pd.DataFrame:
    lines = claim_lines.set_index("line_key")
    out = pairs.assign(
        matched_claim_id=lines["claim_id"].reindex(pairs["line_key"]).to_numpy(),
        matched_claim_line_number=lines["claim_line_number"].reindex(pairs["line_key"]).to_numpy(),
        matched_payer=lines["payer"].reindex(pairs["line_key"]).to_numpy(),
        matched_date=lines["date"].reindex(pairs["line_key"]).to_numpy(),
        match=pairs["method"].map(METHODS),
        matched_in=matched_in,
    )
    out["matched_batch"] = (
        batch if isinstance(batch, str) else batch.reindex(pairs["line_key"]).to_numpy()
    )
    # A claim-level payment matches every line of its claim: keep one description per row.
    return (
        out.groupby("remit_key", sort=False)
        .agg(
            matched_batch=("matched_batch", "first"),
            matched_claim_id=("matched_claim_id", "first"),
            matched_claim_line_number=("matched_claim_line_number", lambda s: ";".join(s)),
            matched_payer=("matched_payer", "first"),
            matched_date=("matched_date", "first"),
            match=("match", "first"),
            matched_in=("matched_in", "first"),
        )
        .reset_index()
    )


def summarize(pairs: pd.DataFrame, remits: Remittances, n: int) -> pd.DataFrame:
    """Per claim line (rows 0..n-1, by line_key): the netted remittance that paid it.

    A line paid by service-line rows takes paid amount, adjustments and code from them; a line
    reached only by a claim-level payment (no SVC) has no paid amount of its own and can only
    be found denied.
    """
    if pairs.empty:
        return _typed(pd.DataFrame(index=pd.RangeIndex(n), columns=list(SUMMARY_COLUMNS)))
    rules = _rules()
    fields = [
        "claim_status", "paid_cents", "paid_code", "pr_cents", "seq_cents", "remark_codes",
        "file", "x12_segment", "remit_row",
    ]  # fmt: skip
    p = pairs.join(remits.rows.set_index("remit_key")[fields], on="remit_key")
    p["primary"] = p["claim_status"].isin(set(rules["flagged_statuses"]))
    p["reversal"] = p["claim_status"] == rules["reversal_status"]
    p["paid"] = p["paid_cents"].fillna(0).astype("int64")
    p["unreadable"] = p["paid_cents"].isna()  # SVC03/CLP04 not an amount (x12_findings)
    p["line_level"] = p["method"] != "claim"
    # Service-line payments outrank claim-level ones; primary adjudication outranks secondary
    # and tertiary (a line reached only by those is reported from them, unflagged).
    for rank in ("line_level", "primary"):
        best = p.groupby("line_key")[rank].transform("any").astype(bool)
        p = p[p[rank] | ~best]
    basis = p.sort_values(["line_key", "file", "remit_row"], kind="stable")
    # A reversal cancels every payment before it, in this run or an earlier one: the line's
    # payment is what was paid after its last reversal (a correction), if anything.
    position = basis.groupby("line_key").cumcount()
    last_reversal = position.where(basis["reversal"]).groupby(basis["line_key"]).transform("max")
    current = basis[(position > last_reversal.fillna(-1)) & ~basis["reversal"]]
    g = basis.groupby("line_key", sort=True)
    c = current.groupby("line_key", sort=True)
    latest = c.tail(1).set_index("line_key").combine_first(g.tail(1).set_index("line_key"))
    used = remits.adjustments.merge(current[["remit_key", "line_key"]], on="remit_key")
    payer_side = used[used["group"] != rules["patient_responsibility_group"]]
    # Why the payer paid nothing: its adjustments other than contractual reductions (a
    # deductible after CO-45 is the patient's to pay, not a denial); with no patient share
    # at all, the contractual ones too (the payer allowed $0).
    reasons = _adjustment_text(
        payer_side[~payer_side["reason"].isin(rules["contractual_reasons"])], "line_key"
    ).reindex(latest.index)
    no_share = c["pr_cents"].sum().reindex(latest.index).fillna(0) == 0
    denial = reasons.fillna("").mask(
        reasons.fillna("").eq("") & no_share,
        _adjustment_text(payer_side, "line_key").reindex(latest.index),
    )
    primary = g["primary"].any()
    line_level = g["line_level"].any()
    paid = c["paid"].sum().reindex(latest.index).fillna(0)
    unreadable = c["unreadable"].any().reindex(latest.index).fillna(False).astype(bool)
    reversed_only = g["reversal"].any() & ~latest.index.isin(current["line_key"])
    source = (
        basis["file"].map(lambda i: remits.names[i])
        + " segment "
        + basis["x12_segment"].astype(str)
    )
    agg = pd.DataFrame(
        {
            "remit_paid_cents": paid.where(line_level & ~unreadable),
            "remit_paid_code": latest["paid_code"].where(line_level),
            "remit_claim_status": latest["claim_status"],
            "remit_adjustments": _adjustment_text(used, "line_key"),
            "remit_patient_responsibility_cents": c["pr_cents"].sum().where(line_level),
            "remit_sequestration_cents": c["seq_cents"].sum().where(line_level),
            "remit_remark_codes": latest["remark_codes"],
            "remit_match": basis.drop_duplicates("line_key")
            .set_index("line_key")["method"]
            .map(METHODS),
            "remit_source": source.groupby(basis["line_key"]).agg("; ".join),
            "remit_flaggable": primary,
            "remit_line_level": line_level,
            "remit_reversed_only": reversed_only & primary,
            "remit_reversed_cents": -basis["paid"]
            .where(basis["reversal"], 0)
            .groupby(basis["line_key"])
            .sum(),
            "remit_denial": denial,
            "remit_denied": (latest["claim_status"] == rules["denied_status"])
            | (~unreadable & (paid <= 0) & denial.fillna("").ne("")),
            "remit_paid_unreadable": unreadable,
            "remit_latest_key": latest["remit_key"],
        }
    ).reindex(pd.RangeIndex(n))
    return _typed(agg)


def _typed(agg: pd.DataFrame) -> pd.DataFrame:
    for col in agg.columns:
        if col.endswith("_cents") or col == "remit_latest_key":
            agg[col] = pd.array(agg[col].tolist(), dtype="Int64")
        elif col in BOOLEAN_COLUMNS:
            agg[col] = agg[col].astype("boolean").fillna(False).astype(bool)
        else:
            agg[col] = agg[col].astype("string")
    matched = agg["remit_match"].notna()
    for col in ("remit_adjustments", "remit_denial", "remit_remark_codes"):
        agg[col] = agg[col].mask(matched & agg[col].isna(), "")
    return agg


def flag_remits(lines: pd.DataFrame, flags: FlagCollector, *, tolerance_cents: int) -> pd.DataFrame:
    """Flag matched lines; return expected payment and variance for them (null elsewhere).

    Expected payment = expected allowed less the patient responsibility the payer reported
    (group PR), less sequestration at the rate in payment_rules.yaml when the payer applied it
    (a CO-253 on the line): sequestration is never an underpayment.
    """
    pct = payment_rules()["expected_payment"]["sequestration"]
    idx = lines["line_index"].to_numpy()
    flaggable = lines["remit_flaggable"].to_numpy(bool)
    reversed_only = lines["remit_reversed_only"].to_numpy(bool)
    line_level = lines["remit_line_level"].to_numpy(bool)
    paid = lines["remit_paid_cents"].fillna(0).to_numpy("int64")
    pr = lines["remit_patient_responsibility_cents"].fillna(0).to_numpy("int64")
    seq_reported = lines["remit_sequestration_cents"].fillna(0).to_numpy("int64")
    allowed = lines["expected_allowed_cents"]
    priced = (allowed.notna() & (lines["line_status"] == "priced")).to_numpy(bool)
    allowed = allowed.fillna(0).to_numpy("int64")
    charge = lines["charge_cents"].fillna(0).to_numpy("int64")
    status = lines["remit_claim_status"].fillna("").to_numpy(object)
    denial = lines["remit_denial"].fillna("").to_numpy(object)
    base = np.maximum(allowed - pr, 0)
    sequestration = np.where(seq_reported != 0, div_round_half_up(base * pct, 10000), 0)
    expected = base - sequestration
    active = flaggable & ~reversed_only
    unreadable = lines["remit_paid_unreadable"].to_numpy(bool)
    denied = active & lines["remit_denied"].to_numpy(bool)
    taken_back = lines["remit_reversed_cents"].fillna(0).to_numpy("int64")
    flags.add(
        "PAYMENT_REVERSED",
        flaggable & reversed_only,
        idx,
        (
            "The payer reversed its payment (claim status 22, ",
            Dollars(taken_back),
            " taken back) and no corrected payment was matched.",
        ),
        taken_back,
    )
    shown = np.where(denial == "", "claim status " + status.astype(str) + " (denied)", denial)
    flags.add(
        "PAYER_DENIED",
        denied,
        idx,
        ("Denied on the remittance: ", shown, describe_reasons(denial), "."),
        np.where(priced, allowed, charge),
    )
    code = lines["hcpcs"].astype(str).str.upper().to_numpy(object)
    paid_code = lines["remit_paid_code"].fillna("").astype(str).str.upper().to_numpy(object)
    shortfall = expected - paid
    paid_line = active & line_level & ~denied
    downcoded = paid_line & (paid_code != "") & (paid_code != code)
    flags.add(
        "PAYER_DOWNCODED",
        downcoded & ~unreadable,
        idx,
        ("Billed ", code, ", paid as ", paid_code, " (", Dollars(paid), " paid)."),
        np.where(priced, np.maximum(shortfall, 0), 0),
    )
    flags.add(
        "PAYER_DOWNCODED",
        downcoded & unreadable,
        idx,
        ("Billed ", code, ", paid as ", paid_code, " (paid amount unreadable, not compared)."),
    )
    _flag_unreadable(flags, lines, active & unreadable, idx)
    under = paid_line & priced & ~unreadable & (shortfall > tolerance_cents)
    flags.add(
        "REMIT_UNDERPAID",
        under,
        idx,
        (
            "Paid ",
            Dollars(paid),
            ", expected ",
            Dollars(expected),
            ": allowed ",
            Dollars(allowed),
            " less patient responsibility ",
            Dollars(pr),
            " less sequestration ",
            Dollars(sequestration),
            ". Adjustments: ",
            lines["remit_adjustments"].fillna("").astype(str).to_numpy(object),
            ".",
        ),
        shortfall,
    )
    known = active & line_level & priced
    return pd.DataFrame(
        {
            "remit_expected_payment_cents": pd.arrays.IntegerArray(expected, ~known),
            "remit_variance_cents": pd.arrays.IntegerArray(paid - expected, ~known | unreadable),
        },
        index=lines.index,
    )


def _flag_unreadable(
    flags: FlagCollector, lines: pd.DataFrame, mask: np.ndarray, idx: np.ndarray
) -> None:
    """A paid amount the 835 left unreadable is not taken as $0: the line is not compared
    (no underpayment, no denial for paying nothing) and says so."""
    flags.add(
        "REMIT_PAID_UNREADABLE",
        mask,
        idx,
        (
            "The remittance's paid amount for this line could not be read (",
            lines["remit_source"].fillna("").astype(str).to_numpy(object),
            "; see x12_findings), so the payment was not compared with the expected payment.",
        ),
    )


def describe_reasons(denial: np.ndarray) -> np.ndarray:
    """' (97: included in another service)' for the first reason code the glossary knows."""
    glossary = {str(k): v for k, v in _rules()["reason_codes"].items()}
    out = []
    for text in denial:
        first = str(text).split(" ", 1)[0] if text else ""
        reason = first.split("-", 1)[1] if "-" in first else ""
        out.append(f" ({reason}: {glossary[reason]})" if reason in glossary else "")
    return np.asarray(out, dtype=object)
