"""Build the bundled NCCI PTP parquet (``reference_data/ncci/ptp_practitioner_2024Q2.parquet``).

Input is the derived practitioner PTP table of NCCI v301r0 (2024 Q2, all four parts) in the
shared data folder: a gzipped TSV with columns Column 1, Column 2, Deletion Date (YYYYMMDD or
``*``), Modifier (0/1/9) and PTP Edit Rationale. It is read and checked by
``pipeline.extract.ncci.load_ptp`` (the same reader the pipeline uses for CMS files), sorted by
column 1 and column 2 (rows of a pair keep their input order) and written with zstd
compression in the schema ``pipeline.extract.ncci.PTP_SCHEMA``: effective_date is null (the
derived file has none), deletion_date is null for ``*``, rationale is dictionary-encoded.

Usage::

    .venv/bin/python scripts/build_ncci_reference.py [--input TSV] [--output PARQUET]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.extract.ncci import load_ptp, ptp_to_arrow

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_INPUT = Path("/work/shared/data/ncci/ptp_practitioner_v301r0_2024Q2_all_parts.tsv.gz")
DEFAULT_OUTPUT = (
    REPO_ROOT / "pipeline" / "reference_data" / "ncci" / "ptp_practitioner_2024Q2.parquet"
)
ZSTD_LEVEL = 19  # slow to write, same speed to read; the file is written once per release

logger = logging.getLogger(__name__)


def build_ptp_parquet(source: Path, output: Path) -> int:
    """Convert a PTP edit file (any layout `load_ptp` reads) to the bundled parquet.

    Returns the number of rows written.
    """
    ptp = load_ptp(source)
    ptp = ptp.sort_values(["column1", "column2"], kind="stable").reset_index(drop=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        ptp_to_arrow(ptp),
        output,
        compression="zstd",
        compression_level=ZSTD_LEVEL,
        row_group_size=1 << 20,
    )
    return len(ptp)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--input", type=Path, default=DEFAULT_INPUT, help=f"PTP TSV (default: {DEFAULT_INPUT})"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"parquet to write (default: {DEFAULT_OUTPUT.relative_to(REPO_ROOT)})",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    started = time.perf_counter()
    rows = build_ptp_parquet(args.input, args.output)
    logger.info(
        "wrote %d rows to %s (%.1f MB) in %.1f s",
        rows,
        args.output,
        args.output.stat().st_size / 1e6,
        time.perf_counter() - started,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
