"""Suites for the CMS reference files: every file is checked before it is used.

RVU (PPRRVU) and GPCI files of each fee-schedule release, the ZIP5 locality file, and the
NCCI PTP, MUE and add-on tables each get a Great Expectations suite. A release given with
--release that fails is refused (releases.load_reference_data keeps the others in force);
a bundled file that fails stops the run, since nothing else could replace it.

Results are cached by the content of the files and the suite's parameters (in memory, and
under CLAIMS_PIPELINE_CACHE_DIR, default ~/.cache/claims-scrub), so the bundled files are
validated once per machine, not on every run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

from pipeline.errors import ReferenceFileError, ReleaseRefused
from pipeline.extract.rvu import RVU_COLUMNS
from pipeline.validate.runner import Check, SuiteResult, run_suite

if TYPE_CHECKING:
    from pipeline.extract.ncci import NcciRelease
    from pipeline.extract.releases import ReferenceData, Release

logger = logging.getLogger(__name__)

SUITE_VERSION = "2"  # bump when a suite changes, so cached results are not reused
CODE = r"^[A-Z0-9]{5}$"
HCPCS = r"^(?:\d{4}[0-9FMTU]|[A-V]\d{4})$"
GPCI_COLUMNS = ("locality_key", "state", "gpci_work", "gpci_pe", "gpci_mp")
RVU_PARTS = ("work_rvu", "nf_pe_rvu", "f_pe_rvu", "mp_rvu", "nf_total", "f_total")
_memory: dict[str, list[SuiteResult]] = {}


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


# --- suites -----------------------------------------------------------------------------------


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


def _rvu_frame(release: Release) -> pd.DataFrame:
    """The RVU table with RVUs in units (not hundredths) and the sums the totals must equal."""
    rvu = release.rvu
    parts = {c: rvu[c] / 100 for c in RVU_PARTS}
    return rvu.assign(
        **parts,
        nf_parts=(rvu["work_rvu"] + rvu["nf_pe_rvu"] + rvu["mp_rvu"]) / 100,
        f_parts=(rvu["work_rvu"] + rvu["f_pe_rvu"] + rvu["mp_rvu"]) / 100,
        cf=rvu["cf"] / 10000,
    )


def _gpci_frame(gpci: pd.DataFrame) -> pd.DataFrame:
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
            {"column": "locality_key", "regex": r"^\d{5}-\d{2}$"},
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
            {"column": "zip5", "regex": r"^\d{5}$"},
        ),
        Check(
            "zip5_locality_shape",
            "localities are CCCCC-LL",
            "ExpectColumnValuesToMatchRegex",
            {"column": "locality_key", "regex": r"^\d{5}-\d{2}$"},
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


# --- caching ----------------------------------------------------------------------------------


CACHE_ENV = "CLAIMS_PIPELINE_CACHE_DIR"


def cache_dir() -> Path | None:
    value = os.environ.get(CACHE_ENV)
    if value == "":
        return None  # caching on disk switched off
    return Path(value) if value else Path.home() / ".cache" / "claims-scrub"


def fingerprint(source: str, frames: list[pd.DataFrame]) -> str:
    """Content hash of the files under `source` (a file or folder), else of the frames."""
    digest = hashlib.sha256()
    path = Path(source) if source else None
    if path is not None and path.exists():
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    else:
        for frame in frames:
            digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
            digest.update(",".join(map(str, frame.columns)).encode())
    return digest.hexdigest()


def _cached(key_parts: dict[str, Any], run) -> list[SuiteResult]:
    """The suite results stored under the hash of `key_parts`, or run and store them."""
    key = hashlib.sha256(
        json.dumps({"v": SUITE_VERSION, **key_parts}, sort_keys=True, default=str).encode()
    ).hexdigest()[:32]
    if key in _memory:
        return _memory[key]
    folder = cache_dir()
    path = folder / "validation" / f"{key}.json" if folder else None
    if path is not None and path.exists():
        try:
            results = [SuiteResult.from_json(s) for s in json.loads(path.read_text())]
            for r in results:
                r.cached = True
            _memory[key] = results
            return results
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("ignoring unreadable validation cache %s (%s)", path, exc)
    results = run()
    _memory[key] = results
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps([r.to_json() for r in results]))
            tmp.replace(path)
        except OSError as exc:
            logger.warning("cannot write the validation cache %s (%s)", path, exc)
    return results


# --- entry points -----------------------------------------------------------------------------


def nearest(release: Release, others: list[Release]) -> Release | None:
    """The release to compare row counts with: the latest earlier one, else the next one."""
    others = [o for o in others if o.name != release.name]
    earlier = [o for o in others if o.effective < release.effective]
    if earlier:
        return max(earlier, key=lambda o: o.effective)
    later = [o for o in others if o.effective > release.effective]
    return min(later, key=lambda o: o.effective) if later else None


def check_release(release: Release, others: list[Release]) -> list[SuiteResult]:
    """Validate a release's RVU file (and its own GPCI file, if it has one)."""
    compare = nearest(release, others)
    rvu = rvu_checks(release, compare)
    has_gpci = release.gpci is not None and release.gpci_source in (None, release.name)
    compare_gpci = compare.gpci if compare is not None else None
    gpci = (
        gpci_checks(release.gpci, compare_gpci, compare.name if compare else "") if has_gpci else []
    )
    key = {
        "release": release.name,
        "data": fingerprint(release.source, [release.rvu]),
        "checks": [(c.name, c.kwargs) for c in rvu + gpci],
    }

    def run() -> list[SuiteResult]:
        codes = release.rvu["hcpcs"] + np.where(
            release.rvu["mod"] != "", "-" + release.rvu["mod"], ""
        )
        results = [
            run_suite(
                "cms_rvu",
                f"PPRRVU {release.name}",
                _rvu_frame(release),
                rvu,
                source=release.source,
                labels=codes,
            )
        ]
        if gpci:
            results.append(
                run_suite(
                    "cms_gpci",
                    f"GPCI {release.name}",
                    _gpci_frame(release.gpci),
                    gpci,
                    source=release.source,
                    labels=release.gpci["locality_key"],
                )
            )
        return results

    return _cached(key, run)


def check_zip5(zip5: pd.DataFrame, source: str) -> list[SuiteResult]:
    checks = zip5_checks()
    key = {"zip5": fingerprint("", [zip5]), "checks": [(c.name, c.kwargs) for c in checks]}
    return _cached(
        key,
        lambda: [run_suite("cms_zip5", "ZIP5", zip5, checks, source=source, labels=zip5["zip5"])],
    )


def check_ncci(ncci: NcciRelease) -> list[SuiteResult]:
    tables = (
        ("cms_ncci_ptp", "PTP", ncci.ptp, ptp_checks()),
        ("cms_ncci_mue", "MUE", ncci.mue, mue_checks()),
        ("cms_ncci_aoc", "AOC", ncci.aoc, aoc_checks()),
    )
    key = {
        "ncci": ncci.name,
        "data": fingerprint(ncci.source, [ncci.ptp, ncci.mue, ncci.aoc]),
        "checks": [[(c.name, c.kwargs) for c in checks] for *_, checks in tables],
    }

    def run() -> list[SuiteResult]:
        return [
            run_suite(
                suite,
                f"NCCI {ncci.name} {what}",
                frame,
                checks,
                source=ncci.source,
                labels=frame.iloc[:, 0],
            )
            for suite, what, frame, checks in tables
        ]

    return _cached(key, run)


def refusal(results: list[SuiteResult]) -> str:
    """What failed, in one sentence ("" when everything passed)."""
    parts = []
    for suite in results:
        for check in suite.failed():
            detail = (
                f"{check.rows_failed:,} rows"
                if check.rows_failed
                else f"observed {check.observed}"
                if check.observed is not None
                else check.error or "failed"
            )
            sample = ", ".join(_shown(v["value"]) for v in check.sample_values[:3])
            where = ", ".join(check.sample_labels[:3])
            parts.append(
                f"{suite.asset}: {check.says} ({detail}"
                f"{'; e.g. ' + sample if sample else ''}{' at ' + where if where else ''})"
            )
    return "; ".join(parts)


def _shown(value: Any) -> str:
    """A failing value as text; a pair (column A, column B) as "A vs B"."""
    if isinstance(value, list) and len(value) == 2:
        return f"{value[0]} vs {value[1]}"
    return str(value)


@dataclass(frozen=True)
class ReferenceValidation:
    suites: list[SuiteResult]

    def to_json(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.suites]

    def summary(self) -> list[dict[str, Any]]:
        return [
            {
                "file": s.asset,
                "source": s.source,
                "passed": s.success,
                "checks": len(s.checks),
                "failed": [c.name for c in s.failed()],
                "checked_at": s.checked_at,
                "cached": s.cached,
            }
            for s in self.suites
        ]


def validate_reference(ref: ReferenceData, ncci: NcciRelease) -> ReferenceValidation:
    """Validate every reference file a run uses (cached); raise if one fails.

    Releases added with --release were validated when loaded (and refused if they failed),
    so a failure here is in a bundled file, which nothing can replace.
    """
    suites: list[SuiteResult] = []
    releases = list(ref.releases)
    for release in releases:
        suites += check_release(release, releases)
    suites += check_zip5(ref.zip5, ref.zip_source)
    suites += check_ncci(ncci)
    failed = refusal(suites)
    if failed:
        raise ReferenceFileError(
            f"reference data failed validation: {failed}; reinstall the package or replace "
            "the file with the one CMS publishes"
        )
    return ReferenceValidation(suites)


def check_new_release(release: Release, loaded: list[Release]) -> list[SuiteResult]:
    """Validate a release given by path; raise ReleaseRefused when it fails."""
    results = check_release(release, loaded)
    failed = refusal(results)
    if failed:
        raise ReleaseRefused(f"release {release.name} failed validation: {failed}")
    return results
