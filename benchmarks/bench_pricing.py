"""Benchmark: validate and price a realistic synthetic batch; print lines per second and memory.

Codes and modifiers are drawn from the bundled RVU file, several lines per claim, patients
seen by a few providers on a few days, ZIPs from the CMS ZIP5 file.

    .venv/bin/python benchmarks/bench_pricing.py --lines 1000000
"""

from __future__ import annotations

import argparse
import logging
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from typing import TypeVar

import numpy as np
import pandas as pd

from pipeline.config import PipelineConfig
from pipeline.extract.claims import normalize_batch
from pipeline.extract.ncci import NcciRelease, bundled_ncci
from pipeline.extract.releases import bundled_reference_data
from pipeline.report.audiences import write_audience_reports
from pipeline.report.manifest import RecordingDestination
from pipeline.run import scrub_frame
from pipeline.scrub.edits import apply_edits
from pipeline.scrub.flags import FlagCollector
from pipeline.scrub.price import price_lines
from pipeline.validate.claims_suite import validate_claims
from pipeline.validate.runner import gx_version

logger = logging.getLogger("bench_pricing")
T = TypeVar("T")

POS = ["11"] * 6 + ["22", "21", "23", "19", "02", "10", "31", "81"]


def synthetic_batch(n: int, seed: int = 7, *, worst_case: bool = False) -> pd.DataFrame:
    """A batch of `n` claim lines shaped like a physician group's nightly file.

    Charges follow the practice's fee schedule (130-300% of the national Medicare amount,
    3% of lines below it) and one line in ten carries a paid amount, as on a resubmission.
    With `worst_case`, charges are random and every line has a paid amount unrelated to
    the fee, so nearly every line is flagged (the most reason text to build).
    """
    rng = np.random.default_rng(seed)
    ref = bundled_reference_data()
    rvu = ref.releases[-1].rvu
    globals_ = rvu[rvu["mod"] == ""]
    weights = np.where(globals_["status"].isin(["A", "T"]), 8.0, 1.0)
    codes = rng.choice(globals_["hcpcs"].to_numpy(), size=n, p=weights / weights.sum())
    pctc1 = set(rvu.loc[rvu["pctc"] == "1", "hcpcs"])
    mod1 = np.full(n, "", dtype=object)
    component = np.isin(codes, list(pctc1))
    mod1[component] = rng.choice(["26", "TC", ""], size=int(component.sum()), p=[0.5, 0.2, 0.3])
    other = ~component & (rng.random(n) < 0.15)
    mod1[other] = rng.choice(
        ["25", "59", "50", "RT", "LT", "80", "GP", "XU"], size=int(other.sum())
    )

    lines_per_claim = rng.integers(1, 7, size=n)
    claim_of_line = np.repeat(np.arange(n), lines_per_claim)[:n]
    line_no = np.arange(n) - np.searchsorted(claim_of_line, claim_of_line)
    n_claims = int(claim_of_line.max()) + 1
    patient = rng.integers(0, max(n // 8, 1), size=n_claims)[claim_of_line]
    provider = rng.integers(0, max(n // 400, 1), size=n_claims)[claim_of_line]
    day = rng.integers(0, 365, size=n_claims)[claim_of_line]
    zips = ref.zip5["zip5"].to_numpy()
    zip_of_provider = rng.choice(zips, size=int(provider.max()) + 1)
    dos = (np.datetime64("2025-01-01") + day.astype("timedelta64[D]")).astype(str)
    if worst_case:
        charge = rng.integers(2_000, 150_000, size=n)
        has_paid = np.ones(n, dtype=bool)
    else:
        fee = globals_.set_index("hcpcs")["nf_total"].to_numpy("int64")
        fee = (fee * globals_["cf"].to_numpy("int64") // 10_000)[
            pd.Index(globals_["hcpcs"]).get_indexer(codes)
        ]
        markup = np.where(rng.random(n) < 0.03, rng.uniform(0.6, 0.95, n), rng.uniform(1.3, 3, n))
        charge = np.where(fee > 0, fee * markup, rng.integers(5_000, 50_000, size=n))
        charge = np.maximum(charge.astype("int64"), 100)
        has_paid = rng.random(n) < 0.1
    return pd.DataFrame(
        {
            "claim_id": pd.Series(claim_of_line).astype(str),
            "claim_line_number": pd.Series(line_no + 1).astype(str),
            "patient_id": pd.Series(patient).astype(str),
            "payer": "Medicare Part B",
            "rendering_npi": pd.Series(valid_npis(provider)).astype(str),
            "billing_npi": "",
            "claim_line_start_date": dos,
            "place_of_service_code": rng.choice(POS, size=n),
            "hcpcs_code": codes,
            "hcpcs_modifier_1": mod1,
            "service_unit_quantity": rng.choice(["1", "1", "1", "2", "3"], size=n),
            "charge_amount": pd.Series(charge // 100).astype(str)
            + "."
            + pd.Series(charge % 100).astype(str).str.zfill(2),
            "paid_amount": (pd.Series(charge // 250).astype(str) + ".00").where(has_paid, ""),
            "service_zip": zip_of_provider[provider],
        }
    ).astype("string")


def valid_npis(ids: np.ndarray) -> np.ndarray:
    """Ten-digit NPIs with a valid check digit (Luhn over 80840 + the first nine digits)."""
    base = 100_000_000 + np.asarray(ids, dtype="int64")  # nine digits
    digits = (base[:, None] // 10 ** np.arange(8, -1, -1)) % 10
    doubled = digits[:, 0::2] * 2
    total = 24 + (doubled // 10 + doubled % 10).sum(axis=1) + digits[:, 1::2].sum(axis=1)
    return base * 10 + (10 - total % 10) % 10


def repeated(step: Callable[..., T], times: int, *args: object) -> tuple[T, list[float]]:
    """Run `step(*args)` `times` times; return its last result and each run's seconds.

    The previous result is released before each run, so peak memory is that of one run.
    """
    result: T | None = None
    seconds = []
    for _ in range(times):
        result = None
        t = time.perf_counter()
        result = step(*args)
        seconds.append(time.perf_counter() - t)
    assert result is not None
    return result, seconds


def edit_step(lines: pd.DataFrame, ncci: NcciRelease) -> FlagCollector:
    """The NCCI edits of priced lines, into a collector of their own."""
    collector = FlagCollector()
    apply_edits(lines, ncci, collector)
    return collector


def rates(seconds: list[float], n: int) -> str:
    """'first 1.02 s (980,000 lines/s); again: median 0.80 s (1,250,000 lines/s) of 2'."""
    text = f"first {seconds[0]:.2f} s ({n / seconds[0]:,.0f} lines/s)"
    if len(seconds) > 1:
        again = statistics.median(seconds[1:])
        text += f"; again: median {again:.2f} s ({n / again:,.0f} lines/s) of {len(seconds) - 1}"
    return text


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logger.setLevel(logging.INFO)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument(
        "--worst-case",
        action="store_true",
        help="random charges and a paid amount on every line: nearly every line is flagged",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of the pricing and edit steps on the same batch (first and median of the rest)",
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    config = PipelineConfig.from_env({"CLAIMS_PIPELINE_PATIENT_KEY": "benchmark"})

    t = time.perf_counter()
    ref = bundled_reference_data()
    ncci = bundled_ncci()
    version = gx_version()
    logger.info(
        "once per process: reference data and NCCI tables loaded, Great Expectations %s "
        "imported in %.2f s",
        version,
        time.perf_counter() - t,
    )
    t = time.perf_counter()
    raw = synthetic_batch(args.lines, worst_case=args.worst_case)
    n = len(raw)
    logger.info(
        "generated %d lines%s in %.2f s (peak RSS so far %.0f MB)",
        n,
        " (worst case)" if args.worst_case else "",
        time.perf_counter() - t,
        peak_rss_mb(),
    )
    t = time.perf_counter()
    scrub_frame(raw.head(2_000), ref, config, ncci=ncci)
    logger.info(
        "once per release: lookup indexes (RVU, PTP, MUE) built by a 2,000-line warm-up "
        "scrub in %.2f s; every later batch reuses them",
        time.perf_counter() - t,
    )

    t = time.perf_counter()
    lines = normalize_batch(raw, patient_key=config.patient_key)
    normalize_s = time.perf_counter() - t
    logger.info("normalize: %.2f s (%.0f lines/s)", normalize_s, n / normalize_s)

    t = time.perf_counter()
    checked = validate_claims(
        raw, lines, run_date=date.today(), max_reject_share=config.max_reject_share
    )
    validate_s = time.perf_counter() - t
    logger.info(
        "validation: %.2f s (%.0f lines/s; GX suites %s), %d lines rejected, %d checks",
        validate_s,
        n / validate_s,
        ", ".join(f"{s.suite} {s.seconds:.2f} s" for s in checked.suites),
        checked.rejected_count,
        sum(len(s.checks) for s in checked.suites),
    )
    del checked

    priced, price_s = repeated(price_lines, args.repeat, lines, ref)
    logger.info(
        "pricing:   %s, %d priced, %d flags; peak RSS so far %.0f MB",
        rates(price_s, n),
        int((priced.lines["line_status"] == "priced").sum()),
        len(priced.flags),
        peak_rss_mb(),
    )

    edit_flags, edits_s = repeated(edit_step, args.repeat, priced.lines, ncci)
    both = [p + e for p, e in zip(price_s, edits_s, strict=True)]
    logger.info(
        "NCCI edits: %s, %d edit flags; peak RSS so far %.0f MB",
        rates(edits_s, n),
        len(edit_flags.table()),
        peak_rss_mb(),
    )
    logger.info("pricing + edits: %s", rates(both, n))
    del lines, priced, edit_flags
    t = time.perf_counter()
    result = scrub_frame(raw, ref, config, ncci=ncci)
    full_s = time.perf_counter() - t
    steps = ", ".join(f"{k} {v:.2f} s" for k, v in result.summary["timings_seconds"].items())
    logger.info(
        "full scrub (normalize, validate, price, NCCI edits, paid check, reports in memory): "
        "%.2f s (%.0f lines/s), %d lines flagged; steps: %s",
        full_s,
        n / full_s,
        result.summary["lines_flagged"],
        steps,
    )
    logger.info("peak RSS: %.0f MB", peak_rss_mb())

    with tempfile.TemporaryDirectory() as folder:
        t = time.perf_counter()
        write_audience_reports(result, RecordingDestination(folder))
        logger.info(
            "audience reports (work queue, finance summary, run health, denial patterns; "
            "Parquet, CSV and HTML to a local folder): %.2f s, %d queued lines; peak RSS %.0f MB",
            time.perf_counter() - t,
            result.summary["work_queue"]["lines"],
            peak_rss_mb(),
        )


if __name__ == "__main__":
    main()
