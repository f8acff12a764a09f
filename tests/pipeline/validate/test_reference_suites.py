"""CMS reference suites: the bundled files pass; a corrupted release is refused and the
loaded releases stay in force."""

from __future__ import annotations

import gzip
import json
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.errors import ReferenceFileError
from pipeline.extract.ncci import NcciRelease
from pipeline.extract.releases import bundled_path, load_reference_data
from pipeline.validate import reference_suites
from pipeline.validate.reference_checks import published_cf
from pipeline.validate.reference_suites import validate_reference
from tests.conftest import NO_EDITS, batch


def _text(relative: str) -> str:
    return gzip.decompress(bundled_path(relative).read_bytes()).decode("latin-1")


def _release_zip(tmp_path: Path, change=lambda rvu: rvu, gpci_change=lambda g: g) -> Path:
    """RVU26A.zip made from the bundled RVU25D and GPCI2025 files with the 2026 title and
    the CY2026 non-QP conversion factor, after `change`."""
    rvu = _text("mpfs/rvu25d/PPRRVU2025_Oct_nodesc.csv.gz")
    rvu = rvu.replace(
        "2025 National Physician Fee Schedule Relative Value File October Release",
        "2026 National Physician Fee Schedule Relative Value File January Release",
    ).replace(",32.3465,", ",33.4009,")
    gpci = _text("mpfs/rvu25d/GPCI2025.csv.gz")
    path = tmp_path / "RVU26A.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("PPRRVU2026_Jan_nonQPP.csv", change(rvu).encode("latin-1"))
        zf.writestr("GPCI2026.csv", gpci_change(gpci).encode("latin-1"))
    return path


def test_bundled_reference_files_pass(reference):
    result = validate_reference(reference, NO_EDITS)
    assert [(s.asset, s.rows, s.success) for s in result.suites] == [
        ("PPRRVU RVU25A", 18865, True),
        ("PPRRVU RVU25D", 19090, True),
        ("GPCI RVU25D", 109, True),
        ("ZIP5", 42956, True),
        ("NCCI none PTP", 0, True),
        ("NCCI none MUE", 0, True),
        ("NCCI none AOC", 0, True),
    ]
    rvu = result.suites[1]
    assert rvu.check("rvu_row_count").kwargs == {"min_value": 16978, "max_value": 20751}
    assert rvu.check("conversion_factor").kwargs["value_set"] == [0.0, 32.3465]


def test_published_conversion_factors():
    from datetime import date

    assert published_cf(date(2025, 10, 1)) == [323465]
    assert published_cf(date(2024, 1, 1)) == [327442]
    assert published_cf(date(2024, 4, 1)) == [332875]
    assert published_cf(date(2026, 1, 1)) == [334009, 335675]
    assert published_cf(date(2023, 1, 1)) == []


def test_good_new_release_is_used(tmp_path):
    ref = load_reference_data((_release_zip(tmp_path),))
    assert [r.name for r in ref.releases] == ["RVU25A", "RVU25D", "RVU26A"]
    assert ref.refused == ()


def test_rvu_file_with_a_missing_column_is_refused(tmp_path):
    path = _release_zip(tmp_path, lambda rvu: rvu.replace(",MP,", ",XX,", 1))
    ref = load_reference_data((path,))
    assert [r.name for r in ref.releases] == ["RVU25A", "RVU25D"]
    (refused,) = ref.refused
    assert refused["source"] == str(path)
    assert refused["reason"].startswith(
        f"{path}!PPRRVU2026_Jan_nonQPP.csv: expected exactly one column matching /^MP RVU$/, "
        "found none; columns are: HCPCS, MOD, DESCRIPTION"
    )


def test_rvu_file_with_a_negative_rvu_is_refused(tmp_path):
    path = _release_zip(tmp_path, lambda rvu: rvu.replace("99213,,,A,,1.30,", "99213,,,A,,-1.30,"))
    ref = load_reference_data((path,))
    assert [r.name for r in ref.releases] == ["RVU25A", "RVU25D"]
    assert ref.refused == (
        {
            "source": str(path),
            "reason": "release RVU26A failed validation: PPRRVU RVU26A: fails the check "
            "'work_rvu is not negative' (1 row; e.g. -1.3 at 99213); PPRRVU RVU26A: fails the "
            "check 'non-facility total = work + PE + MP RVUs' (1 row; e.g. 2.75 vs 0.15 at "
            "99213); PPRRVU RVU26A: fails the check 'facility total = work + PE + MP RVUs' "
            "(1 row; e.g. 1.97 vs -0.63 at 99213)",
        },
    )


def test_wrong_conversion_factor_and_short_file_are_refused(tmp_path):
    def corrupt(rvu: str) -> str:
        lines = rvu.splitlines(keepends=True)
        return "".join(lines[:5000]).replace(",33.4009,", ",33.0000,")

    ref = load_reference_data((_release_zip(tmp_path, corrupt),))
    (refused,) = ref.refused
    reason = refused["reason"]
    assert "fails the check 'row count within 10% of RVU25D (19,090)' (observed 4990)" in reason
    assert (
        "fails the check 'CONV FACTOR is the published CF in force on 2026-01-01 (33.4009, "
        "33.5675) or blank' (4,990 rows; e.g. 33.0 at 0001F, 0005F, 00100)" in reason
    )


def test_implausible_gpci_is_refused(tmp_path):
    path = _release_zip(tmp_path, gpci_change=lambda g: g.replace("1.419", "9.419", 1))
    ref = load_reference_data((path,))
    assert [r.name for r in ref.releases] == ["RVU25A", "RVU25D"]
    assert ref.refused[0]["reason"] == (
        "release RVU26A failed validation: GPCI RVU26A: fails the check 'PE GPCI between "
        "0.700 and 2.000' (1 row; e.g. 9.419 at 01112-05)"
    )


def test_failing_bundled_file_stops_the_run(reference):
    rvu = reference.releases[1].rvu.copy()
    rvu.loc[rvu["hcpcs"] == "99213", "mp_rvu"] = -10
    broken = replace(reference, releases=(replace(reference.releases[1], rvu=rvu, source=""),))
    with pytest.raises(ReferenceFileError, match=r"mp_rvu is not negative' \(1 row; e\.g\. -0\.1"):
        validate_reference(broken, NO_EDITS)

    mue = NO_EDITS.mue.copy()
    mue.loc[0] = ["99213", 1, 4, "", ""]
    ncci = NcciRelease("bad", NO_EDITS.effective, NO_EDITS.ptp, mue, NO_EDITS.aoc, "")
    with pytest.raises(ReferenceFileError, match="MUE adjudication indicator is 1, 2 or 3"):
        validate_reference(reference, ncci)


def test_results_are_cached_on_disk(reference, tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIMS_PIPELINE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(reference_suites, "_memory", {})
    first = validate_reference(reference, NO_EDITS)
    assert not any(s.cached for s in first.suites)
    assert len(list((tmp_path / "validation").glob("*.json"))) == 4  # 2 releases, ZIP5, NCCI

    monkeypatch.setattr(reference_suites, "_memory", {})
    monkeypatch.setattr(reference_suites, "run_suite", None)  # nothing may run again
    again = validate_reference(reference, NO_EDITS)
    assert all(s.cached for s in again.suites)
    assert [s.to_json()["checks"] for s in again.suites] == [
        s.to_json()["checks"] for s in first.suites
    ]


def test_cli_refuses_a_bad_release_and_uses_the_loaded_ones(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-test")
    path = _release_zip(tmp_path, lambda rvu: rvu.replace("99213,,,A,,1.30,", "99213,,,A,,-1.30,"))
    batch({"hcpcs_code": "99213"}).to_csv(tmp_path / "b.csv", index=False)
    out = tmp_path / "out"
    code = main(["run", str(tmp_path / "b.csv"), "--out", str(out), "--release", str(path)])
    err = capsys.readouterr().err
    assert code == 1  # the batch is scrubbed on the loaded releases; the job still sees it
    assert f"claims-scrub: release {path} refused and not used: release RVU26A failed" in err
    assert "the loaded releases stay in force" in err
    assert "1 --release path(s) refused (see above)" in err
    summary = json.loads((out / "b" / "summary.json").read_text())
    assert [r["release"] for r in summary["releases_loaded"]] == ["RVU25A", "RVU25D"]
    assert list(summary["releases_used"]) == ["RVU25D"]
    assert summary["releases_refused"][0]["source"] == str(path)
    document = json.loads((out / "b" / "validation.json").read_text())
    assert document["reference"]["releases_refused"] == summary["releases_refused"]


def test_a_release_named_unlike_its_title_is_loaded_as_its_title_says(tmp_path, caplog):
    """RVU26A.zip holding the 2025 October file replaces RVU25D, and says so."""
    import logging

    def back_to_2025(rvu: str) -> str:
        return (
            rvu.replace("2026 National", "2025 National")
            .replace("January Release", "October Release")
            .replace(",33.4009,", ",32.3465,")
        )

    path = _release_zip(tmp_path, back_to_2025)
    with caplog.at_level(logging.WARNING, logger="pipeline.extract.releases"):
        ref = load_reference_data((path,))
    assert [r.name for r in ref.releases] == ["RVU25A", "RVU25D"]
    assert ref.releases[-1].source == str(path)
    assert f"{path} is named like RVU26A but its RVU file's title says RVU25D" in caplog.text
