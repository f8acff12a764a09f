"""explain's denial patterns read the matched remittance lines under history/remittance/
with the work queue's own reader (report.denial_patterns.read_remittance)."""

from __future__ import annotations

from pipeline.cli import main
from pipeline.explain.denials import denial_patterns
from pipeline.report.storage import Destination
from tests.pipeline.report.test_denial_patterns import remit, write_remittance

JE = "Medicare Part B - Noridian JE"
DAYS = ["2025-10-01", "2025-10-02", "2025-10-03", "2025-10-04", "2025-10-05", "2025-10-06"]


def test_no_reports_folder_means_no_history():
    found = denial_patterns(None, "78579")
    assert found["available"] is False
    assert found["note"].startswith("no remittance history")


def test_claim_history_alone_is_no_remittance_history(tmp_path):
    """A store with claim-line history but nothing under history/remittance/."""
    folder = tmp_path / "history" / "month=2025-10"
    folder.mkdir(parents=True)
    (folder / "b1.parquet").write_bytes(b"")
    found = denial_patterns(Destination(str(tmp_path)), "78579")
    assert found["available"] is False
    assert "no matched remittance lines in" in found["note"]
    assert "history/remittance/" in found["note"]


def test_only_combinations_with_five_denials_are_patterns(tmp_path):
    """78579: CO-97 six times with 59 (split over two files), CO-151 four times, three paid
    rows; another code's CO-97 denials do not count. Only CO-97 with 59 reaches 5."""
    write_remittance(
        tmp_path,
        "a.parquet",
        remit(JE, "78579", "59", "CO", "97", DAYS[:4])
        + remit(JE, "78579", "", "CO", "151", DAYS[:4])
        + remit(JE, "78579", "", "CO", "45", DAYS[:3], denied=False)
        + remit(JE, "78580", "", "CO", "97", DAYS[:5]),
    )
    write_remittance(tmp_path, "2025-10/b.parquet", remit(JE, "78579", "59", "CO", "97", DAYS[4:]))
    found = denial_patterns(Destination(str(tmp_path)), "78579")
    assert found["available"] is True
    assert (found["remittance_rows"], found["denials"], found["minimum_per_pattern"]) == (18, 10, 5)
    assert found["patterns"] == [
        {
            "payer": JE,
            "modifiers": "59",
            "reason_code": "CO-97",
            "denials": 6,
            "first_date_of_service": "2025-10-01",
            "last_date_of_service": "2025-10-06",
        }
    ]


def test_patterns_show_in_text_and_four_denials_show_none(tmp_path, capsys):
    write_remittance(tmp_path, "a.parquet", remit(JE, "78597", "", "CO", "16", DAYS[:4]))
    assert main(["explain", "78597", "--reports", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Denial patterns (4 denials of 78597 in the remittance history" in out
    assert "  none with enough denials" in out
    write_remittance(tmp_path, "b.parquet", remit(JE, "78597", "", "CO", "16", DAYS[4:5]))
    assert main(["explain", "78597", "--reports", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"  {JE}, modifiers none: CO-16 5 denials (2025-10-01 to 2025-10-05)" in out
