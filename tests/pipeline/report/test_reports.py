"""Report files: names, types, conservation, and writing to S3."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.extract.releases import bundled_path
from pipeline.report.storage import Destination
from pipeline.run import scrub_file

SAMPLE_2025 = bundled_path("samples/tuva_professional_2025.csv.gz")
SAMPLE_2018 = bundled_path("samples/tuva_professional_2018.csv.gz")
REPORT_FILES = (
    "claims.csv",
    "claims.parquet",
    "denial_patterns.csv",
    "denial_patterns.parquet",
    "finance.html",
    "finance_summary.csv",
    "finance_summary.parquet",
    "flags.csv",
    "flags.parquet",
    "lines.csv",
    "lines.parquet",
    "manifest.json",
    "rejects.csv",
    "rejects.parquet",
    "run_health.html",
    "run_health.json",
    "summary.json",
    "validation.html",
    "validation.json",
    "work_queue.csv",
    "work_queue.html",
    "work_queue.parquet",
)


def test_bundled_2025_batch_report(tmp_path, reference, config):
    result = scrub_file(SAMPLE_2025, reference, config, Destination(str(tmp_path)), run_id="r1")
    folder = tmp_path / "tuva_professional_2025"
    names = sorted(p.name for p in folder.iterdir())
    assert names == list(REPORT_FILES)

    lines = pq.read_table(folder / "lines.parquet")
    assert lines.num_rows == 4870
    assert lines.schema.field("expected_allowed").type == pa.decimal128(18, 2)
    assert lines.schema.field("flags").type == pa.list_(pa.string())
    assert not {"member_id", "patient_key", "dos"} & set(lines.column_names)
    frame = lines.to_pandas()
    assert sorted(frame["input_row"]) == list(range(1, 4871))
    raw = pd.read_csv(SAMPLE_2025, dtype=str)
    assert not set(frame["patient_id"]) & set(raw["patient_id"])

    summary = json.loads((folder / "summary.json").read_text())
    assert summary["lines_read"] == summary["lines_written"] == 4870
    assert sum(summary["line_status"].values()) == 4870
    assert summary["conservation_ok"]
    assert set(summary["releases_used"]) == {"RVU25A", "RVU25D"}
    assert summary["patient_key_source"] == "env"

    assert summary["line_status"] == {
        "priced": 2090,
        "not_payable": 516,
        "carrier_priced": 48,
        "other_fee_schedule": 2153,
        "unknown_code": 59,
        "outside_loaded_years": 0,
        "rejected": 4,
    }
    assert (summary["lines_flagged"], summary["claims"]) == (4744, 2869)
    assert summary["totals"] == {
        "billed_cents": 27414742,
        "expected_allowed_cents": 17646107,
        "paid_cents": 22723683,
        "expected_payment_cents": 13834478,
        "dollars_at_risk_cents": 9585970,
    }
    # The Parquet decimals add up to the summary's cents exactly.
    assert sum(frame["expected_allowed"].dropna(), Decimal(0)) == Decimal("176461.07")

    claims = pd.read_parquet(folder / "claims.parquet")
    assert claims["risk_score"].is_monotonic_decreasing
    assert (claims["risk_score"] >= claims["dollars_at_risk"]).all()
    assert claims["lines"].sum() == 4870
    csv_lines = pd.read_csv(folder / "lines.csv", dtype=str, keep_default_na=False)
    assert len(csv_lines) == 4870
    assert csv_lines.loc[0, "flags"] == ";".join(frame.loc[0, "flags"])
    assert result.summary["run_id"] == "r1"


def test_original_2018_batch_is_all_outside_loaded_years(tmp_path, reference, config):
    result = scrub_file(SAMPLE_2018, reference, config, Destination(str(tmp_path)))
    s = result.summary
    assert s["lines_read"] == 4870
    # The 4 lines with 0 units are quarantined (rejected) whatever their date; the date is
    # still flagged on them.
    assert s["line_status"]["outside_loaded_years"] == 4866
    assert s["line_status"]["rejected"] == 4
    assert s["line_status"]["priced"] == 0
    assert s["flags_by_rule"]["OUTSIDE_LOADED_YEARS"] == 4870


def test_reports_written_to_s3(s3_bucket, s3_server, reference, config):
    result = scrub_file(
        SAMPLE_2025, reference, config, Destination(f"s3://{s3_bucket}/nightly/2025")
    )
    client = s3_server.client()
    every = sorted(o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"])
    keys = [k for k in every if "/history/" not in k and "/runs/" not in k]
    runs = [k for k in every if "/runs/" in k]
    assert len(runs) == 1 and runs[0].endswith(
        f"/runs/{result.summary['run_id']}/tuva_professional_2025.json"  # a default run id
    )
    assert [k for k in every if "/history/" in k] == [
        f"nightly/2025/history/month=2025-{m:02d}/tuva_professional_2025.parquet"
        for m in range(1, 13)
    ]
    assert keys == [f"nightly/2025/tuva_professional_2025/{n}" for n in REPORT_FILES]
    lines_key = "nightly/2025/tuva_professional_2025/lines.parquet"
    body = client.get_object(Bucket=s3_bucket, Key=lines_key)["Body"].read()
    assert pq.read_table(io.BytesIO(body)).num_rows == 4870
    assert result.outputs["summary.json"].startswith(f"s3://{s3_bucket}/nightly/2025/")


def _batch_file(tmp_path, name: str, *rows) -> Path:
    from tests.conftest import batch

    path = tmp_path / f"{name}.csv"
    batch(*rows).to_csv(path, index=False)
    return path


def test_history_lets_edits_see_earlier_batches(tmp_path, reference, config):
    """G0008 (MUE 1, MAI 2) split over two nightly batches, and a visit on post-op day 10 of
    a 010 procedure (17000) billed in an earlier batch."""
    out = Destination(str(tmp_path / "reports"))
    first = _batch_file(
        tmp_path,
        "monday",
        {"hcpcs_code": "G0008", "claim_id": "M1"},
        {"hcpcs_code": "17000", "claim_id": "M2", "claim_line_start_date": "2025-10-01"},
    )
    second = _batch_file(
        tmp_path,
        "tuesday",
        {"hcpcs_code": "G0008", "claim_id": "T1"},
        {"hcpcs_code": "99213", "claim_id": "T2", "claim_line_start_date": "2025-10-11"},
    )
    a = scrub_file(first, reference, config, out)
    assert "MUE_DAY_POLICY_EXCEEDED" not in a.lines["flags"].iloc[0]
    b = scrub_file(second, reference, config, out)
    assert b.summary["history_lines_seen"] == 2
    assert "MUE_DAY_POLICY_EXCEEDED" in b.lines["flags"].iloc[0]
    assert "GLOBAL_EM_WITHOUT_24" in b.lines["flags"].iloc[1]
    assert b.flags["input_row"].max() == 2  # the earlier batch's lines are not re-flagged

    again = scrub_file(first, reference, config, out)  # a rerun replaces its own history
    assert again.summary["history_lines_seen"] == 2  # tuesday's lines, not monday's twice
    names = sorted(p.name for p in (tmp_path / "reports" / "history").rglob("*.parquet"))
    assert names == ["monday.parquet", "tuesday.parquet"]


def test_unreadable_history_is_skipped_with_a_warning(tmp_path, reference, config, caplog):
    out = Destination(str(tmp_path / "reports"))
    first = _batch_file(tmp_path, "monday", {"hcpcs_code": "G0008", "claim_id": "M1"})
    scrub_file(first, reference, config, out)
    broken = tmp_path / "reports" / "history" / "month=2025-10" / "monday.parquet"
    broken.write_bytes(b"not parquet")
    (broken.parent / "notes.txt").write_text("hello")
    second = _batch_file(tmp_path, "tuesday", {"hcpcs_code": "G0008", "claim_id": "T1"})
    result = scrub_file(second, reference, config, out)
    assert result.summary["history_lines_seen"] == 0
    assert len(result.lines) == 1
    assert "monday.parquet is unreadable" in caplog.text


def test_resubmitted_line_replaces_its_history_copy(tmp_path, reference, config):
    out = Destination(str(tmp_path / "reports"))
    line = {"hcpcs_code": "G0008", "claim_id": "X2"}
    scrub_file(_batch_file(tmp_path, "day1", line), reference, config, out)
    again = scrub_file(_batch_file(tmp_path, "day2", line), reference, config, out)
    assert again.summary["history_lines_seen"] == 1
    assert "MUE_DAY_POLICY_EXCEEDED" not in again.lines["flags"].iloc[0]


def test_a_line_kept_under_two_batch_names_counts_once(tmp_path, reference, config):
    """One file scrubbed as `batch` and `batch-2`: its 99213 (MUE 2 a day) is one unit in
    history, so one more that day is within the MUE."""
    out = Destination(str(tmp_path / "reports"))
    visit = {"hcpcs_code": "99213", "claim_id": "771053930", "patient_id": "910133"}
    b = _batch_file(tmp_path, "b", visit)
    scrub_file(b, reference, config, out, name="batch")
    scrub_file(b, reference, config, out, name="batch-2")
    new = {"hcpcs_code": "99213", "claim_id": "881053930", "patient_id": "910133"}
    result = scrub_file(_batch_file(tmp_path, "c", new), reference, config, out)
    assert result.summary["history_lines_seen"] == 1
    assert list(result.lines["flags"].iloc[0]) == []
    assert result.lines["mue_status"].iloc[0] == "within MUE"


def test_newest_copy_of_a_history_line_is_kept():
    from pipeline.report.history import newest_copies

    past = pd.DataFrame(
        {
            "claim_id": ["A", "A", "B", "A"],
            "claim_line_number": ["1", "1", "1", "2"],
            "patient_key": ["p", "p", "p", "p"],
            "units": [3, 1, 1, 1],
            "run_started_at": ["2025-11-02T00:00:00+00:00", "2025-11-01T00:00:00+00:00", None, ""],
        }
    )
    kept = newest_copies(past)
    assert kept["units"].tolist() == [3, 1, 1]  # A/1 as scrubbed on Nov 2, in store order
    assert kept.index.tolist() == [0, 2, 3]
    older = past.drop(columns="run_started_at")  # files written before the column: first kept
    assert newest_copies(older)["units"].tolist() == [1, 1, 1]


def test_history_warns_about_another_key_and_a_reused_name(tmp_path, reference, caplog):
    from pipeline.config import PipelineConfig

    out = Destination(str(tmp_path / "reports"))
    first = PipelineConfig.from_env({"CLAIMS_PIPELINE_PATIENT_KEY": "old"})
    second = PipelineConfig.from_env({"CLAIMS_PIPELINE_PATIENT_KEY": "new"})
    (tmp_path / "d1").mkdir()
    (tmp_path / "d2").mkdir()
    scrub_file(
        _batch_file(tmp_path / "d1", "claims", {"hcpcs_code": "G0008", "claim_id": "A"}),
        reference,
        first,
        out,
    )
    result = scrub_file(
        _batch_file(tmp_path / "d2", "other", {"hcpcs_code": "G0008", "claim_id": "B"}),
        reference,
        second,
        out,
    )
    assert result.summary["history_lines_seen"] == 0
    assert "1 history line(s) were hashed with another patient key" in caplog.text
    scrub_file(
        _batch_file(tmp_path / "d2", "claims", {"hcpcs_code": "G0008", "claim_id": "C"}),
        reference,
        second,
        out,
    )
    assert "history of batch 'claims' came from" in caplog.text
