"""Fee-schedule releases: find, load and pick the one in force for each date of service."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import ReferenceFileError, ReleaseNotFound
from pipeline.extract.cms_files import SourceFile, list_release_files
from pipeline.extract.gpci import load_gpci_file
from pipeline.extract.rvu import (
    conversion_factor,
    load_rvu_file,
    release_date_from_title,
    release_name,
)
from pipeline.extract.zip_locality import load_zip5_file

logger = logging.getLogger(__name__)

BUNDLED_RELEASES = ("mpfs/rvu25a", "mpfs/rvu25d")
BUNDLED_ZIP5 = "mpfs/zip_locality/ZIP5_OCT2025.txt.gz"

# Sentinels returned by ReferenceData.release_index for dates no release covers.
OUTSIDE_LOADED_YEARS = -1
BEFORE_FIRST_RELEASE = -2


@dataclass(frozen=True)
class Release:
    """One quarterly MPFS release: its RVU table, GPCIs and conversion factor."""

    name: str
    effective: date
    rvu: pd.DataFrame = field(repr=False)
    gpci: pd.DataFrame | None = field(repr=False)
    cf: int
    source: str
    gpci_source: str | None = None

    @property
    def year(self) -> int:
        return self.effective.year


@dataclass(frozen=True)
class ReferenceData:
    """Everything pricing needs from CMS, pinned by release."""

    releases: tuple[Release, ...]
    zip5: pd.DataFrame = field(repr=False)
    zip_source: str
    refused: tuple[dict[str, str], ...] = ()  # releases given by path that failed validation

    def release_index(self, dos: np.ndarray) -> np.ndarray:
        """Index into `releases` of the release in force on each date (or a sentinel).

        A release is in force from its effective date until the next loaded release, and the
        last release of a year until December 31 of that year.
        """
        dos = np.asarray(dos, dtype="datetime64[D]")
        starts = np.array([r.effective for r in self.releases], dtype="datetime64[D]")
        years = np.array([r.year for r in self.releases])
        idx = np.searchsorted(starts, dos, side="right") - 1
        dos_year = dos.astype("datetime64[Y]").astype(int) + 1970
        loaded_year = np.isin(dos_year, years)
        same_year = (idx >= 0) & (years[np.clip(idx, 0, None)] == dos_year)
        out = np.where(same_year, idx, BEFORE_FIRST_RELEASE)
        out = np.where(loaded_year, out, OUTSIDE_LOADED_YEARS)
        return np.where(np.isnat(dos), OUTSIDE_LOADED_YEARS, out)

    def describe(self) -> list[dict[str, str]]:
        """Name, dates and sources of each release, for run summaries."""
        out = []
        for i, r in enumerate(self.releases):
            nxt = self.releases[i + 1] if i + 1 < len(self.releases) else None
            until = (
                (pd.Timestamp(nxt.effective) - pd.Timedelta(days=1)).date()
                if nxt and nxt.year == r.year
                else date(r.year, 12, 31)
            )
            out.append(
                {
                    "release": r.name,
                    "in_force_from": r.effective.isoformat(),
                    "in_force_until": until.isoformat(),
                    "conversion_factor": f"{r.cf / 10000:.4f}",
                    "rvu_rows": str(len(r.rvu)),
                    "source": r.source,
                    "gpci_source": r.gpci_source or "",
                }
            )
        return out


def _pick(files: list[SourceFile], prefix: str, suffix: str) -> list[SourceFile]:
    return [
        f
        for f in files
        if f.name.upper().startswith(prefix) and f.name.lower().removesuffix(".gz").endswith(suffix)
    ]


def load_release(path: Path) -> Release:
    """Load an RVU release given as a CMS zip (RVU25D.zip) or an unzipped folder."""
    if not Path(path).exists():
        raise ReleaseNotFound(
            "no such file or folder; pass the RVUxxX.zip or its folder", source=str(path)
        )
    files = list_release_files(path)
    rvu_files = _pick(files, "PPRRVU", ".csv")
    if len(rvu_files) > 1:
        # CY2026 on ships one file per conversion factor (QP and non-QP clinicians).
        non_qp = [f for f in rvu_files if "NONQP" in f.name.upper()]
        rvu_files = non_qp or rvu_files
    if len(rvu_files) != 1:
        raise ReleaseNotFound(
            f"expected one PPRRVU*.csv in the release, found {[f.name for f in rvu_files]}; "
            "unzip the CMS RVUxxX.zip or pass it as it was downloaded",
            source=str(path),
        )
    effective, rvu = load_rvu_file(rvu_files[0])
    effective = effective or release_date_from_title([], path.name)
    if effective is None:
        raise ReleaseNotFound(
            "cannot tell the release's effective date from its title line or file names; "
            "name the folder like RVU26A",
            source=str(path),
        )
    gpci_files = _pick(files, "GPCI", ".csv")
    gpci = load_gpci_file(gpci_files[0]) if gpci_files else None
    name = release_name(effective)
    named = release_date_from_title([], Path(path).name)
    if named is not None and release_name(named) != name:
        logger.warning(
            "%s is named like %s but its RVU file's title says %s (in force from %s); it is "
            "loaded as %s and replaces any release of that name",
            path,
            release_name(named),
            name,
            effective,
            name,
        )
    release = Release(
        name=name,
        effective=effective,
        rvu=rvu,
        gpci=gpci,
        cf=conversion_factor(rvu, source=str(rvu_files[0])),
        source=str(path),
        gpci_source=name if gpci is not None else None,
    )
    logger.info(
        "loaded release %s (in force from %s, CF %.4f, %d RVU rows, GPCI %s)",
        name,
        effective,
        release.cf / 10000,
        len(rvu),
        "yes" if gpci is not None else "no",
    )
    return release


def _fill_gpci(releases: list[Release]) -> list[Release]:
    """Give a release without its own GPCI file the GPCIs of the nearest release of its year."""
    out = []
    for r in releases:
        if r.gpci is None:
            same_year = [o for o in releases if o.year == r.year and o.gpci is not None]
            if not same_year:
                raise ReleaseNotFound(
                    f"release {r.name} has no GPCI file and no other loaded release of {r.year} "
                    "has one (a release given by path replaces the bundled release of the same "
                    "name); add the GPCIyyyy.csv from the same CMS zip",
                    source=r.source,
                )
            near = min(same_year, key=lambda o: abs((o.effective - r.effective).days))
            r = replace(r, gpci=near.gpci, gpci_source=near.name)
        out.append(r)
    return out


def bundled_path(relative: str) -> Path:
    """Path of a file shipped inside the package's reference_data folder."""
    return Path(str(resources.files("pipeline") / "reference_data" / relative))


def load_reference_data(
    extra_releases: tuple[Path, ...] = (), zip5: Path | None = None, *, validate: bool = True
) -> ReferenceData:
    """Load the bundled releases plus any newer CMS releases given by path.

    With `validate`, a release given by path is checked by its validation suite (see
    pipeline.validate.reference_suites) first; one that cannot be read or fails is refused,
    logged and listed in `refused`, and the releases already loaded stay in force. A path
    that is not a release at all is an error.
    """
    loaded = {r.name: r for r in (load_release(bundled_path(p)) for p in BUNDLED_RELEASES)}
    refused: list[dict[str, str]] = []
    for path in extra_releases:
        try:
            release = load_release(Path(path))
            if validate:
                from pipeline.validate.reference_suites import check_new_release

                check_new_release(release, list(loaded.values()))
        except ReleaseNotFound:
            raise
        except ReferenceFileError as exc:
            logger.warning("release %s refused, not used: %s", path, exc)
            refused.append({"source": str(path), "reason": str(exc)})
            continue
        loaded[release.name] = release  # a release given by path replaces a bundled one
    releases = _fill_gpci(sorted(loaded.values(), key=lambda r: r.effective))
    zip_file = SourceFile(Path(zip5)) if zip5 else SourceFile(bundled_path(BUNDLED_ZIP5))
    return ReferenceData(tuple(releases), load_zip5_file(zip_file), zip_file.name, tuple(refused))


@lru_cache(maxsize=1)
def bundled_reference_data() -> ReferenceData:
    """The bundled reference data, loaded once per process."""
    return load_reference_data()
