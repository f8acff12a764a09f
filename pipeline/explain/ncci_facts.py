"""What the NCCI tables the scrub applies say about one code on one date."""

from __future__ import annotations

from datetime import date

import pandas as pd

from pipeline.explain.words import AOC_EDIT_TYPE, MAI, MODIFIER_INDICATOR
from pipeline.extract.ncci import NcciRelease, ptp_pairs_in_force
from pipeline.scrub.rules import edit_rules

CONTRACTOR_DEFINED = "CCCCC"


def _day(value) -> str | None:
    return None if pd.isna(value) else pd.Timestamp(value).date().isoformat()


def ptp_partners(ncci: NcciRelease, code: str, on: date) -> dict[str, list[dict]]:
    """PTP edits in force on `on` with `code` in column 1 ("bundles") or column 2.

    Indicator 9 rows are left out, as the scrub leaves them out (the edit does not apply).
    """
    ptp = ncci.ptp
    mine = ptp[(ptp["column1"] == code).to_numpy(bool) | (ptp["column2"] == code).to_numpy(bool)]
    live = ptp_pairs_in_force(mine, on, release_start=ncci.effective)
    live = live[live["modifier_indicator"] != 9]
    suggested = edit_rules()["ptp"]["suggested"]
    out: dict[str, list[dict]] = {"bundles": [], "bundled_into": []}
    for side, own, other in (
        ("bundles", "column1", "column2"),
        ("bundled_into", "column2", "column1"),
    ):
        rows = live[live[own] == code].sort_values(["modifier_indicator", other])
        for row in rows.to_dict("records"):
            mi = int(row["modifier_indicator"])
            out[side].append(
                {
                    "code": str(row[other]),
                    "modifier_indicator": mi,
                    "modifier_bypass": mi == 1,
                    "meaning": MODIFIER_INDICATOR[mi],
                    "bypass_modifiers": suggested if mi == 1 else None,
                    "rationale": None if pd.isna(row["rationale"]) else str(row["rationale"]),
                    "effective": _day(row["effective_date"]) or ncci.effective.isoformat(),
                    "deleted_after": _day(row["deletion_date"]),
                }
            )
    return out


def mue(ncci: NcciRelease, code: str) -> dict | None:
    """The practitioner MUE of the code, or None when none is published (some are confidential)."""
    rows = ncci.mue[ncci.mue["hcpcs"] == code]
    if rows.empty:
        return None
    row = rows.iloc[0]
    mai = int(row["mai"])
    return {
        "units": int(row["mue_value"]),
        "mai": mai,
        "mai_text": str(row["mai_text"]),
        "meaning": MAI[mai],
        "rationale": str(row["rationale"]),
    }


def addon(ncci: NcciRelease, code: str, on: date) -> dict | None:
    """Add-on edit type and primary codes for the year of `on`, or None for a non-add-on."""
    if code == "G2211":
        return _g2211(on)
    aoc = ncci.aoc
    rows = aoc[(aoc["addon"] == code).to_numpy(bool)]
    year = on.year
    live = rows[
        (rows["effective_year"] <= year).to_numpy(bool)
        & (rows["deletion_year"].fillna(9999) >= year).to_numpy(bool)
    ]
    if live.empty:
        return None
    edit_type = int(live["edit_type"].min())  # the scrub uses the lowest when rows disagree
    primaries = sorted(set(live["primary"]) - {CONTRACTOR_DEFINED})
    return {
        "edit_type": edit_type,
        "meaning": AOC_EDIT_TYPE[edit_type],
        "primaries": primaries,
        "contractor_defined": bool((live["primary"] == CONTRACTOR_DEFINED).any()),
        "source": f"NCCI add-on code table {ncci.name}",
    }


def _g2211(on: date) -> dict:
    """G2211 is not in the AOC table; the scrub's own rule (edit_rules.yaml) lists its visits."""
    rules = edit_rules()["g2211"]
    periods = [p for p in rules["primaries"] if p["from_year"] <= on.year]
    ranges = periods[-1]["ranges"] if periods else []
    return {
        "edit_type": 1,
        "meaning": AOC_EDIT_TYPE[1],
        "primaries": [f"{low}-{high}" for low, high in ranges],
        "contractor_defined": False,
        "source": "pipeline/scrub/edit_rules.yaml (g2211)",
    }


def lag_days(ncci: NcciRelease, on: date) -> int:
    """How many days the NCCI release is older than the quarter of `on` (0 when current)."""
    quarter = date(on.year, 3 * ((on.month - 1) // 3) + 1, 1)
    return max((quarter - ncci.effective).days, 0)
