"""The bundled real batch scrubbed once for the report tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.extract.releases import bundled_path
from pipeline.report.storage import Destination
from pipeline.run import BatchResult, scrub_file

SAMPLE_2025 = bundled_path("samples/tuva_professional_2025.csv.gz")


@dataclass(frozen=True)
class SampleReport:
    root: Path  # the --out folder
    folder: Path  # root / batch
    result: BatchResult


@pytest.fixture(scope="session")
def sample_report(tmp_path_factory, reference, config) -> SampleReport:
    """`claims-scrub run --sample` as one batch of run r7, written to a local folder."""
    root = tmp_path_factory.mktemp("sample_report")
    result = scrub_file(SAMPLE_2025, reference, config, Destination(str(root)), run_id="r7")
    return SampleReport(root, root / "tuva_professional_2025", result)
