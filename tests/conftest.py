"""Shared fixtures: the bundled reference data and a tiny-batch builder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import PipelineConfig
from pipeline.extract.ncci import NcciRelease, bundled_ncci
from pipeline.extract.releases import ReferenceData, bundled_reference_data
from pipeline.run import BatchResult, scrub_frame

# Reference-file validation results are cached here, not in the user's home folder.
os.environ.setdefault("CLAIMS_PIPELINE_CACHE_DIR", tempfile.mkdtemp(prefix="claims-scrub-cache-"))

DATA = Path(__file__).parent / "data"
HOUSTON = "77030"  # carrier 04412, locality 18 (GPCIs 1.014 / 1.003 / 1.409)
SAN_FRANCISCO = "94110"  # carrier 01112, locality 05 (GPCIs 1.088 / 1.419 / 0.445)

DEFAULTS = {
    "claim_id": "C1",
    "patient_id": "P1",
    "payer": "Medicare Part B",
    "rendering_npi": "1234567893",
    "billing_npi": "1234567893",
    "claim_line_start_date": "2025-10-15",
    "place_of_service_code": "11",
    "service_unit_quantity": "1",
    "charge_amount": "5000.00",
    "service_zip": HOUSTON,
}


def no_edits() -> NcciRelease:
    """An NCCI release with no rows: pricing tests run without edits."""
    full = bundled_ncci()
    return NcciRelease(
        name="none",
        effective=full.effective,
        ptp=full.ptp.head(0),
        mue=full.mue.head(0),
        aoc=full.aoc.head(0),
        source="tests",
    )


NO_EDITS = no_edits()


@pytest.fixture(scope="session")
def reference() -> ReferenceData:
    return bundled_reference_data()


@pytest.fixture(scope="session")
def config() -> PipelineConfig:
    # Row-level tests use batches of a few lines, where one bad line is over any realistic
    # reject share; the batch limit has its own tests (tests/pipeline/validate).
    return PipelineConfig.from_env(
        {"CLAIMS_PIPELINE_PATIENT_KEY": "test-key", "CLAIMS_PIPELINE_MAX_REJECT_SHARE": "1"}
    )


def batch(*rows: dict[str, str]) -> pd.DataFrame:
    """A raw batch: each row is DEFAULTS updated with the given fields, numbered in order.

    A row that names its own patient but no claim gets that patient's own claim (C-<patient>):
    a claim's lines must share one patient, or validation rejects them.
    """
    out = []
    for i, row in enumerate(rows, 1):
        full = {**DEFAULTS, "claim_line_number": str(i), **row}
        if "patient_id" in row and "claim_id" not in row:
            full["claim_id"] = f"C-{row['patient_id']}"
        out.append(full)
    return pd.DataFrame(out).fillna("").astype("string")


@pytest.fixture
def scrub(reference, config):
    """Scrub rows built with `batch` and return the result."""

    def run(*rows: dict[str, str], **kwargs) -> BatchResult:
        kwargs.setdefault("ncci", NO_EDITS)  # pricing tests see no NCCI edits unless asked
        result = scrub_frame(batch(*rows), reference, config, **kwargs)
        # Conservation: every input line is in the report exactly once, in input order.
        assert result.lines["input_row"].tolist() == list(range(1, len(rows) + 1))
        assert result.summary["lines_written"] == len(rows)
        return result

    return run


def cents(value) -> int | None:
    """Decimal or text dollars from a report as integer cents."""
    if value is None or pd.isna(value) or value == "":
        return None
    whole, _, frac = str(value).partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * 100 + int((frac + "00")[:2]))


def allowed(result: BatchResult) -> list[int | None]:
    """Expected allowed per line, in input order, as cents."""
    col = result.lines["expected_allowed_cents"]
    return [None if pd.isna(v) else int(v) for v in col]


def flags_of(result: BatchResult, line: int) -> list[str]:
    """Rule codes on the line with claim_line_number `line` (1-based input order)."""
    return list(result.lines["flags"].iloc[line - 1])


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible server (SeaweedFS) for the whole test session."""
    from tests.s3_server import start_s3_server

    server = start_s3_server()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server, monkeypatch, request):
    """An empty bucket on the test S3 server, with AWS_* variables pointing at it."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    name = "test-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    s3_server.client().create_bucket(Bucket=name)
    return name
