"""NCCI edits that predict denials: PTP pairs, MUE units, add-on codes, modifiers 25/57.

Every edit works on groups of one patient, one provider (rendering, else billing NPI) and one
date of service, across all claims of the batch. Domain rules s14-s16.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.columns import MODIFIERS
from pipeline.extract.ncci import NcciRelease
from pipeline.scrub.context import Modifiers
from pipeline.scrub.flags import FlagCollector
from pipeline.scrub.lookup import group_ids
from pipeline.scrub.ncci_index import MueIndex, PtpIndex
from pipeline.scrub.pairs import pairs_on
from pipeline.scrub.rules import edit_rules
from pipeline.scrub.text import Count
from pipeline.scrub.text_ids import as_categorical, text_ids
from pipeline.scrub.tips import tip_edits

logger = logging.getLogger(__name__)

# Lines the edits look at: a real code on a real, loaded date of service.
EDITABLE = ("priced", "not_payable", "carrier_priced", "other_fee_schedule")


@dataclass
class EditInput:
    """The columns of a priced batch the edits need, as arrays.

    Codes are integer ids into `vocab` (the batch's distinct codes), so every test on a code
    runs once per distinct code. Text that only reason sentences show is taken for the
    flagged lines alone.
    """

    lines: pd.DataFrame
    idx: np.ndarray
    group: np.ndarray  # id of (patient, provider, date of service), from 0
    code_id: np.ndarray  # per line: position in `vocab`, -1 when missing
    vocab: pd.Index
    dos: np.ndarray
    units: np.ndarray
    mods: Modifiers
    at_risk: pd.Series  # int64 cents; a Series, so FlagCollector.add need not copy it
    editable: np.ndarray
    _scratch: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, lines: pd.DataFrame) -> EditInput:
        allowed = lines["expected_allowed_cents"]
        # A line not priced here still risks its charge when an edit denies it.
        risk = allowed.fillna(lines["charge_cents"].fillna(0)).to_numpy("int64")
        risk = pd.Series(risk, copy=False)
        code_id, codes = text_ids(lines["hcpcs"])
        mods = pd.DataFrame({m: as_categorical(lines[m]) for m in MODIFIERS})
        return cls(
            lines=lines,
            idx=lines["line_index"].to_numpy("int64"),
            group=(
                lines["same_day_group"].to_numpy("int64")
                if "same_day_group" in lines
                else _same_day_groups(lines)
            ),
            code_id=code_id,
            vocab=pd.Index(codes, dtype=object),
            dos=lines["dos"].to_numpy("datetime64[D]"),
            units=lines["units"].to_numpy("int64"),
            mods=Modifiers(mods),
            at_risk=risk,
            editable=lines["line_status"].isin(EDITABLE).to_numpy(bool),
        )

    @cached_property
    def code(self) -> pd.Series:
        """Per line: the code as Arrow-backed text, which reason sentences take rows from
        without converting Python strings (a missing code is null)."""
        ids = pa.array(self.code_id, mask=self.code_id < 0)
        text = pa.array(self.vocab.to_numpy(), type=pa.string()).take(ids)
        return pd.Series(pd.arrays.ArrowStringArray(text), copy=False)

    @cached_property
    def em(self) -> np.ndarray:
        """Per line: an E/M code (where modifiers 25 and 57 belong)."""
        rules = edit_rules()["evaluation_and_management"]
        return self.in_ranges(rules["ranges"], rules["codes"])

    @cached_property
    def person_of_group(self) -> np.ndarray:
        """Per same-day group id: id of its (patient, provider).

        Each same-day group is one patient and provider, so the text columns are factorized
        at one line per group rather than at every line.
        """
        size = int(self.group.max()) + 1 if len(self.group) else 0
        one = np.zeros(size, dtype="int64")
        one[self.group] = np.arange(len(self.group))
        patient, _ = text_ids(self.lines["patient_key"].array[one], mostly_distinct=True)
        provider, _ = text_ids(self.lines["provider"].array[one])
        return group_ids(patient, provider)

    @cached_property
    def person(self) -> np.ndarray:
        """Per line: id of (patient, provider), any day."""
        return self.person_of_group[self.group]

    def per_code(self, hit: np.ndarray) -> np.ndarray:
        """Spread a boolean per vocabulary code to the lines (a missing code: False)."""
        return np.append(np.asarray(hit, dtype=bool), False)[self.code_id]

    def in_ranges(self, ranges: list[list[str]], extra=()) -> np.ndarray:
        """Per line: code inside any inclusive range of same-length codes, or in `extra`."""
        return self.per_code(_in_ranges(self.vocab.to_numpy(), ranges, extra))

    def group_any(self, mask: np.ndarray) -> np.ndarray:
        """Per line: whether any line of its same-day group is in `mask`."""
        hit = np.zeros(int(self.group.max()) + 1 if len(self.group) else 0, dtype=bool)
        hit[self.group[mask]] = True
        return hit[self.group]

    def has_mod(self, mods) -> np.ndarray:
        return self.mods.has(*mods)

    def spread(self, sel: np.ndarray, values, slot: str) -> np.ndarray:
        """A per-line object column with `values` at positions `sel`, for one reason sentence.

        Only the flagged positions of a part are ever read, and the sentence is built as soon
        as the flag is added, so each slot reuses one array (its other rows hold leftovers).
        """
        out = self._scratch.get(slot)
        if out is None:
            out = self._scratch[slot] = np.empty(len(self.idx), dtype=object)
        out[sel] = values
        return out

    def partner_text(self, sel: np.ndarray, partner: np.ndarray) -> tuple[np.ndarray, ...]:
        """Code, claim id and claim line number of each selected line's partner line."""
        code = self.vocab.to_numpy()[self.code_id[partner]]
        claim = self.lines["claim_id"].iloc[partner].astype(str).to_numpy(object)
        line = self.lines["claim_line_number"].iloc[partner].astype(str).to_numpy(object)
        return (
            self.spread(sel, code, "partner code"),
            self.spread(sel, claim, "partner claim"),
            self.spread(sel, line, "partner line"),
        )


def _same_day_groups(lines: pd.DataFrame) -> np.ndarray:
    """Id of (patient, provider, date of service) per line, as pricing makes same_day_group."""
    patient, _ = text_ids(lines["patient_key"], mostly_distinct=True)
    provider, _ = text_ids(lines["provider"])
    return group_ids(patient, provider, lines["dos"])


def apply_edits(lines: pd.DataFrame, ncci: NcciRelease, flags: FlagCollector) -> pd.DataFrame:
    """Run every edit; return MUE columns for the line report (mue_value, mue_mai, mue_status)."""
    data = EditInput.of(lines)
    ptp_edits(data, ncci, flags)
    mue = mue_edits(data, ncci, flags)
    addon_edits(data, ncci, flags)
    modifier_edits(data, flags)
    global_surgery_edits(data, flags)
    tip_edits(data, flags)
    return mue


def _ptp_pairs(data: EditInput, ncci: NcciRelease) -> pd.DataFrame:
    """(column-1 line, column-2 line, PTP row) for every edit pair billed in one group.

    Codes become the release's integer ids; lines pair up within their group first (groups
    are small) and only then meet the table, through one integer key per code pair.
    """
    index = PtpIndex.of(ncci)
    known = index.vocab.get_indexer(data.vocab)  # batch code -> release code id, -1 if none
    line_id = np.append(known, -1)[data.code_id]
    listed = line_id >= 0
    side1 = np.flatnonzero(data.editable & listed & np.append(index.in_column1, False)[line_id])
    side2 = np.flatnonzero(data.editable & listed & np.append(index.in_column2, False)[line_id])
    i1, i2, id1, id2 = pairs_on(
        data.group[side1], data.group[side2], (side1, side2), (line_id[side1], line_id[side2])
    )
    key = id1 * index.width + id2
    found = index.contains(key) & (i1 != i2)
    i1, i2 = i1[found], i2[found]
    lo, count = index.locate(key[found])
    # One output row per matching PTP row (a pair can have several dated rows).
    take = np.repeat(np.arange(len(i1)), count)
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
    n = len(data.idx)
    # 59/X modifiers are not for E/M codes: a separately identifiable visit takes 25.
    advice_text = np.array(
        [
            f"add {rules['suggested']} if the services were distinct",
            "add 25 if the visit was significant and separately identifiable",
        ],
        dtype=object,
    )
    for rule, hit in (("PTP_BUNDLED", mi == 0), ("PTP_MODIFIER_NEEDED", (mi == 1) & ~carrier)):
        chosen = pd.DataFrame({"i2": i2[hit], "i1": i1[hit]}).drop_duplicates("i2")
        sel = chosen["i2"].to_numpy("int64")
        mask = np.zeros(n, dtype=bool)
        mask[sel] = True
        code, claim, line = data.partner_text(sel, chosen["i1"].to_numpy("int64"))
        tail = (
            (" is bundled; no modifier bypasses this edit.",)
            if rule == "PTP_BUNDLED"
            else (
                " is bundled: ",
                data.spread(sel, advice_text[data.em[sel].astype("int8")], "advice"),
                ", else remove this line.",
            )
        )
        flags.add(
            rule,
            mask,
            data.idx,
            (
                "Column-2 code ",
                data.code,
                " billed with column-1 code ",
                code,
                " (claim ",
                claim,
                " line ",
                line,
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


MUE_STATUS = ["", "no published MUE", "exceeded", "within MUE"]


def mue_edits(data: EditInput, ncci: NcciRelease, flags: FlagCollector) -> pd.DataFrame:
    """MAI 1 per line; MAI 2 and 3 summed over the day's lines of the code."""
    index = MueIndex.of(ncci)
    pos = np.append(index.codes.get_indexer(data.vocab), -1)[data.code_id]
    has = (pos >= 0) & data.editable
    value = np.where(has, index.value[pos], 0)
    mai = np.where(has, index.mai[pos], 0)
    # Units per (group, code), summed over the editable lines with a per-day MUE: every other
    # editable line of such a code that day has the same MUE, so it is among them.
    per_day = np.flatnonzero(has & ((mai == 2) | (mai == 3)))
    day_units = np.zeros(len(data.idx), dtype="int64")
    if len(per_day):
        key = data.group[per_day] * (len(data.vocab) + 1) + data.code_id[per_day]
        day_key, _ = pd.factorize(key)
        summed = np.bincount(day_key, weights=data.units[per_day])
        day_units[per_day] = summed.astype("int64")[day_key]
    line_over = has & (mai == 1) & (data.units > value)
    day_over = has & ((mai == 2) | (mai == 3)) & (day_units > value)
    flags.add(
        "MUE_LINE_EXCEEDED",
        line_over,
        data.idx,
        (
            Count(data.units, "unit"),
            " of ",
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
                Count(day_units, "unit"),
                " of ",
                data.code,
                " that day (all claims of this batch and the history); the MUE is ",
                value,
                f" per day (MAI {level}, {words}).",
            ),
            data.at_risk,
        )
    status = np.where(has, np.where(line_over | day_over, 2, 3), 1)
    return pd.DataFrame(
        {
            "mue_value": pd.arrays.IntegerArray(value, ~has),
            "mue_mai": pd.arrays.IntegerArray(mai, ~has),
            "mue_status": _text_column(MUE_STATUS, np.where(data.editable, status, 0)),
        }
    )


def _text_column(choices: list[str], picks: np.ndarray) -> pd.Series:
    """choices[picks] as the text column pandas would make of those strings, built in Arrow
    when that is pandas' string type (no Python string per row)."""
    dtype = pd.Series(choices).dtype
    storage = getattr(dtype, "storage", None)
    if storage != "pyarrow":
        return pd.Series(np.array(choices, dtype=object)[picks], dtype=dtype, copy=False)
    text = pa.array(choices, type=pa.large_string()).take(pa.array(picks))
    return pd.Series(pd.array(text, dtype=dtype), copy=False)


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
    """Distinct codes inside any inclusive range of same-length codes, or listed in `extra`."""
    codes = np.asarray(codes, dtype=object)
    hit = np.isin(codes, list(extra))
    lengths = np.array([len(c) for c in codes], dtype="int64")
    for low, high in ranges:
        hit |= (lengths == len(low)) & (codes >= low) & (codes <= high)
    return hit


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
    with_addon = np.zeros(int(data.group.max()) + 1 if n else 0, dtype=bool)
    for y in np.unique(year[is_addon]):
        live = aoc[(aoc["effective_year"] <= y) & (y <= aoc["deletion_year"].fillna(9999))]
        lines = np.flatnonzero(is_addon & (year == y))
        # Edit type per add-on code (the lowest when rows disagree), then per line.
        types = live.groupby("addon_id")["edit_type"].min()
        per_code = np.full(width, 9, dtype="int64")
        per_code[types.index.to_numpy("int64")] = types.to_numpy("int64")
        kind[lines] = per_code[code_id[lines]]
        # (group, add-on) keys reachable from the primaries billed in each group that year;
        # only groups with an add-on line that year can reach one.
        with_addon[:] = False
        with_addon[data.group[lines]] = True
        billed = ok & (year == y) & with_addon[data.group]
        billed &= _member(code_id, live["primary_id"].to_numpy(), len(vocab))
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
    g2211 = data.editable & data.in_ranges([], ["G2211"])
    if not g2211.any():
        return
    visit = np.zeros(len(data.idx), dtype=bool)
    for period in rules["primaries"]:
        visit |= (year >= period["from_year"]) & data.in_ranges(period["ranges"])
    # The period list is cumulative: take the newest period in force for each year.
    visit &= data.editable
    has_visit = data.group_any(visit)
    has_visit25 = data.group_any(visit & data.has_mod(["25"]))
    allowed_other = data.in_ranges([], rules["modifier_25_allowed_with"]) & data.editable
    has_allowed = data.group_any(allowed_other)
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
    wrong = data.editable & data.has_mod(["25", "57"]) & ~data.em
    flags.add(
        "MODIFIER_25_57_NOT_EM",
        wrong,
        data.idx,
        ("Modifier 25/57 on ", data.code, ", which is not an E/M service."),
    )


# Global periods that make a line a surgery, numbered 1..3 (0: none), and their post-op days.
GLOBAL_KINDS = np.array(["", "000", "010", "090"], dtype=object)
POSTOP_DAYS = np.array([0, 0, 10, 90], dtype="int64")
MAJOR, LAST_POSTOP_DAY = 3, int(POSTOP_DAYS.max())


def global_surgery_edits(data: EditInput, flags: FlagCollector) -> None:
    """E/M and procedures inside a surgery's global period by the same provider (s9).

    - E/M on the day before or day of a 090 procedure needs 57;
    - E/M on the day of a 000/010 procedure needs 25, and 57 there is wrong;
    - E/M in the post-operative days of a 010/090 procedure needs 24;
    - another procedure in those days needs 58, 78 or 79.
    """
    glob_id, glob_values = text_ids(data.lines["glob_days"])
    per_value = np.zeros(len(glob_values) + 1, dtype="int64")  # a missing value: none
    for number, value in enumerate(GLOBAL_KINDS[1:], start=1):
        per_value[:-1][np.asarray(glob_values == value, dtype=bool)] = number
    line_kind = per_value[glob_id]
    is_em = data.editable & data.em
    surgery = data.editable & (line_kind > 0) & ~is_em
    if not surgery.any():
        return
    em_lines, surgeries = np.flatnonzero(is_em), np.flatnonzero(surgery)
    person = data.person
    s_em, o_em = pairs_on(person[surgeries], person[em_lines], (surgeries, em_lines))
    # A procedure is only flagged from the day after a surgery: the patient and provider
    # then have two or more same-day groups.
    several = np.bincount(data.person_of_group)[person[surgeries]] > 1
    again = surgeries[several]
    s_again, o_again = pairs_on(person[again], person[again], (again, again))
    # Each line's pairs stay in one part, by surgery line: the last surgery still wins.
    s_i, o_i = np.concatenate([s_em, s_again]), np.concatenate([o_em, o_again])
    days = (data.dos[o_i] - data.dos[s_i]).astype("int64")
    # Only the day before a surgery through its last post-operative day can be flagged.
    near = (s_i != o_i) & (days >= -1) & (days <= LAST_POSTOP_DAY)
    s_i, o_i, days = s_i[near], o_i[near], days[near]
    kind = line_kind[s_i]
    post = POSTOP_DAYS[kind]
    em = is_em[o_i]
    mods = {m: data.has_mod([m])[o_i] for m in ("24", "25", "57", "58", "78", "79")}
    n = len(data.idx)

    def mark(rule: str, hit: np.ndarray, words: str) -> None:
        mask = np.zeros(n, dtype=bool)
        partner = np.zeros(n, dtype="int64")
        mask[o_i[hit]] = True
        partner[o_i[hit]] = s_i[hit]  # several surgeries: the last pair's wins
        sel = np.flatnonzero(mask)
        code, claim, line = data.partner_text(sel, partner[sel])
        flags.add(
            rule,
            mask,
            data.idx,
            (
                data.code,
                words,
                code,
                " (claim ",
                claim,
                " line ",
                line,
                ", global ",
                data.spread(sel, GLOBAL_KINDS[line_kind[partner[sel]]], "global"),
                ").",
            ),
            data.at_risk,
        )

    major_day = em & (kind == MAJOR) & ((days == -1) | (days == 0)) & ~mods["57"]
    mark("GLOBAL_EM_WITHOUT_57", major_day, " is on the day before or of major surgery ")
    minor_day = em & (kind < MAJOR) & (days == 0)
    mark(
        "GLOBAL_EM_WITHOUT_25",
        minor_day & ~mods["25"] & ~mods["57"],
        " is on the day of minor procedure ",
    )
    mark(
        "MODIFIER_57_ON_MINOR",
        minor_day & mods["57"],
        " carries 57 on the day of minor procedure ",
    )
    in_post = (days >= 1) & (days <= post)
    mark(
        "GLOBAL_EM_WITHOUT_24",
        em & in_post & ~mods["24"],
        " is in the post-operative period of ",
    )
    new_surgery = mods["58"] | mods["78"] | mods["79"]
    mark(
        "GLOBAL_PROCEDURE_WITHOUT_MODIFIER",
        ~em & in_post & ~new_surgery,
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
