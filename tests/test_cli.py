"""The command line, run as a user would."""

from __future__ import annotations

import json

import pandas as pd

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
    assert "bad.csv: missing required column(s)" in captured.err
    assert "good: 1 lines read, 1 priced" in captured.out
    assert (tmp_path / "out" / "good" / "lines.parquet").exists()
    assert not (tmp_path / "out" / "bad").exists()


def test_no_input_is_a_usage_error(tmp_path, capsys):
    assert main(["run", "--out", str(tmp_path)]) == 2
    assert "no input given" in capsys.readouterr().err


def test_releases_command(capsys):
    assert main(["releases"]) == 0
    out = capsys.readouterr().out
    assert "RVU25A: 2025-01-01 to 2025-09-30" in out
    assert "RVU25D: 2025-10-01 to 2025-12-31" in out
