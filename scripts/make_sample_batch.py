"""Build the sample professional-claims batches shipped in ``pipeline/reference_data/samples/``.

Input is the Tuva Project synthetic demo claims file (Apache-2.0;
tuva-health/tuva_demo, ``seeds/medical_claim.csv`` at commit
88f8ce55895cde892052e774e8a5e0c0c364593a). Two gzip CSVs are written:

* ``tuva_professional_2018.csv.gz``: the professional lines, columns and values unchanged.
* ``tuva_professional_2025.csv.gz``: the same lines with every date moved by one fixed
  number of days (earliest ``claim_line_start_date`` -> 2025-01-02), ``member_id``
  dropped, and ``service_zip``, ``payer`` and ``participating`` added. ZIP and payer are
  assigned per provider (``billing_npi``, else ``rendering_npi``) by a stable SHA-256 hash.

Both files are byte-reproducible (gzip header mtime is 0). See ``PROVENANCE.md`` there.

Usage::

    .venv/bin/python scripts/make_sample_batch.py [--input CSV] [--output-dir DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import logging
from pathlib import Path
from typing import NamedTuple

import pandas as pd

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_INPUT = Path("/work/shared/data/claims/tuva_demo_medical_claim.csv")
DEFAULT_OUTPUT_DIR = REPO_ROOT / "pipeline" / "reference_data" / "samples"

OUT_2018 = "tuva_professional_2018.csv.gz"
OUT_2025 = "tuva_professional_2025.csv.gz"

TARGET_FIRST_DATE = dt.date(2025, 1, 2)
TARGET_YEAR = 2025
DATE_FORMAT = "%Y-%m-%d"
FIXED_DATE_COLUMNS = (
    "claim_start_date",
    "claim_end_date",
    "claim_line_start_date",
    "claim_line_end_date",
    "admission_date",
    "discharge_date",
    "paid_date",
)
DROPPED_COLUMNS = ("member_id",)


class ServiceLocation(NamedTuple):
    """A real ZIP code and the Medicare Part B payer for its carrier."""

    zip5: str
    payer: str


# Checked against CMS ZIP5_OCT2025.txt (carrier = pos 8-12, locality = pos 13-14,
# plus-four flag = pos 21) and GPCI2025.csv (locality names). Order is part of the
# assignment rule: changing it reassigns providers.
SERVICE_LOCATIONS: tuple[ServiceLocation, ...] = (
    # San Francisco, CA: carrier 01112, locality 05 (SAN FRANCISCO-OAKLAND-BERKELEY)
    ServiceLocation("94110", "Medicare Part B - Noridian JE"),
    # Houston, TX (Texas Medical Center): carrier 04412, locality 18 (HOUSTON)
    ServiceLocation("77030", "Medicare Part B - Novitas JH"),
    # Manhattan, NY (Upper East Side): carrier 13202, locality 01 (MANHATTAN)
    ServiceLocation("10065", "Medicare Part B - NGS JK"),
    # Chicago, IL (Streeterville): carrier 06102, locality 16 (CHICAGO)
    ServiceLocation("60611", "Medicare Part B - NGS J6"),
    # Plains, GA (rural, indicator R): carrier 10212, locality 99 (REST OF GEORGIA)
    ServiceLocation("31780", "Medicare Part B - Palmetto JJ"),
    # Anchorage, AK: carrier 02102, locality 01 (ALASKA)
    ServiceLocation("99501", "Medicare Part B - Noridian JF"),
    # Palo Alto / East Palo Alto, CA: carrier 01112, locality 09 (SAN JOSE-SUNNYVALE-
    # SANTA CLARA); plus-four flag 1, i.e. the locality depends on the ZIP+4.
    ServiceLocation("94303", "Medicare Part B - Noridian JE"),
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT, help="Tuva medical_claim CSV")
    parser.add_argument(
        "--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR, help="folder for the .csv.gz files"
    )
    return parser.parse_args(argv)


def read_claims(path: Path) -> pd.DataFrame:
    """Read the claims file as strings, keeping blanks as empty strings."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def date_columns(frame: pd.DataFrame) -> list[str]:
    """Return the date columns present in ``frame``, in file order."""
    return [
        col
        for col in frame.columns
        if col in FIXED_DATE_COLUMNS or col.startswith("procedure_date_")
    ]


def shift_dates(column: pd.Series, days: int) -> pd.Series:
    """Move every non-blank ISO date in ``column`` by ``days``; blanks stay blank."""
    present = column != ""
    parsed = pd.to_datetime(column[present], format=DATE_FORMAT)
    shifted = column.copy()
    shifted[present] = (parsed + pd.Timedelta(days=days)).dt.strftime(DATE_FORMAT)
    return shifted


def stable_bucket(key: str, buckets: int) -> int:
    """Map ``key`` to ``0..buckets-1`` via SHA-256 (stable across runs, unlike ``hash``)."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest(), 16) % buckets


def to_2025(professional: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Return the converted 2025 batch and the day shift applied."""
    first = dt.datetime.strptime(professional["claim_line_start_date"].min(), DATE_FORMAT).date()
    shift_days = (TARGET_FIRST_DATE - first).days

    out = professional.drop(columns=list(DROPPED_COLUMNS))
    for col in date_columns(out):
        out[col] = shift_dates(out[col], shift_days)
        years = out.loc[out[col] != "", col].str[:4]
        if not (years == str(TARGET_YEAR)).all():
            raise ValueError(f"{col}: shifted dates fall outside {TARGET_YEAR}")

    provider = out["billing_npi"].where(out["billing_npi"] != "", out["rendering_npi"])
    if (provider == "").any():
        raise ValueError("every professional line needs a billing or rendering NPI")
    location = provider.map(
        lambda npi: SERVICE_LOCATIONS[stable_bucket(npi, len(SERVICE_LOCATIONS))]
    )
    out["service_zip"] = location.map(lambda loc: loc.zip5)
    out["payer"] = location.map(lambda loc: loc.payer)
    out["participating"] = "Y"
    return out, shift_days


def write_csv_gz(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as a gzip CSV with a zero mtime so the bytes are reproducible."""
    text = frame.to_csv(index=False, lineterminator="\n")
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(text.encode("utf-8"))


def main(argv: list[str] | None = None) -> None:
    """Build both sample batches from the Tuva demo claims."""
    args = parse_args(argv)
    claims = read_claims(args.input)
    professional = claims[claims["claim_type"] == "professional"].reset_index(drop=True)
    converted, shift_days = to_2025(professional)

    args.output_dir.mkdir(parents=True, exist_ok=True)
    write_csv_gz(professional, args.output_dir / OUT_2018)
    write_csv_gz(converted, args.output_dir / OUT_2025)
    logger.info(
        "%d professional lines; dates shifted by %d days; wrote %s and %s to %s",
        len(professional),
        shift_days,
        OUT_2018,
        OUT_2025,
        args.output_dir,
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
