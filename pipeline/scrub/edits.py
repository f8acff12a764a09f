"""NCCI edits that predict denials: PTP pairs, MUE units, add-on codes, modifiers 25/57.

Every edit works on groups of one patient, one provider (rendering, else billing NPI) and one
date of service, across all claims of the batch. Domain rules s14-s16.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from pipeline.extract.ncci import NcciRelease
from pipeline.scrub.context import Modifiers
from pipeline.scrub.flags import FlagCollector
from pipeline.scrub.lookup import group_ids
from pipeline.scrub.rules import edit_rules
from pipeline.scrub.tips import tip_edits

logger = logging.getLogger(__name__)

# Lines the edits look at: a real code on a real, loaded date of service.
EDITABLE = ("priced", "not_payable", "carrier_priced", "other_fee_schedule")


@dataclass
class EditInput:
    """The columns of a priced batch the edits need, as arrays."""

    idx: np.ndarray
    group: np.ndarray
    code: np.ndarray
    dos: np.ndarray
    units: np.ndarray
    mods: Modifiers
    at_risk: np.ndarray
    editable: np.ndarray
    claim: np.ndarray
    line_no: np.ndarray

    @classmethod
    def of(cls, lines: pd.DataFrame) -> EditInput:
        allowed = lines["expected_allowed_cents"]
        # A line not priced here still risks its charge when an edit denies it.
        risk = allowed.fillna(lines["charge_cents"].fillna(0)).to_numpy("int64")
        return cls(
            idx=lines["line_index"].to_numpy("int64"),
            group=(
                lines["same_day_group"].to_numpy("int64")
                if "same_day_group" in lines
                else group_ids(lines["patient_key"], lines["provider"], lines["dos"])
            ),
            code=lines["hcpcs"].to_numpy(object),
            dos=lines["dos"].to_numpy("datetime64[D]"),
            units=lines["units"].to_numpy("int64"),
            mods=Modifiers(lines),
            at_risk=risk,
            editable=lines["line_status"].isin(EDITABLE).to_numpy(bool),
            claim=lines["claim_id"].astype(str).to_numpy(object),
            line_no=lines["claim_line_number"].astype(str).to_numpy(object),
        )

    def __post_init__(self) -> None:
        ids, uniques = pd.factorize(self.code)
        self.code_id = ids.astype("int64")  # one vocabulary of codes for every edit
        self.vocab = pd.Index(np.asarray(uniques, dtype=object))

    def has_mod(self, mods) -> np.ndarray:
        return self.mods.has(*mods)


def apply_edits(lines: pd.DataFrame, ncci: NcciRelease, flags: FlagCollector) -> pd.DataFrame:
    """Run every edit; return MUE columns for the line report (mue_value, mue_mai, mue_status)."""
    data = EditInput.of(lines)
    ptp_edits(data, ncci, flags)
    mue = mue_edits(data, ncci, flags)
    addon_edits(data, ncci, flags)
    modifier_edits(data, flags)
    global_surgery_edits(
        data,
        lines["glob_days"].fillna("").to_numpy(object),
        lines["patient_key"],
        lines["provider"],
        flags,
    )
    tip_edits(data, flags)
    return mue


@dataclass(frozen=True)
class PtpIndex:
    """A release's PTP rows keyed by one integer per (column 1, column 2) code pair, sorted.

    Built once per NCCI release; each batch then finds its pairs by binary search.
    """

    vocab: pd.Index  # every code in either column
    in_column1: np.ndarray  # per vocab code: appears in column 1
    in_column2: np.ndarray
    keys: pd.Index  # distinct pair keys (column1 id * width + column2 id), hashed
    starts: np.ndarray  # per distinct key: its first position in `rows` (one extra at the end)
    rows: np.ndarray  # PTP rows ordered by pair key

    @property
    def width(self) -> int:
        return len(self.vocab) + 1

    @classmethod
    def of(cls, ncci: NcciRelease) -> PtpIndex:
        cached = ncci.__dict__.get("_ptp_index")  # frozen dataclass: cache beside the fields
        if cached is None:
            c1 = pd.Categorical(ncci.ptp["column1"].to_numpy(object))
            c2 = pd.Categorical(ncci.ptp["column2"].to_numpy(object))
            vocab = c1.categories.union(c2.categories)
            id1 = vocab.get_indexer(c1.categories)[c1.codes].astype("int64")
            id2 = vocab.get_indexer(c2.categories)[c2.codes].astype("int64")
            keys = id1 * (len(vocab) + 1) + id2
            rows = np.argsort(keys, kind="stable")
            distinct, starts = np.unique(keys[rows], return_index=True)
            in1, in2 = np.zeros(len(vocab), bool), np.zeros(len(vocab), bool)
            in1[id1], in2[id2] = True, True
            starts = np.append(starts, len(rows))
            cached = cls(vocab, in1, in2, pd.Index(distinct), starts, rows)
            ncci.__dict__["_ptp_index"] = cached
        return cached


def _ptp_pairs(data: EditInput, ncci: NcciRelease) -> pd.DataFrame:
    """(column-1 line, column-2 line, PTP row) for every edit pair billed in one group.

    Codes become the release's integer ids; lines pair up within their group first (groups
    are small) and only then meet the table, through one hashed integer key per code pair.
    """
    index = PtpIndex.of(ncci)
    known = index.vocab.get_indexer(data.vocab)  # batch code -> release code id, -1 if none
    line_id = np.append(known, -1)[data.code_id]
    listed = line_id >= 0
    side1 = data.editable & listed & np.append(index.in_column1, False)[line_id]
    side2 = data.editable & listed & np.append(index.in_column2, False)[line_id]
    left = pd.DataFrame({"g": data.group[side1], "i1": np.flatnonzero(side1)})
    right = pd.DataFrame({"g": data.group[side2], "i2": np.flatnonzero(side2)})
    pairs = left.merge(right, on="g")
    i1, i2 = pairs["i1"].to_numpy("int64"), pairs["i2"].to_numpy("int64")
    key = line_id[i1] * index.width + line_id[i2]
    at = index.keys.get_indexer(key)
    found = (at >= 0) & (i1 != i2)
    lo = index.starts[np.where(found, at, 0)]
    count = np.where(found, index.starts[np.where(found, at + 1, 0)] - lo, 0)
    # One output row per matching PTP row (a pair can have several dated rows).
    take = np.repeat(np.arange(len(key)), count)
    first = np.repeat(lo - np.cumsum(count) + count, count)
    rows = index.rows[first + np.arange(len(take))]
    ptp = ncci.ptp
    return pd.DataFrame(
        {
            "i1": i1[take],
            "i2": i2[take],
            "effective_date": ptp["effective_date"].to_numpy()[rows],
            "deletion_date": ptp["deletion_date"].to_numpy()[rows],
            "modifier_indicator": ptp["modifier_indicator"].to_numpy()[rows],
        }
    )


def ptp_edits(data: EditInput, ncci: NcciRelease, flags: FlagCollector) -> None:
    """Flag the column-2 line of every PTP pair in force on the date of service."""
    rules = edit_rules()["ptp"]
    ok = data.editable
    pairs = _ptp_pairs(data, ncci)
    if len(pairs):
        dos = data.dos[pairs["i1"].to_numpy()]
        start = np.datetime64(ncci.effective, "D")
        eff = pairs["effective_date"].to_numpy("datetime64[D]")
        dele = pairs["deletion_date"].to_numpy("datetime64[D]")
        in_force = np.where(np.isnat(eff), dos >= start, eff <= dos) & (
            np.isnat(dele) | (dos <= dele)
        )
        pairs = pairs[in_force]
        # Repeated rows for a pair: the latest effective, then latest (or no) deletion wins.
        pairs = (
            pairs.assign(
                _eff=pairs["effective_date"].fillna(pd.Timestamp(ncci.effective)),
                _del=pairs["deletion_date"].fillna(pd.Timestamp.max.floor("D")),
            )
            .sort_values(["i1", "i2", "_eff", "_del"])
            .drop_duplicates(["i1", "i2"], keep="last")
        )
        pairs = pairs[pairs["modifier_indicator"] != 9]

    i2 = pairs["i2"].to_numpy("int64") if len(pairs) else np.zeros(0, "int64")
    i1 = pairs["i1"].to_numpy("int64") if len(pairs) else np.zeros(0, "int64")
    bypass = data.has_mod(rules["bypass_modifiers"])
    carrier = (
        bypass[i2] if rules.get("bypass_on", "column2") == "column2" else bypass[i2] | bypass[i1]
    )
    mi = pairs["modifier_indicator"].to_numpy() if len(pairs) else np.zeros(0, "int8")
    em_rules = edit_rules()["evaluation_and_management"]
    is_em = _in_ranges(data.code, em_rules["ranges"], em_rules["codes"])
    n = len(data.idx)
    # 59/X modifiers are not for E/M codes: a separately identifiable visit takes 25.
    advice_text = np.array(
        [
            f"add {rules['suggested']} if the services were distinct",
            "add 25 if the visit was significant and separately identifiable",
        ],
        dtype=object,
    )
    advice = advice_text[is_em.astype("int8")]
    for rule, hit in (("PTP_BUNDLED", mi == 0), ("PTP_MODIFIER_NEEDED", (mi == 1) & ~carrier)):
        chosen = pd.DataFrame({"i2": i2[hit], "i1": i1[hit]}).drop_duplicates("i2")
        mask = np.zeros(n, dtype=bool)
        partner = np.zeros(n, dtype="int64")
        mask[chosen["i2"].to_numpy("int64")] = True
        partner[chosen["i2"].to_numpy("int64")] = chosen["i1"].to_numpy("int64")
        tail = (
            (" is bundled; no modifier bypasses this edit.",)
            if rule == "PTP_BUNDLED"
            else (" is bundled: ", advice, ", else remove this line.")
        )
        flags.add(
            rule,
            mask,
            data.idx,
            (
                "Column-2 code ",
                data.code,
                " billed with column-1 code ",
                data.code[partner],
                " (claim ",
                data.claim[partner],
                " line ",
                data.line_no[partner],
                ")",
                *tail,
            ),
            data.at_risk,
        )

    paired = np.zeros(n, dtype=bool)
    paired[i1] = True
    paired[i2] = True
    audit = ok & data.has_mod(rules["audit_modifiers"]) & ~paired
    flags.add(
        "BYPASS_MODIFIER_WITHOUT_EDIT",
        audit,
        data.idx,
        (
            "No NCCI edit pairs ",
            data.code,
            " with another code billed that day by the same "
            "provider; the 59/X modifier is not needed and draws audits.",
        ),
    )


def mue_edits(data: EditInput, ncci: NcciRelease, flags: FlagCollector) -> pd.DataFrame:
    """MAI 1 per line; MAI 2 and 3 summed over the day's lines of the code."""
    mue = ncci.mue.drop_duplicates("hcpcs").set_index("hcpcs")
    pos = mue.index.get_indexer(data.code)  # -1 picks the appended 0 below
    has = (pos >= 0) & data.editable
    value = np.where(has, np.append(mue["mue_value"].to_numpy("int64"), 0)[pos], 0)
    mai = np.where(has, np.append(mue["mai"].to_numpy("int64"), 0)[pos], 0)
    day_key = group_ids(data.group, data.code)
    day_units = np.bincount(day_key, weights=np.where(data.editable, data.units, 0))[day_key]
    day_units = day_units.astype("int64")
    line_over = has & (mai == 1) & (data.units > value)
    day_over = has & np.isin(mai, [2, 3]) & (day_units > value)
    flags.add(
        "MUE_LINE_EXCEEDED",
        line_over,
        data.idx,
        (
            data.units,
            " units of ",
            data.code,
            " on one line; the MUE is ",
            value,
            " per line (MAI 1).",
        ),
        data.at_risk,
    )
    for rule, level, words in (
        ("MUE_DAY_POLICY_EXCEEDED", 2, "policy: not payable above it, even on appeal"),
        ("MUE_DAY_CLINICAL_EXCEEDED", 3, "clinical: payable above it only on appeal with records"),
    ):
        flags.add(
            rule,
            day_over & (mai == level),
            data.idx,
            (
                day_units,
                " units of ",
                data.code,
                " that day (all claims of this batch and the history); the MUE is ",
                value,
                f" per day (MAI {level}, {words}).",
            ),
            data.at_risk,
        )
    status = np.where(
        ~data.editable,
        "",
        np.where(
            ~has, "no published MUE", np.where(line_over | day_over, "exceeded", "within MUE")
        ),
    )
    return pd.DataFrame(
        {
            "mue_value": pd.arrays.IntegerArray(value, ~has),
            "mue_mai": pd.arrays.IntegerArray(mai, ~has),
            "mue_status": status.astype(object),
        }
    )


def _member(ids: np.ndarray, wanted: np.ndarray, size: int) -> np.ndarray:
    """ids (0..size-1, or -1) that are in `wanted`, through a lookup table."""
    table = np.zeros(size + 1, dtype=bool)
    table[np.asarray(wanted, dtype="int64")[np.asarray(wanted) >= 0]] = True
    return table[ids]


def _in_keys(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Integer keys that appear in `wanted`, by hashing the (smaller) wanted set."""
    index = pd.Index(pd.unique(np.asarray(wanted, dtype="int64")))
    return index.get_indexer(np.asarray(keys, dtype="int64")) >= 0


def _in_ranges(codes: np.ndarray, ranges: list[list[str]], extra=()) -> np.ndarray:
    """Codes inside any inclusive range of same-length codes, or listed in `extra`."""
    ids, uniques = pd.factorize(np.asarray(codes, dtype=object))
    uniques = np.asarray(uniques, dtype=object)
    hit = np.isin(uniques, list(extra))
    lengths = np.array([len(c) for c in uniques])
    for low, high in ranges:
        hit |= (lengths == len(low)) & (uniques >= low) & (uniques <= high)
    return hit[ids] if len(ids) else np.zeros(0, dtype=bool)


def addon_edits(data: EditInput, ncci: NcciRelease, flags: FlagCollector) -> None:
    """Type 1 add-ons need a listed primary the same day; type 3 warn; type 2 not edited."""
    ok = data.editable
    year = data.dos.astype("datetime64[Y]").astype(int) + 1970
    vocab = data.vocab
    width = len(vocab) + 1
    code_id = data.code_id
    aoc = ncci.aoc
    addon_id = vocab.get_indexer(aoc["addon"].to_numpy(object))
    aoc = aoc[addon_id >= 0].assign(addon_id=addon_id[addon_id >= 0])
    aoc = aoc.assign(primary_id=vocab.get_indexer(aoc["primary"].to_numpy(object)))
    n = len(data.idx)
    kind = np.full(n, 9, dtype="int64")
    found = np.zeros(n, dtype=bool)
    is_addon = ok & _member(code_id, aoc["addon_id"].to_numpy(), len(vocab))
    for y in np.unique(year[is_addon]):
        live = aoc[(aoc["effective_year"] <= y) & (y <= aoc["deletion_year"].fillna(9999))]
        lines = np.flatnonzero(is_addon & (year == y))
        # Edit type per add-on code (the lowest when rows disagree), then per line.
        types = live.groupby("addon_id")["edit_type"].min()
        kind[lines] = types.reindex(code_id[lines]).fillna(9).to_numpy("int64")
        # (group, add-on) keys reachable from the primaries billed in each group that year.
        billed = ok & (year == y) & _member(code_id, live["primary_id"].to_numpy(), len(vocab))
        present = pd.DataFrame({"g": data.group[billed], "primary_id": code_id[billed]})
        reach = present.drop_duplicates().merge(live[["primary_id", "addon_id"]], on="primary_id")
        keys = reach["g"].to_numpy("int64") * width + reach["addon_id"].to_numpy("int64")
        found[lines] = _in_keys(data.group[lines] * width + code_id[lines], keys)
    for rule, edit_type in (("ADDON_WITHOUT_PRIMARY", 1), ("ADDON_PRIMARY_NOT_LISTED", 3)):
        flags.add(
            rule,
            is_addon & (kind == edit_type) & ~found,
            data.idx,
            (
                "Add-on ",
                data.code,
                " has none of its CMS-listed primary codes billed "
                "the same day by the same provider.",
            ),
            data.at_risk,
        )
    _g2211(data, year, flags)


def _g2211(data: EditInput, year: np.ndarray, flags: FlagCollector) -> None:
    """G2211 rides only on office/outpatient (from 2026 also home) E/M visits (s16)."""
    rules = edit_rules()["g2211"]
    g2211 = data.editable & (data.code == "G2211")
    if not g2211.any():
        return
    visit = np.zeros(len(data.idx), dtype=bool)
    for period in rules["primaries"]:
        visit |= (year >= period["from_year"]) & _in_ranges(data.code, period["ranges"])
    # The period list is cumulative: take the newest period in force for each year.
    visit &= data.editable
    has_visit = pd.Series(visit).groupby(data.group).transform("any").to_numpy(bool)
    visit25 = visit & data.has_mod(["25"])
    has_visit25 = pd.Series(visit25).groupby(data.group).transform("any").to_numpy(bool)
    allowed_other = _in_ranges(data.code, [], rules["modifier_25_allowed_with"]) & data.editable
    has_allowed = pd.Series(allowed_other).groupby(data.group).transform("any").to_numpy(bool)
    flags.add(
        "ADDON_WITHOUT_PRIMARY",
        g2211 & ~has_visit,
        data.idx,
        "G2211 has no office/outpatient E/M visit billed the same day by the same provider.",
        data.at_risk,
    )
    bad25 = (
        g2211
        & has_visit
        & has_visit25
        & ((year < rules["modifier_25_never_before"]) | ~has_allowed)
    )
    flags.add(
        "G2211_WITH_MODIFIER_25",
        bad25,
        data.idx,
        "G2211 with a modifier-25 visit and no AWV, vaccine administration or preventive "
        "service that day.",
        data.at_risk,
    )


def modifier_edits(data: EditInput, flags: FlagCollector) -> None:
    """Modifiers 25 and 57 belong on E/M codes only."""
    em = edit_rules()["evaluation_and_management"]
    is_em = _in_ranges(data.code, em["ranges"], em["codes"])
    wrong = data.editable & data.has_mod(["25", "57"]) & ~is_em
    flags.add(
        "MODIFIER_25_57_NOT_EM",
        wrong,
        data.idx,
        ("Modifier 25/57 on ", data.code, ", which is not an E/M service."),
    )


POSTOP_DAYS = {"010": 10, "090": 90}


def global_surgery_edits(
    data: EditInput, glob_days: np.ndarray, patient, provider, flags: FlagCollector
) -> None:
    """E/M and procedures inside a surgery's global period by the same provider (s9).

    - E/M on the day before or day of a 090 procedure needs 57;
    - E/M on the day of a 000/010 procedure needs 25, and 57 there is wrong;
    - E/M in the post-operative days of a 010/090 procedure needs 24;
    - another procedure in those days needs 58, 78 or 79.
    """
    em_rules = edit_rules()["evaluation_and_management"]
    is_em = data.editable & _in_ranges(data.code, em_rules["ranges"], em_rules["codes"])
    surgery = data.editable & _in_ranges(glob_days, [], ["000", "010", "090"]) & ~is_em
    if not surgery.any():
        return
    person = group_ids(patient, provider)  # same patient and same provider, any day
    later = is_em | surgery
    surg = pd.DataFrame({"k": person[surgery], "s": np.flatnonzero(surgery)})
    other = pd.DataFrame({"k": person[later], "o": np.flatnonzero(later)})
    pairs = surg.merge(other, on="k")
    pairs = pairs[pairs["s"] != pairs["o"]]
    s_i, o_i = pairs["s"].to_numpy("int64"), pairs["o"].to_numpy("int64")
    days = (data.dos[o_i] - data.dos[s_i]).astype("int64")
    kind = glob_days[s_i]
    post = np.select([kind == k for k in POSTOP_DAYS], list(POSTOP_DAYS.values()), 0)
    em = is_em[o_i]
    mods = {m: data.has_mod([m]) for m in ("24", "25", "57", "58", "78", "79")}
    n = len(data.idx)

    def mark(rule: str, hit: np.ndarray, words: str) -> None:
        mask = np.zeros(n, dtype=bool)
        partner = np.zeros(n, dtype="int64")
        mask[o_i[hit]] = True
        partner[o_i[hit]] = s_i[hit]
        flags.add(
            rule,
            mask,
            data.idx,
            (
                data.code,
                words,
                data.code[partner],
                " (claim ",
                data.claim[partner],
                " line ",
                data.line_no[partner],
                ", global ",
                glob_days[partner],
                ").",
            ),
            data.at_risk,
        )

    major_day = em & (kind == "090") & np.isin(days, [-1, 0]) & ~mods["57"][o_i]
    mark("GLOBAL_EM_WITHOUT_57", major_day, " is on the day before or of major surgery ")
    minor_day = em & np.isin(kind, ["000", "010"]) & (days == 0)
    mark(
        "GLOBAL_EM_WITHOUT_25",
        minor_day & ~mods["25"][o_i] & ~mods["57"][o_i],
        " is on the day of minor procedure ",
    )
    mark(
        "MODIFIER_57_ON_MINOR",
        minor_day & mods["57"][o_i],
        " carries 57 on the day of minor procedure ",
    )
    in_post = (days >= 1) & (days <= post)
    mark(
        "GLOBAL_EM_WITHOUT_24",
        em & in_post & ~mods["24"][o_i],
        " is in the post-operative period of ",
    )
    new_surgery = mods["58"] | mods["78"] | mods["79"]
    mark(
        "GLOBAL_PROCEDURE_WITHOUT_MODIFIER",
        ~em & in_post & ~new_surgery[o_i],
        " is in the post-operative period of ",
    )


def release_age(ncci: NcciRelease, dos: np.ndarray) -> dict[str, object]:
    """Which NCCI release was applied and how far it lags the newest date of service."""
    valid = dos[~np.isnat(dos)]
    newest = pd.Timestamp(valid.max()).date() if len(valid) else None
    quarter = date(newest.year, 3 * ((newest.month - 1) // 3) + 1, 1) if newest else None
    return {
        "release": ncci.name,
        "effective": ncci.effective.isoformat(),
        "source": str(ncci.source),
        "newest_date_of_service": newest.isoformat() if newest else None,
        "days_older_than_that_quarter": (quarter - ncci.effective).days if quarter else None,
    }
