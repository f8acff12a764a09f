"""The checks of each CMS reference file, with their bounds from the data files.

reference_rules.yaml holds the row-count band, GPCI bands and PFS status codes;
conversion_factors.yaml the conversion factors as CMS published them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from pipeline.extract.rvu import RVU_COLUMNS
from pipeline.validate.runner import Check

if TYPE_CHECKING:
    from pipeline.extract.releases import Release

CODE = r"^[A-Z0-9]{5}$"
HCPCS = r"^(?:[0-9]{4}[0-9FMTU]|[A-V][0-9]{4})$"
GPCI_COLUMNS = ("locality_key", "state", "gpci_work", "gpci_pe", "gpci_mp")
RVU_PARTS = ("work_rvu", "nf_pe_rvu", "f_pe_rvu", "mp_rvu", "nf_total", "f_total")


@lru_cache(maxsize=1)
def reference_rules() -> dict[str, Any]:
    text = (resources.files("pipeline") / "validate" / "reference_rules.yaml").read_text()
    return yaml.safe_load(text)


@lru_cache(maxsize=1)
def published_conversion_factors() -> tuple[tuple[date, int, str], ...]:
    """(in force from, CF in 1/10000 dollars, note), from conversion_factors.yaml."""
    text = (resources.files("pipeline") / "validate" / "conversion_factors.yaml").read_text()
    rows = yaml.safe_load(text)["conversion_factors"]
    return tuple((r["from"], int(Decimal(str(r["cf"])) * 10000), r.get("note", "")) for r in rows)


def published_cf(on: date) -> list[int]:
    """The conversion factors CMS published that were in force on a date (same year)."""
    rows = [r for r in published_conversion_factors() if r[0] <= on and r[0].year == on.year]
    if not rows:
        return []
    latest = max(r[0] for r in rows)
    return sorted({cf for start, cf, _ in rows if start == latest})


def _band(rows: int | None) -> dict[str, int]:
    """Row-count bounds around a comparison release's count (at least one row)."""
    if rows is None:
        return {"min_value": 1}
    share = float(reference_rules()["row_count_band"])
    return {"min_value": max(1, int(rows * (1 - share))), "max_value": int(rows * (1 + share))}


def rvu_checks(release: Release, compare: Release | None) -> list[Check]:
    cfs = published_cf(release.effective)
    shown = ", ".join(f"{cf / 10000:.4f}" for cf in cfs) or "none on file"
    band = _band(len(compare.rvu) if compare else None)
    within = f"{reference_rules()['row_count_band']:.0%}"
    checks = [
        Check(
            "rvu_columns",
            "the file has every RVU column pricing reads",
            "ExpectTableColumnsToMatchSet",
            {"column_set": list(RVU_COLUMNS), "exact_match": False},
        ),
        Check(
            "rvu_row_count",
            "row count within "
            + (
                f"{within} of {compare.name} ({len(compare.rvu):,})"
                if compare
                else "at least one row"
            ),
            "ExpectTableRowCountToBeBetween",
            band,
        ),
        Check(
            "rvu_unique_key",
            "one row per HCPCS + modifier",
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": ["hcpcs", "mod"]},
        ),
        Check(
            "rvu_hcpcs_shape",
            "HCPCS codes have the shape of a CPT/HCPCS code",
            "ExpectColumnValuesToMatchRegex",
            {"column": "hcpcs", "regex": HCPCS},
        ),
        Check(
            "rvu_status_code",
            "status codes are PFS status codes",
            "ExpectColumnValuesToBeInSet",
            {"column": "status", "value_set": list(reference_rules()["rvu_status_codes"])},
        ),
    ]
    for column in RVU_PARTS:
        checks.append(
            Check(
                f"{column}_not_negative",
                f"{column} is not negative",
                "ExpectColumnValuesToBeBetween",
                {"column": column, "min_value": 0},
            )
        )
    for setting in ("nf", "f"):
        checks.append(
            Check(
                f"{setting}_total_is_sum",
                f"{'non-facility' if setting == 'nf' else 'facility'} total = work + PE + MP RVUs",
                "ExpectColumnPairValuesToBeEqual",
                {"column_A": f"{setting}_total", "column_B": f"{setting}_parts"},
            )
        )
    checks.append(
        Check(
            "conversion_factor",
            f"CONV FACTOR is the published CF in force on {release.effective} ({shown}) or blank",
            "ExpectColumnValuesToBeInSet",
            {"column": "cf", "value_set": [0.0, *(cf / 10000 for cf in cfs)]},
        )
    )
    return checks


def rvu_frame(release: Release) -> pd.DataFrame:
    """The RVU table with RVUs in units (not hundredths) and the sums the totals must equal."""
    rvu = release.rvu
    parts = {c: rvu[c] / 100 for c in RVU_PARTS}
    return rvu.assign(
        **parts,
        nf_parts=(rvu["work_rvu"] + rvu["nf_pe_rvu"] + rvu["mp_rvu"]) / 100,
        f_parts=(rvu["work_rvu"] + rvu["f_pe_rvu"] + rvu["mp_rvu"]) / 100,
        cf=rvu["cf"] / 10000,
    )


def gpci_frame(gpci: pd.DataFrame) -> pd.DataFrame:
    return gpci.assign(**{c: gpci[c] / 1000 for c in ("gpci_work", "gpci_pe", "gpci_mp")})


def gpci_checks(gpci: pd.DataFrame, compare: pd.DataFrame | None, compare_name: str) -> list[Check]:
    bands = reference_rules()["gpci_band"]
    checks = [
        Check(
            "gpci_columns",
            "the file has the locality, state and three GPCI columns",
            "ExpectTableColumnsToMatchSet",
            {"column_set": list(GPCI_COLUMNS), "exact_match": False},
        ),
        Check(
            "gpci_row_count",
            "locality count within "
            + (
                f"{reference_rules()['row_count_band']:.0%} of {compare_name} ({len(compare)})"
                if compare is not None
                else "at least one row"
            ),
            "ExpectTableRowCountToBeBetween",
            _band(len(compare) if compare is not None else None),
        ),
        Check(
            "gpci_unique_locality",
            "one row per carrier + locality",
            "ExpectColumnValuesToBeUnique",
            {"column": "locality_key"},
        ),
        Check(
            "gpci_locality_shape",
            "locality keys are CCCCC-LL",
            "ExpectColumnValuesToMatchRegex",
            {"column": "locality_key", "regex": r"^[0-9]{5}-[0-9]{2}$"},
        ),
    ]
    for part, column in (("work", "gpci_work"), ("pe", "gpci_pe"), ("mp", "gpci_mp")):
        low, high = bands[part]
        checks.append(
            Check(
                f"{column}_plausible",
                f"{part.upper()} GPCI between {low} and {high}",
                "ExpectColumnValuesToBeBetween",
                {"column": column, "min_value": float(low), "max_value": float(high)},
            )
        )
    return checks


def zip5_checks() -> list[Check]:
    return [
        Check(
            "zip5_unique",
            "one row per ZIP code",
            "ExpectColumnValuesToBeUnique",
            {"column": "zip5"},
        ),
        Check(
            "zip5_shape",
            "ZIP codes are five digits",
            "ExpectColumnValuesToMatchRegex",
            {"column": "zip5", "regex": r"^[0-9]{5}$"},
        ),
        Check(
            "zip5_locality_shape",
            "localities are CCCCC-LL",
            "ExpectColumnValuesToMatchRegex",
            {"column": "locality_key", "regex": r"^[0-9]{5}-[0-9]{2}$"},
        ),
    ]


def ptp_checks() -> list[Check]:
    return [
        Check(
            "ptp_column1_shape",
            "column 1 codes are five characters",
            "ExpectColumnValuesToMatchRegex",
            {"column": "column1", "regex": CODE},
        ),
        Check(
            "ptp_column2_shape",
            "column 2 codes are five characters",
            "ExpectColumnValuesToMatchRegex",
            {"column": "column2", "regex": CODE},
        ),
        Check(
            "ptp_modifier_indicator",
            "modifier indicator is 0, 1 or 9",
            "ExpectColumnValuesToBeInSet",
            {"column": "modifier_indicator", "value_set": [0, 1, 9]},
        ),
        Check(
            "ptp_effective_not_after_deletion",
            "effective date is not after the deletion date",
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {
                "column_A": "deletion_date",
                "column_B": "effective_date",
                "or_equal": True,
                "ignore_row_if": "either_value_is_missing",
            },
        ),
    ]


def mue_checks() -> list[Check]:
    return [
        Check(
            "mue_unique_code",
            "one row per HCPCS code",
            "ExpectColumnValuesToBeUnique",
            {"column": "hcpcs"},
        ),
        Check(
            "mue_code_shape",
            "HCPCS codes are five characters",
            "ExpectColumnValuesToMatchRegex",
            {"column": "hcpcs", "regex": CODE},
        ),
        Check(
            "mue_adjudication_indicator",
            "MUE adjudication indicator is 1, 2 or 3",
            "ExpectColumnValuesToBeInSet",
            {"column": "mai", "value_set": [1, 2, 3]},
        ),
        Check(
            "mue_value_not_negative",
            "MUE value is not negative",
            "ExpectColumnValuesToBeBetween",
            {"column": "mue_value", "min_value": 0},
        ),
    ]


def aoc_checks() -> list[Check]:
    return [
        Check(
            "aoc_addon_shape",
            "add-on codes are five characters",
            "ExpectColumnValuesToMatchRegex",
            {"column": "addon", "regex": CODE},
        ),
        Check(
            "aoc_edit_type",
            "AOC edit type is 1, 2 or 3",
            "ExpectColumnValuesToBeInSet",
            {"column": "edit_type", "value_set": [1, 2, 3]},
        ),
        Check(
            "aoc_effective_not_after_deletion",
            "edit effective year is not after its deletion year",
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {
                "column_A": "deletion_year",
                "column_B": "effective_year",
                "or_equal": True,
                "ignore_row_if": "either_value_is_missing",
            },
        ),
    ]
