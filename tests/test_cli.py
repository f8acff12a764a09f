"""The command line, run as a user would."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from pipeline.cli import main
from tests.conftest import batch


def test_run_sample(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-test")
    assert main(["run", "--sample", "--out", str(tmp_path), "--run-id", "cli-1"]) == 0
    out = capsys.readouterr().out
    assert "tuva_professional_2025: 4,870 lines read" in out
    assert str(tmp_path / "tuva_professional_2025") in out
    summary = json.loads((tmp_path / "tuva_professional_2025" / "summary.json").read_text())
    assert summary["run_id"] == "cli-1"


def test_run_folder_with_one_bad_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-test")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    batch({"hcpcs_code": "99213"}).to_csv(inbox / "good.csv", index=False)
    pd.DataFrame({"x": [1]}).to_csv(inbox / "bad.csv", index=False)
    code = main(["run", str(inbox), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 1
    assert "bad.csv: the first row names none of the required columns" in captured.err
    assert "good: 1 lines read, 1 priced" in captured.out
    assert (tmp_path / "out" / "good" / "lines.parquet").exists()
    assert not (tmp_path / "out" / "bad").exists()


def test_subfolders_are_not_searched_and_are_named(tmp_path, capsys, monkeypatch, caplog):
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-test")
    nest = tmp_path / "nest"
    (nest / "sub" / "deeper").mkdir(parents=True)
    batch({"hcpcs_code": "99213"}).to_csv(nest / "sub" / "deeper" / "deep.csv", index=False)
    out = nest / "reports"  # the report folder inside the input folder is never named
    assert main(["run", str(nest), "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"claims-scrub: no .csv, .csv.gz, .parquet or X12 (.837, .835, .x12, .edi) files in "
        f"folder {nest}; subfolders are not searched, and files are in {nest}/sub/deeper: "
        "pass those folders instead"
    )
    batch({"hcpcs_code": "99213"}).to_csv(nest / "top.csv", index=False)
    assert main(["run", str(nest), "--out", str(out), "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["history", "runs", "top"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "pipeline.cli"]
    assert warnings == [
        f"folder {nest}: subfolders are not searched, so the files in {nest}/sub/deeper were "
        "skipped; pass those folders as inputs too to scrub them"
    ]


def test_no_input_is_a_usage_error(tmp_path, capsys):
    assert main(["run", "--out", str(tmp_path)]) == 2
    assert "no input given" in capsys.readouterr().err


def test_releases_command(capsys):
    assert main(["releases"]) == 0
    out = capsys.readouterr().out
    assert "RVU25A: 2025-01-01 to 2025-09-30" in out
    assert "RVU25D: 2025-10-01 to 2025-12-31" in out


def test_same_named_batches_get_their_own_folders(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-test")
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        batch({"hcpcs_code": "99213", "claim_id": sub}).to_csv(
            tmp_path / sub / "batch.csv", index=False
        )
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["batch", "batch-2", "history", "runs"]
    assert "goes to batch-2/" in capsys.readouterr().err


def test_a_file_given_twice_is_scrubbed_once(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-test")
    monkeypatch.chdir(tmp_path)
    batch({"hcpcs_code": "99213"}).to_csv("base.csv", index=False)
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "base.csv").write_bytes((tmp_path / "base.csv").read_bytes())
    batch({"hcpcs_code": "99214"}).to_csv("other.csv", index=False)
    inputs = ["base.csv", "./base.csv", f"{tmp_path}/base.csv", "copy/base.csv", "other.csv"]
    assert main(["run", *inputs, "--out", "out", "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "claims-scrub: warning: base.csv is given twice, as base.csv; it is scrubbed once",
        f"claims-scrub: warning: {tmp_path}/base.csv is the same file as base.csv; it is "
        "scrubbed once",
        "claims-scrub: warning: copy/base.csv has the same content as base.csv; it is "
        "scrubbed once",
    ]
    assert captured.out.count(" lines read") == 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "base",
        "history",
        "other",
        "runs",
    ]
    history = sorted(p.name for p in (tmp_path / "out" / "history").rglob("*.parquet"))
    assert history == ["base.parquet", "other.parquet"]


def test_bad_default_locality_is_a_usage_error(tmp_path, capsys):
    assert main(["run", "--sample", "--out", str(tmp_path), "--default-locality", "abc"]) == 2
    assert "--default-locality 'abc' is not a carrier-locality" in capsys.readouterr().err


def test_unwritable_output_names_the_path(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-test")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["run", "--sample", "--out", str(blocker)]) == 2  # an output error, not input
    err = capsys.readouterr().err
    assert f"{blocker}/tuva_professional_2025/lines.parquet: cannot write" in err
    assert "could not be read" not in err


def test_mistyped_s3_output_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--sample", "--out", "s3:/bucket/x"]) == 2
    assert "an S3 location is written s3://bucket/prefix" in capsys.readouterr().err
    assert not (tmp_path / "s3:").exists()


@pytest.mark.parametrize("out", [pytest.param("", id="empty"), pytest.param("  ", id="blank")])
def test_empty_output_location_is_a_usage_error(tmp_path, capsys, monkeypatch, out):
    """`--out ''` used to write the report files loose into the root folder."""
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--sample", "--out", out]) == 2
    assert "--out is empty; give the report folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_output_cut_short_by_a_closed_pipe_is_no_traceback(monkeypatch):
    """`claims-scrub explain 99213 | head -1` ended in a BrokenPipeError traceback."""

    def closed_pipe(args):
        raise BrokenPipeError

    monkeypatch.setattr(os, "dup2", lambda fd, fd2: None)  # keep pytest's own stdout
    monkeypatch.setattr("pipeline.cli.releases", closed_pipe)
    assert main(["releases"]) == 1


def test_bad_settings_are_clear(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLAIMS_PIPELINE_PAID_TOLERANCE", "abc")
    assert main(["run", "--sample", "--out", str(tmp_path)]) == 2
    assert "CLAIMS_PIPELINE_PAID_TOLERANCE='abc' is not a dollar amount" in capsys.readouterr().err


def test_a_missing_batch_file_does_not_stop_the_others(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-test")
    good = tmp_path / "good.csv"
    batch({"hcpcs_code": "99213"}).to_csv(good, index=False)
    out = tmp_path / "out"
    assert main(["run", str(good), str(tmp_path / "nope.csv"), "--out", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'nope.csv'}: no such file or folder" in err
    assert "; the other inputs go on" in err
    assert "1 of 2 input files could not be read or failed validation" in err
    assert (out / "good" / "lines.csv").exists()


@pytest.mark.parametrize(
    ("names", "told"),
    [
        pytest.param(["nope.csv"], "{0}: no such file or folder", id="one"),
        pytest.param(["a.csv", "b.csv"], "{0}, {1}: no such file or folder", id="two"),
    ],
)
def test_only_missing_inputs_say_nothing_was_scrubbed(tmp_path, capsys, names, told):
    paths = [str(tmp_path / n) for n in names]
    assert main(["run", *paths, "--out", str(tmp_path / "out")]) == 2
    said = "it was the only input" if len(names) == 1 else "none of the inputs exists"
    assert capsys.readouterr().err == (
        f"claims-scrub: {told.format(*paths)}; check the path (batches are .csv, .csv.gz, "
        ".parquet or X12 837P files, remittances X12 835 files, or folders of them); "
        f"{said}, so nothing was scrubbed\n"
    )


def test_missing_release_path(tmp_path, capsys):
    code = main(["run", "--sample", "--out", str(tmp_path), "--release", str(tmp_path / "nope")])
    assert code == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_no_history_option(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-test")
    out = tmp_path / "out"
    assert main(["run", "--sample", "--out", str(out), "--no-history", "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["tuva_professional_2025"]


def test_batch_over_the_reject_share_fails_the_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "cli-test")
    batch({"hcpcs_code": "99213"}, {"hcpcs_code": "99213", "place_of_service_code": "98"}).to_csv(
        tmp_path / "b.csv", index=False
    )
    out = tmp_path / "out"
    args = ["run", str(tmp_path / "b.csv"), "--out", str(out), "--run-id", "r1"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert (
        f"claims-scrub: {tmp_path / 'b.csv'}: batch b failed validation: 1 of 2 lines (50.0%) "
        "failed validation, more than the 5.0% allowed (at most 0 of the 2 may fail); nothing "
        "was published to "
        f"{out}/b/, the reasons are in {out}/failed/b/r1/ (reason.json, validation.html, "
        "rejects.csv)"
    ) in err
    assert sorted(p.name for p in out.iterdir()) == ["failed"]

    assert main([*args, "--max-reject-share", "50%"]) == 0
    assert "b: 2 lines read, 1 priced, 0 not payable, 1 rejected" in capsys.readouterr().out
    assert (out / "b" / "rejects.csv").exists()


def test_bad_reject_share_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLAIMS_PIPELINE_MAX_REJECT_SHARE", "lots")
    assert main(["run", "--sample", "--out", str(tmp_path)]) == 2
    assert "CLAIMS_PIPELINE_MAX_REJECT_SHARE='lots' is not a share of lines" in (
        capsys.readouterr().err
    )
