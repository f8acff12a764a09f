"""Denial patterns from a synthetic matched-remittance table in the history store."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.report import audiences
from pipeline.report.denial_patterns import (
    REMITTANCE_COLUMNS,
    canonical_modifiers,
    denial_counts,
    shown_patterns,
)
from pipeline.report.settings import report_settings
from pipeline.report.storage import Destination
from pipeline.run import scrub_file
from tests.conftest import batch

JE = "Medicare Part B - Noridian JE"
J6 = "Medicare Part B - NGS J6"


def remit(payer, code, mods, group, carc, dates, denied=True) -> list[dict]:
    return [
        {
            "payer": payer,
            "procedure_code": code,
            "modifiers": mods,
            "carc_group": group,
            "carc_code": carc,
            "denied": denied,
            "date_of_service": pd.Timestamp(d).date(),
            "claim_id": f"R{code}{i}",  # extra columns are allowed and ignored
        }
        for i, d in enumerate(dates)
    ]


def write_remittance(root, name: str, rows: list[dict], mods_type=None) -> None:
    frame = pd.DataFrame(rows)
    mods_type = mods_type or pa.string()
    fields = [
        pa.field("modifiers", mods_type)
        if c == "modifiers"
        else pa.field(c, pa.array(frame[c]).type)
        for c in frame.columns
    ]
    table = pa.Table.from_pandas(frame, schema=pa.schema(fields), preserve_index=False)
    path = root / "history" / "remittance" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def seed_history(root) -> None:
    days = ["2025-08-28", "2025-08-29", "2025-08-30", "2025-08-31", "2025-09-01"]
    write_remittance(
        root,
        "2025-09/remit_a.parquet",
        remit(JE, "99213", "25", "CO", "97", days[:3])
        + remit(JE, "99214", "", "CO", "16", days[:4])  # 4 denials: counted, not shown
        + remit(JE, "99213", "25", "PR", "204", days, denied=False)  # paid: not a denial
        + remit(JE, "93000", "59;RT", "CO", "97", days[:3])
        + remit(JE, "99213", "25", "CO", "97", ["2024-06-01"] * 5),  # beyond the lookback
    )
    write_remittance(
        root,
        "2025-09/remit_b.parquet",
        remit(JE, "99213", ["25"], "co", "97", days[3:])
        + remit(JE, "93000", ["rt", "59"], "CO", "97", days[3:]),
        mods_type=pa.list_(pa.string()),
    )
    # Named like the claim batch: a rerun of that batch must not delete it.
    write_remittance(root, "2025-09/tonight.parquet", remit(JE, "99215", "", "CO", "50", days[:1]))
    bad = root / "history" / "remittance" / "broken.parquet"
    pq.write_table(pa.table({"payer": [JE]}), bad)


def claims(tmp_path):
    rows = [
        {"hcpcs_code": "99213", "hcpcs_modifier_1": "25", "payer": JE, "claim_id": "N1"},
        {"hcpcs_code": "99214", "payer": JE, "claim_id": "N2", "patient_id": "P2"},
        {"hcpcs_code": "99213", "hcpcs_modifier_1": "25", "payer": J6, "claim_id": "N3"},
        {"hcpcs_code": "99213", "payer": JE, "claim_id": "N4", "patient_id": "P4"},
        {
            "hcpcs_code": "93000",
            "hcpcs_modifier_1": "RT",
            "hcpcs_modifier_2": "59",
            "payer": JE,
            "claim_id": "N5",
            "patient_id": "P5",
        },
    ]
    path = tmp_path / "tonight.csv"
    batch(*rows).to_csv(path, index=False)
    return path


def test_patterns_note_matching_new_claims(tmp_path, reference, config, caplog):
    root = tmp_path / "out"
    seed_history(root)
    with caplog.at_level(logging.WARNING):
        result = scrub_file(claims(tmp_path), reference, config, Destination(str(root)))
    assert "broken.parquet was skipped (missing columns" in caplog.text

    patterns = pd.read_csv(root / "tonight" / "denial_patterns.csv", dtype=str)
    assert patterns[
        ["payer", "procedure_code", "modifiers", "reason_code", "denials"]
    ].values.tolist() == [
        [JE, "93000", "59;RT", "CO-97", "5"],
        [JE, "99213", "25", "CO-97", "5"],
    ]
    assert patterns[["first_date_of_service", "last_date_of_service"]].values.tolist() == [
        ["2025-08-28", "2025-09-01"],
        ["2025-08-28", "2025-09-01"],
    ]
    assert result.summary["denial_patterns"] == {"counted": 4, "shown": 2}
    assert (root / "history" / "remittance" / "2025-09" / "tonight.parquet").exists()

    queue = pd.read_parquet(root / "tonight" / "work_queue.parquet").set_index("claim_id")
    note = "denied 5x by this payer for CO-97 (2025-08-28 to 2025-09-01)"
    assert queue.loc["N1", "risk_note"] == note
    assert queue.loc["N5", "risk_note"] == note
    assert {"N2", "N3", "N4"}.isdisjoint(queue.index[queue["risk_note"] != ""])
    # A pattern alone queues the line with no dollars: the queue still reconciles.
    lines = pd.read_parquet(root / "tonight" / "lines.parquet")
    assert queue["dollars_at_risk"].sum() == lines["dollars_at_risk"].sum()
    assert result.summary["work_queue"]["lines_matching_denial_patterns"] == 2
    page = (root / "tonight" / "work_queue.html").read_text()
    assert "<td>CO-97</td>" in page and note in page


def test_threshold_is_data(tmp_path, reference, config, monkeypatch):
    root = tmp_path / "out"
    seed_history(root)
    settings = copy.deepcopy(report_settings())
    settings["denial_patterns"]["min_denials"] = 4
    monkeypatch.setattr(audiences, "report_settings", lambda: settings)
    result = scrub_file(claims(tmp_path), reference, config, Destination(str(root)))
    assert result.summary["denial_patterns"] == {"counted": 4, "shown": 3}
    queue = pd.read_parquet(root / "tonight" / "work_queue.parquet").set_index("claim_id")
    assert queue.loc["N2", "risk_note"] == (
        "denied 4x by this payer for CO-16 (2025-08-28 to 2025-08-31)"
    )


def test_counts_below_the_threshold_are_kept_not_shown():
    rows = pd.DataFrame(
        remit(JE, "99213", "25", "CO", "97", ["2025-01-02"] * 4)
        + remit(JE, "99213", "", "CO", "97", ["2025-01-02"] * 2)
    )
    counts = denial_counts(rows, lookback_days=365)
    assert counts[["modifiers", "denials"]].values.tolist() == [["25", 4], ["", 2]]
    assert shown_patterns(counts, min_denials=5).empty
    assert len(shown_patterns(counts, min_denials=4)) == 1
    assert denial_counts(pd.DataFrame(), lookback_days=365).empty


def test_modifiers_compare_as_sets():
    values = pd.Series(["rt;59", "59;RT", " 25 ", "", None, "25;;"])
    assert canonical_modifiers(values).tolist() == ["59;RT", "59;RT", "25", "", "", "25"]
    lists = pd.Series([["rt", "59"], [], None, ["25", None]], dtype=object)
    assert canonical_modifiers(lists).tolist() == ["59;RT", "", "", "25"]


def test_contract_columns_are_documented():
    text = (Path(__file__).parents[3] / "docs" / "reports.md").read_text()
    for column in REMITTANCE_COLUMNS:
        assert f"`{column}`" in text, column
    assert "history/remittance/" in text
