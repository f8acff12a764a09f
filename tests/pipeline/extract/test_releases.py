"""Loading CMS releases as CMS ships them, and choosing the one in force."""

from __future__ import annotations

import gzip
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import ReferenceFileError, ReleaseNotFound
from pipeline.extract.cms_files import SourceFile
from pipeline.extract.releases import bundled_path, load_reference_data, load_release
from pipeline.extract.rvu import load_rvu_file
from pipeline.run import scrub_frame
from tests.conftest import SAN_FRANCISCO, batch


def _bundled_text(relative: str) -> str:
    return gzip.decompress(bundled_path(relative).read_bytes()).decode("latin-1")


def _cms_2026_zip(tmp_path: Path) -> Path:
    """A release zip laid out like CMS's RVU26A.zip, made from the bundled 2025 files with a
    2026 title and the CY2026 non-QP conversion factor 33.4009."""
    rvu = _bundled_text("mpfs/rvu25d/PPRRVU2025_Oct_nodesc.csv.gz")
    rvu = rvu.replace(
        "2025 National Physician Fee Schedule Relative Value File October Release",
        "2026 National Physician Fee Schedule Relative Value File January Release",
    )
    rvu = rvu.replace(",32.3465,", ",33.4009,")
    gpci = _bundled_text("mpfs/rvu25d/GPCI2025.csv.gz")
    path = tmp_path / "RVU26A.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("PPRRVU2026_Jan_nonQPP.csv", rvu.encode("latin-1"))
        zf.writestr("GPCI2026.csv", gpci.encode("latin-1"))
        zf.writestr("RVU26A.pdf", b"%PDF-1.4 documentation")
    return path


def test_bundled_releases(reference):
    described = reference.describe()
    assert [(r["release"], r["in_force_from"], r["in_force_until"]) for r in described] == [
        ("RVU25A", "2025-01-01", "2025-09-30"),
        ("RVU25D", "2025-10-01", "2025-12-31"),
    ]
    assert [len(r.rvu) for r in reference.releases] == [18865, 19090]
    assert [r.cf for r in reference.releases] == [323465, 323465]
    assert described[0]["gpci_source"] == "RVU25D"  # RVU25A's own GPCI file is not bundled
    assert len(reference.zip5) == 42956


def test_cms_layout_quirks(reference):
    """Leading zeros restored in the Excel-damaged RVU25A, DOS end-of-file row skipped."""
    a = reference.releases[0].rvu.set_index(["hcpcs", "mod"])
    assert ("00100", "") in a.index
    assert a.loc[("99213", ""), "glob_days"] == "XXX"
    assert a.loc[("10060", ""), "glob_days"] == "010"
    assert not a.index.get_level_values(0).str.contains("\x1a").any()
    d = reference.releases[1].rvu.set_index(["hcpcs", "mod"])
    assert d.loc[("78580", "TC"), "f_na"]
    assert d.loc[("78580", "TC"), "opps_f_pe"] == 1233


def test_release_index_by_date(reference):
    dates = np.array(
        ["2025-01-01", "2025-09-30", "2025-10-01", "2025-12-31", "2024-12-31", "2026-01-01", "NaT"],
        dtype="datetime64[D]",
    )
    assert reference.release_index(dates).tolist() == [0, 0, 1, 1, -1, -1, -1]


def test_new_release_from_a_cms_zip(tmp_path, config):
    """99213 in San Francisco on 2026-01-15 with the 2026 CF:
    (1.30*1.088 + 1.35*1.419 + 0.10*0.445) * 33.4009 = 3.37455 * 33.4009 = 112.713 -> $112.71.
    """
    ref = load_reference_data((_cms_2026_zip(tmp_path),))
    assert [r.name for r in ref.releases] == ["RVU25A", "RVU25D", "RVU26A"]
    assert ref.releases[2].effective == date(2026, 1, 1)
    result = scrub_frame(
        batch(
            {
                "hcpcs_code": "99213",
                "service_zip": SAN_FRANCISCO,
                "claim_line_start_date": "2026-01-15",
            },
            {"hcpcs_code": "99213", "service_zip": SAN_FRANCISCO},
        ),
        ref,
        config,
    )
    assert result.lines["expected_allowed_cents"].tolist() == [11271, 10915]
    assert result.lines["release"].tolist() == ["RVU26A", "RVU25D"]


def test_new_release_from_a_folder(tmp_path):
    folder = tmp_path / "RVU25D"
    folder.mkdir()
    (folder / "PPRRVU2025_Oct.csv").write_bytes(
        gzip.decompress(bundled_path("mpfs/rvu25d/PPRRVU2025_Oct_nodesc.csv.gz").read_bytes())
    )
    release = load_release(folder)
    assert (release.name, release.effective, release.gpci) == ("RVU25D", date(2025, 10, 1), None)


def test_effective_date_from_file_name_when_title_is_missing(tmp_path):
    text = _bundled_text("mpfs/rvu25d/PPRRVU2025_Oct_nodesc.csv.gz")
    body = text[text.index(",,RELEASED") :]
    path = tmp_path / "PPRRVU25_JUL.csv"
    path.write_text(body, encoding="latin-1")
    effective, rvu = load_rvu_file(SourceFile(path))
    assert effective == date(2025, 7, 1)
    assert len(rvu) == 19090


def test_missing_column_names_the_column(tmp_path):
    text = _bundled_text("mpfs/rvu25d/PPRRVU2025_Oct_nodesc.csv.gz").replace(",MP,", ",XX,", 1)
    path = tmp_path / "PPRRVU2025_Oct.csv"
    path.write_text(text, encoding="latin-1")
    with pytest.raises(ReferenceFileError, match=r"MP RVU.*found none"):
        load_rvu_file(SourceFile(path))


def test_non_numeric_rvu_is_refused(tmp_path):
    text = _bundled_text("mpfs/rvu25d/PPRRVU2025_Oct_nodesc.csv.gz").replace(
        "99213,,,A,,1.30,", "99213,,,A,,1.3O,", 1
    )
    path = tmp_path / "PPRRVU2025_Oct.csv"
    path.write_text(text, encoding="latin-1")
    with pytest.raises(ReferenceFileError, match=r"WORK RVU.*'1\.3O'"):
        load_rvu_file(SourceFile(path))


def test_not_a_release(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ReleaseNotFound, match="expected one PPRRVU"):
        load_release(tmp_path)
    with pytest.raises(ReferenceFileError, match="not a folder or a zip"):
        load_release(tmp_path / "notes.txt")
