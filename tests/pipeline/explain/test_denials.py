"""The denial-pattern hook reads denial records from the history store (columns of issue #6).

No remittance reader exists yet, so these history files are synthetic: the columns the scrub
already keeps plus `denial_reason`, the column #6 is expected to add.
"""

from __future__ import annotations

import pandas as pd

from pipeline.cli import main
from pipeline.explain.denials import MIN_DENIALS, denial_patterns
from pipeline.report.storage import Destination


def _history(root, name: str, rows: list[tuple[str, str, str, int]]) -> None:
    """Write one history file: (hcpcs, mod_1, denial_reason, charge_cents) per line."""
    folder = root / "history" / "month=2025-10"
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows, columns=["hcpcs", "mod_1", "denial_reason", "charge_cents"])
    frame = frame.assign(mod_2="", mod_3="", mod_4="", dos=pd.Timestamp("2025-10-15"))
    frame.to_parquet(folder / f"{name}.parquet", index=False)


def test_no_reports_folder_means_no_history():
    found = denial_patterns(None, "78579")
    assert found["available"] is False
    assert found["note"].startswith("no remittance history")


def test_history_without_denial_records(tmp_path):
    """A history store as `claims-scrub run` writes it today has no denial column."""
    folder = tmp_path / "history" / "month=2025-10"
    folder.mkdir(parents=True)
    pd.DataFrame({"hcpcs": ["78579"], "mod_1": [""]}).to_parquet(folder / "b1.parquet")
    found = denial_patterns(Destination(str(tmp_path)), "78579")
    assert found["available"] is False
    assert "no denial records" in found["note"] and "issue #6" in found["note"]


def test_only_reasons_with_five_denials_are_patterns(tmp_path):
    """78579: CO-97 six times (four with 59), CO-151 three times, four paid lines; another
    code's CO-97 denials do not count. Only CO-97 reaches MIN_DENIALS = 5."""
    assert MIN_DENIALS == 5
    _history(
        tmp_path,
        "b1",
        [("78579", "59", "CO-97", 16500)] * 4
        + [("78579", "", "CO-97", 16500)] * 2
        + [("78579", "", "CO-151", 16500)] * 3
        + [("78579", "", "", 16500)] * 4
        + [("78580", "", "CO-97", 20000)] * 5,
    )
    found = denial_patterns(Destination(str(tmp_path)), "78579")
    assert found["available"] is True
    assert (found["lines"], found["denials"]) == (13, 9)
    assert found["patterns"] == [
        {
            "denial_reason": "CO-97",
            "denials": 6,
            "most_common_modifiers": "59",
            "with_those_modifiers": 4,
            "denied_charge_cents": 6 * 16500,
        }
    ]


def test_patterns_span_history_files_and_show_in_text(tmp_path, capsys):
    _history(tmp_path, "b1", [("78597", "", "CO-16", 17596)] * 3)
    _history(tmp_path, "b2", [("78597", "", "CO-16", 17596)] * 2)
    assert main(["explain", "78597", "--reports", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Denial patterns (5 denials of 78597 in 5 remitted lines; a pattern needs 5" in out
    assert "  CO-16: 5 denials, $879.80 charged; most often with modifiers none (5)" in out
