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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline.errors import ReferenceFileError, ReleaseRefused
from pipeline.validate.reference_checks import (
    aoc_checks,
    gpci_checks,
    gpci_frame,
    mue_checks,
    ptp_checks,
    rvu_checks,
    rvu_frame,
    zip5_checks,
)
from pipeline.validate.runner import SuiteResult, run_suite

if TYPE_CHECKING:
    from pipeline.extract.ncci import NcciRelease
    from pipeline.extract.releases import ReferenceData, Release

logger = logging.getLogger(__name__)

SUITE_VERSION = "2"  # bump when a suite changes, so cached results are not reused
_memory: dict[str, list[SuiteResult]] = {}


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
                rvu_frame(release),
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
                    gpci_frame(release.gpci),
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
                f"{check.rows_failed:,} row{'s' if check.rows_failed != 1 else ''}"
                if check.rows_failed
                else f"observed {check.observed}"
                if check.observed is not None
                else check.error or "failed"
            )
            sample = ", ".join(_shown(v["value"]) for v in check.sample_values[:3])
            where = ", ".join(check.sample_labels[:3])
            parts.append(
                f"{suite.asset}: fails the check '{check.says}' ({detail}"
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
