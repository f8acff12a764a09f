"""Billing tips from the catalog in coding_tips.yaml, as scrub flags.

The same catalog feeds `claims-scrub explain` (pipeline/explain/tips.py), which prices each
tip's correct and incorrect coding. Here every tip becomes a same-day check over the batch (and
the history the edits see): groups are one patient, one provider and one date of service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np
import yaml

from pipeline.scrub.flags import FlagCollector

if TYPE_CHECKING:
    from pipeline.scrub.edits import EditInput

# The flag each kind of tip raises (rule_catalog.yaml).
KIND_RULES = {
    "combination": "COMBINATION_CODE_EXISTS",
    "documentation": "DOCUMENTATION_CHECK",
    "supply": "SUPPLY_NOT_BILLED",
}
_CODE = re.compile(r"[A-Z0-9]{5}")


@dataclass(frozen=True)
class Source:
    title: str
    url: str
    says: str
    read: str = ""


@dataclass(frozen=True)
class Tip:
    """One catalog entry; which fields are used depends on `kind` (see coding_tips.yaml)."""

    id: str
    kind: str
    title: str
    advice: str
    sources: tuple[Source, ...]
    billed: tuple[str, ...] = ()
    instead: str = ""
    code: str = ""
    requires: str = ""
    codes: tuple[str, ...] = ()
    needs: tuple[tuple[str, ...], ...] = ()

    @property
    def rule(self) -> str:
        return KIND_RULES[self.kind]

    @property
    def study_codes(self) -> tuple[str, ...]:
        """The codes whose lines the tip is about (what `explain` looks the tip up by)."""
        if self.kind == "combination":
            return (*self.billed, self.instead)
        if self.kind == "documentation":
            return (self.code, self.instead)
        return self.codes

    @property
    def all_codes(self) -> tuple[str, ...]:
        """Every code the tip names, supplies included."""
        return tuple(dict.fromkeys((*self.study_codes, *(c for g in self.needs for c in g))))


def _tip(tip_id: str, raw: dict) -> Tip:
    where = f"coding_tips.yaml: {tip_id}"
    kind = raw.get("kind")
    if kind not in KIND_RULES:
        raise ValueError(f"{where}: kind {kind!r}; use one of {sorted(KIND_RULES)}")
    needed = {
        "combination": ("billed", "instead"),
        "documentation": ("code", "instead", "requires"),
        "supply": ("codes", "needs"),
    }[kind]
    missing = [f for f in ("title", "advice", "sources", *needed) if not raw.get(f)]
    if missing:
        raise ValueError(f"{where}: missing {missing}")
    sources = tuple(Source(**s) for s in raw["sources"])
    if any(not (s.title and s.url.startswith("https://") and s.says) for s in sources):
        raise ValueError(f"{where}: every source needs a title, an https url and what it says")
    tip = Tip(
        id=tip_id,
        kind=kind,
        title=raw["title"],
        advice=" ".join(raw["advice"].split()),
        sources=sources,
        billed=tuple(raw.get("billed", ())),
        instead=raw.get("instead", ""),
        code=raw.get("code", ""),
        requires=" ".join(raw.get("requires", "").split()),
        codes=tuple(raw.get("codes", ())),
        needs=tuple(tuple(group) for group in raw.get("needs", ())),
    )
    bad = [c for c in tip.all_codes if not _CODE.fullmatch(str(c))]
    if bad or (kind == "combination" and len(tip.billed) < 2):
        raise ValueError(f"{where}: codes must be 5 characters (bad: {bad}); combinations need 2+")
    return tip


@lru_cache(maxsize=1)
def coding_tips() -> tuple[Tip, ...]:
    """The billing-tip catalog, in file order."""
    raw = yaml.safe_load((resources.files("pipeline.scrub") / "coding_tips.yaml").read_text())
    return tuple(_tip(tip_id, fields) for tip_id, fields in raw.items())


def tips_for(code: str) -> list[Tip]:
    """The tips that name `code` as a study, combination or supply code."""
    return [t for t in coding_tips() if code in t.all_codes]


def tip_edits(data: EditInput, flags: FlagCollector) -> None:
    """Raise every catalog tip on the lines it describes."""
    for tip in coding_tips():
        if tip.kind == "combination":
            _combination(data, tip, flags)
        elif tip.kind == "documentation":
            _documentation(data, tip, flags)
        else:
            _supply(data, tip, flags)


def _is(data: EditInput, codes: tuple[str, ...]) -> np.ndarray:
    """Per line: whether its code is one of `codes` (through the batch's code vocabulary)."""
    ids = data.vocab.get_indexer(list(codes))
    table = np.zeros(len(data.vocab) + 1, dtype=bool)
    table[ids[ids >= 0]] = True
    return table[data.code_id]


def _day_has(data: EditInput, codes: tuple[str, ...]) -> np.ndarray:
    """Per line: whether its group (patient, provider, day) has an editable line of `codes`."""
    hit = data.editable & _is(data, codes)
    if not hit.any():
        return hit
    return data.group_any(hit)


def _combination(data: EditInput, tip: Tip, flags: FlagCollector) -> None:
    if not all(_is(data, (code,)).any() for code in tip.billed):
        return
    every = np.ones(len(data.idx), dtype=bool)
    for code in tip.billed:
        every &= _day_has(data, (code,))
    mask = every & data.editable & _is(data, tip.billed[1:])
    flags.add(
        "COMBINATION_CODE_EXISTS",
        mask,
        data.idx,
        (
            data.code,
            f" is billed the same day as {tip.billed[0]}: bill {tip.instead} once in place of "
            f"{' + '.join(tip.billed)}, not a bypass modifier [tip {tip.id}].",
        ),
        data.at_risk,
    )


def _documentation(data: EditInput, tip: Tip, flags: FlagCollector) -> None:
    flags.add(
        "DOCUMENTATION_CHECK",
        data.editable & _is(data, (tip.code,)),
        data.idx,
        f"{tip.code} needs {tip.requires} in the report; without it bill {tip.instead} "
        f"[tip {tip.id}].",
    )


def _supply(data: EditInput, tip: Tip, flags: FlagCollector) -> None:
    study = data.editable & _is(data, tip.codes)
    if not study.any():
        return
    study &= ~data.has_mod(["26"])
    if not study.any():
        return
    # Per line, one bit per group of supplies absent that day; sentences per distinct set.
    absent = np.zeros(len(data.idx), dtype="int64")
    for bit, group in enumerate(tip.needs):
        absent |= (study & ~_day_has(data, group)).astype("int64") << bit
    sel = np.flatnonzero(absent)
    sets, which = np.unique(absent[sel], return_inverse=True)
    words = [
        " and ".join(" or ".join(g) for bit, g in enumerate(tip.needs) if s >> bit & 1)
        for s in sets.tolist()
    ]
    missing = data.spread(sel, np.array(words, dtype=object)[which], "missing supplies")
    flags.add(
        "SUPPLY_NOT_BILLED",
        absent != 0,
        data.idx,
        (
            data.code,
            " (global or TC) has no line of ",
            missing,
            f" the same day; bill the supply the practice bought on its own line [tip {tip.id}].",
        ),
    )
