"""Work queue, underpayment summary, run health and manifest: totals reconcile to the cent."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.extract.ncci import bundled_ncci
from pipeline.report import finance
from pipeline.report.html import money
from pipeline.report.settings import fix_rules
from pipeline.report.stamp import METADATA_KEY
from pipeline.report.work_queue import build_work_queue, totals
from pipeline.scrub.rules import rule_catalog

CENTS = Decimal("0.01")


def dollars(values) -> int:
    """Exact sum of report decimals as integer cents (nulls skipped)."""
    total = sum((Decimal(v) for v in values if v is not None and not pd.isna(v)), Decimal(0))
    return int(total / CENTS)


def test_work_queue_dollars_equal_the_line_reports_flagged_dollars(sample_report):
    lines = pd.read_parquet(sample_report.folder / "lines.parquet")
    queue = pd.read_parquet(sample_report.folder / "work_queue.parquet")
    flagged = dollars(lines.loc[lines["flag_count"] > 0, "dollars_at_risk"])
    assert flagged == dollars(lines["dollars_at_risk"]) == 9_585_970  # $95,859.70
    assert dollars(queue["dollars_at_risk"]) == 9_585_970
    assert sample_report.result.summary["totals"]["dollars_at_risk_cents"] == 9_585_970
    assert (len(queue), queue["claim_id"].nunique()) == (2523, 1825)
    assert dollars(queue["dollars_recovered"]) == 5_024_831  # $50,248.31
    assert (queue["dollars_recovered"] <= queue["dollars_at_risk"]).all()

    # Line by line: the queue carries the line report's figure, and leaves out only lines
    # with no dollars and no warning or error flag.
    merged = queue.merge(lines, on="input_row", suffixes=("", "_line"))
    assert (merged["dollars_at_risk"] == merged["dollars_at_risk_line"]).all()
    rest = lines[~lines["input_row"].isin(queue["input_row"])]
    assert (rest["dollars_at_risk"] == 0).all()
    assert set(rest["worst_severity"]) <= {"", "info"}

    # Claims in order of dollars at risk; each claim's figure is the claim report's.
    assert queue["claim_dollars_at_risk"].is_monotonic_decreasing
    assert queue["queue_rank"].is_monotonic_increasing
    claims = pd.read_parquet(sample_report.folder / "claims.parquet").set_index("claim_id")
    first = queue.drop_duplicates("claim_id").set_index("claim_id")
    assert (first["claim_dollars_at_risk"] == claims.loc[first.index, "dollars_at_risk"]).all()
    top = queue.iloc[0]
    assert (top["claim_id"], top["claim_dollars_at_risk"]) == ("533407", Decimal("4262.74"))

    # Totals by flag type, payer and provider each add up to the queue's total.
    sums = totals(build_work_queue(sample_report.result.lines, sample_report.result.flags))
    for key in ("flag", "payer", "provider"):
        assert int(sums[key]["dollars_at_risk_cents"].sum()) == 9_585_970, key
    by_flag = sums["flag"].set_index("flag")["dollars_at_risk_cents"]
    assert (by_flag["OVERPAID"], by_flag["UNDERCHARGED"], by_flag["UNDERPAID"]) == (
        2_553_718,
        2_451_611,
        388_803,
    )

    # What a biller reads: the reason and a fix naming the line, no patient identifiers.
    row = queue[(queue["claim_id"] == "1100094") & (queue["claim_line_number"] == "2")].iloc[0]
    assert list(row["flags"]) == [
        "PTP_MODIFIER_NEEDED",
        "MUE_DAY_CLINICAL_EXCEEDED",
        "ADDON_WITHOUT_PRIMARY",
        "OVERPAID",
    ]
    assert row["fix"].startswith(
        "If 93613 was a distinct service (other site, session or encounter), add modifier XU "
    )
    assert "to line 2 and document why; otherwise remove line 2. | " in row["fix"]
    assert (row["dollars_at_risk"], row["dollars_recovered"]) == (
        Decimal("322.42"),
        Decimal("322.42"),
    )
    assert not {"patient_id", "member_id", "patient_key"} & set(queue.columns)
    assert list(queue.columns) == [
        "queue_rank",
        "claim_id",
        "claim_line_number",
        "input_row",
        "payer",
        "provider_npi",
        "date_of_service",
        "procedure_code",
        "modifiers",
        "line_status",
        "worst_severity",
        "flags",
        "primary_flag",
        "reason",
        "fix",
        "billed",
        "expected_allowed",
        "dollars_at_risk",
        "dollars_recovered",
        "claim_dollars_at_risk",
        "risk_note",
        "run_id",
        "run_started_at",
    ]  # as documented in docs/reports.md


def test_finance_totals_equal_the_line_report_sums(sample_report):
    lines = pd.read_parquet(sample_report.folder / "lines.parquet")
    flags = pd.read_parquet(sample_report.folder / "flags.parquet")
    summary = pd.read_parquet(sample_report.folder / "finance_summary.parquet")
    expected = {
        "billed": 27_414_742,
        "expected_allowed": 17_646_107,
        "expected_payment": 13_834_478,
        "paid": 22_723_683,
    }
    for col, value in expected.items():
        assert dollars(summary[col]) == dollars(lines[col]) == value, col
        assert sample_report.result.summary["totals"][f"{col}_cents"] == value
    assert dollars(summary["variance"]) == dollars(lines["paid_variance"]) == 1_818_846
    assert int(summary["lines"].sum()) == len(lines) == 4870
    assert int(summary["paid_lines"].sum()) == int(lines["paid"].notna().sum()) == 4870
    under = flags[flags["rule_code"] == "UNDERPAID"]
    over = flags[flags["rule_code"] == "OVERPAID"]
    assert (int(summary["underpaid_lines"].sum()), dollars(summary["underpaid"])) == (
        len(under),
        dollars(under["dollars_at_risk"]),
    )
    assert (len(under), dollars(under["dollars_at_risk"])) == (383, 972_373)
    assert (int(summary["overpaid_lines"].sum()), dollars(summary["overpaid"])) == (
        len(over),
        dollars(over["dollars_at_risk"]),
    )
    assert (len(over), dollars(over["dollars_at_risk"])) == (848, 2_784_909)
    assert len(summary) == 3303
    assert summary[["payer", "procedure_code", "service_month"]].duplicated().sum() == 0

    frame = finance.finance_summary(sample_report.result.lines, sample_report.result.flags)
    top = finance.top_underpaid(frame, "procedure_code", 3)
    assert top["procedure_code"].tolist() == ["99214", "99213", "93880"]
    assert top["underpaid_cents"].tolist() == [194_686, 119_754, 45_240]
    assert finance.totals(frame)["underpaid_cents"] == 972_373


def test_every_report_is_stamped_and_listed_in_the_manifest(sample_report):
    folder = sample_report.folder
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["run_id"] == "r7"
    assert [r["release"] for r in manifest["fee_schedule_releases"]] == ["RVU25A", "RVU25D"]
    assert (manifest["ncci_release"], manifest["zip_locality_file"]) == (
        "2024Q2",
        "ZIP5_OCT2025.txt",
    )
    listed = {o["object"]: o for o in manifest["objects"]}
    on_disk = sorted(p for p in folder.iterdir() if p.name != "manifest.json")
    assert sorted(listed) == sorted(
        [str(p) for p in on_disk] + [str(p) for p in (sample_report.root / "runs").rglob("*.json")]
    )
    for path in on_disk:
        entry = listed[str(path)]
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), path.name
        assert entry["bytes"] == path.stat().st_size
    rows = {p.rsplit("/", 1)[1]: o["rows"] for p, o in listed.items()}
    assert rows["lines.parquet"] == rows["lines.csv"] == 4870
    assert rows["work_queue.parquet"] == rows["work_queue.csv"] == 2523
    assert rows["finance_summary.parquet"] == 3303
    assert rows["work_queue.html"] is None

    for name in ("work_queue", "finance_summary", "denial_patterns"):
        table = pq.read_table(folder / f"{name}.parquet")
        stamp = json.loads(table.schema.metadata[METADATA_KEY])
        assert (stamp["run_id"], stamp["batch"]) == ("r7", "tuva_professional_2025"), name
        assert "run_id" in table.column_names
        header = (folder / f"{name}.csv").read_text().splitlines()[0]
        assert '"run_id"' in header.split(","), name
    for page in ("work_queue.html", "finance.html", "run_health.html"):
        text = (folder / page).read_text()
        assert "run <b>r7</b>" in text, page
        assert "RVU25A (GPCI RVU25D), RVU25D (GPCI RVU25D), NCCI 2024Q2, ZIP5_OCT2025.txt" in text
        assert "http://" not in text and "https://" not in text, page  # nothing from outside
    assert text.count("data:image/png;base64,") == 0
    assert (folder / "finance.html").read_text().count('src="data:image/png;base64,') == 2
    health = json.loads((folder / "run_health.json").read_text())
    assert health["run_id"] == "r7"


def test_run_health_counts_and_durations(sample_report):
    health = json.loads((sample_report.folder / "run_health.json").read_text())
    assert health["counts"] == {
        "lines_read": 4870,
        "rejected": 4,
        "priced": 2090,
        "not_payable": 516,
        "not_priced": 2260,
        "flagged_lines": 4744,
        "warning_or_error_lines": 2523,
        "error_lines": 578,
        "claims": 2869,
    }
    assert set(health["durations_seconds"]) == {
        "read",
        "normalize",
        "validate",
        "price",
        "edits",
        "report",
        "write",
        "reports",
    }
    assert health["inputs"][0]["input"].endswith("tuva_professional_2025.csv.gz")
    assert health["previous_run"] is None and health["alerts"] == []


def _write_batch(path, rows: list[dict[str, str]]):
    from tests.conftest import batch

    batch(*rows).to_csv(path, index=False)
    return path


def test_run_health_calls_out_a_jump_in_rejects(tmp_path, reference, config):
    from pipeline.report.storage import Destination
    from pipeline.run import scrub_file

    out = Destination(str(tmp_path / "out"))
    good = [{"hcpcs_code": "99213", "claim_id": f"G{i}", "patient_id": f"P{i}"} for i in range(10)]
    monday = _write_batch(tmp_path / "monday.csv", good)
    scrub_file(monday, reference, config, out, run_id="monday-run")
    bad = good[:7] + [
        {"hcpcs_code": "99213", "claim_id": f"B{i}", "claim_line_start_date": "2025-13-40"}
        | {"patient_id": f"Q{i}"}
        for i in range(3)
    ]
    tuesday = _write_batch(tmp_path / "tuesday.csv", bad)
    result = scrub_file(tuesday, reference, config, out, run_id="tuesday-run")
    health = json.loads((tmp_path / "out" / "tuesday" / "run_health.json").read_text())
    assert health["previous_run"]["run_id"] == "monday-run"
    assert health["previous_run"]["batches"] == ["monday"]
    assert health["alerts"] == [
        "Lines rejected jumped to 30.0% of lines read (3) from 0.0% (0) in run monday-run.",
        "Lines flagged (warning or error) jumped to 30.0% of lines read (3) from 0.0% (0) in "
        "run monday-run.",
        "Lines with an error flag jumped to 30.0% of lines read (3) from 0.0% (0) in run "
        "monday-run.",
    ]
    assert result.summary["run_health_alerts"] == health["alerts"]
    page = (tmp_path / "out" / "tuesday" / "run_health.html").read_text()
    assert '<div class="alert">Lines rejected jumped to 30.0%' in page

    # A third run compares with the second only; the same rates again raise nothing.
    wednesday = _write_batch(tmp_path / "wednesday.csv", bad)
    scrub_file(wednesday, reference, config, out, run_id="wednesday-run")
    health = json.loads((tmp_path / "out" / "wednesday" / "run_health.json").read_text())
    assert health["previous_run"]["run_id"] == "tuesday-run"
    assert health["alerts"] == []


def test_no_history_keeps_no_run_record(tmp_path, reference, config):
    from pipeline.report.storage import Destination
    from pipeline.run import scrub_file

    path = _write_batch(tmp_path / "adhoc.csv", [{"hcpcs_code": "99213"}])
    scrub_file(path, reference, config, Destination(str(tmp_path / "o")), use_history=False)
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["adhoc"]
    health = json.loads((tmp_path / "o" / "adhoc" / "run_health.json").read_text())
    assert health["previous_run"] is None


def test_fix_names_the_modifier_and_line_and_what_it_recovers(scrub):
    result = scrub(
        {"hcpcs_code": "94726", "claim_id": "C1"},
        {"hcpcs_code": "94727", "claim_id": "C1"},
        {"hcpcs_code": "99213", "claim_id": "C2", "patient_id": "P2", "claim_line_number": "1"},
        {"hcpcs_code": "17000", "claim_id": "C2", "patient_id": "P2", "claim_line_number": "2"},
        ncci=bundled_ncci(),
    )
    queue = build_work_queue(result.lines, result.flags).set_index("claim_id")
    assert queue.index.tolist() == ["C2", "C1"]  # the visit risks more than the lung test
    lung, visit = queue.loc["C1"], queue.loc["C2"]
    assert (lung["claim_line_number"], list(lung["flags"])) == ("2", ["PTP_MODIFIER_NEEDED"])
    assert lung["fix"] == (
        "If 94727 was a distinct service (other site, session or encounter), add modifier XU "
        "(or 59, XS, XE, XP, or an anatomic modifier such as RT/LT) to line 2 and document "
        "why; otherwise remove line 2."
    )
    allowed = result.lines.set_index("procedure_code")["expected_allowed_cents"]
    assert lung["dollars_at_risk_cents"] == lung["dollars_recovered_cents"] == allowed["94727"]
    assert allowed["94727"] == 4415  # the line report's figure (RVU25D, Houston)
    # An E/M visit takes 25, never XU.
    assert list(visit["flags"]) == ["PTP_MODIFIER_NEEDED", "GLOBAL_EM_WITHOUT_25"]
    assert visit["fix"] == (
        "If the visit 99213 was significant and separately identifiable, add modifier 25 to "
        "line 1 and document it; otherwise remove line 1. | Add modifier 25 to line 1 (99213) "
        "if the visit was significant and separately identifiable, and document it; otherwise "
        "remove line 1."
    )
    assert visit["dollars_recovered_cents"] == visit["dollars_at_risk_cents"] == allowed["99213"]
    assert visit["claim_dollars_at_risk_cents"] == allowed["99213"] == 9100


def test_money_is_exact():
    assert [money(v) for v in (0, 5, -5, 123456, -100000001, None)] == [
        "$0.00",
        "$0.05",
        "-$0.05",
        "$1,234.56",
        "-$1,000,000.01",
        "",
    ]


def test_fixes_name_real_rules_and_only_rules_with_dollars_recover():
    rules = fix_rules()
    catalog = rule_catalog()
    assert rules.recovers_all <= set(catalog)
    assert set(rules.fixes) <= set(catalog)
    for code in rules.recovers_all:
        assert not catalog[code].dollars_at_risk.startswith("none"), code
    assert "{line}" in rules.fix_template("PTP_MODIFIER_NEEDED")
    assert rules.fix_template("POS_UNKNOWN") == catalog["POS_UNKNOWN"].action


@pytest.mark.parametrize("name", ["work_queue.csv", "finance_summary.csv"])
def test_reports_hold_no_patient_identifiers(sample_report, name):
    header = (sample_report.folder / name).read_text().splitlines()[0].split(",")
    assert not {"patient_id", "member_id", "patient_key", "birth_date"} & set(header)


def test_finance_rows_by_payer_code_and_month(scrub):
    result = scrub(
        {"hcpcs_code": "99213", "paid_amount": "50.00"},
        {"hcpcs_code": "99213", "claim_line_start_date": "2025-11-02", "charge_amount": "80.00"},
        {"hcpcs_code": "99213", "claim_line_start_date": "not a date", "charge_amount": "12.34"},
        {"hcpcs_code": "99214", "payer": "Other Payer", "charge_amount": "1.00"},
    )
    frame = finance.finance_summary(result.lines, result.flags)
    got = frame[["payer", "procedure_code", "service_month", "lines", "billed_cents"]]
    assert got.astype(object).where(got.notna(), None).values.tolist() == [
        ["Medicare Part B", "99213", "2025-10", 1, 500000],
        ["Medicare Part B", "99213", "2025-11", 1, 8000],
        ["Medicare Part B", "99213", None, 1, 1234],
        ["Other Payer", "99214", "2025-10", 1, 100],
    ]
    first = frame.iloc[0]
    # 99213 in Houston is $91.00 allowed; paid $50.00 against the expected payment.
    assert (first["expected_allowed_cents"], first["paid_cents"], first["paid_lines"]) == (
        9100,
        5000,
        1,
    )
    assert first["underpaid_lines"] == 1
    assert first["underpaid_cents"] == first["expected_payment_cents"] - 5000
    assert pd.isna(frame.iloc[1]["paid_cents"]) and frame.iloc[1]["paid_lines"] == 0


@pytest.mark.parametrize(
    ("run_id", "folder"),
    [
        pytest.param("20251201T020000Z-0f57b9", "20251201T020000Z-0f57b9", id="default-id"),
        pytest.param("monday run", "20251201T020005Z_monday_run", id="own-id"),
    ],
)
def test_run_folder_names_the_time_once(run_id, folder):
    from pipeline.report.run_health import run_folder

    assert run_folder(run_id, "2025-12-01T02:00:05+00:00") == folder


def test_previous_run_is_found_in_old_and_new_folder_names(tmp_path):
    from pipeline.report.run_health import COUNTS, previous_run, save_record
    from pipeline.report.storage import Destination

    root = Destination(str(tmp_path))

    def record(run_id: str, started: str, batch: str, lines: int) -> dict:
        counts = {"lines_read": lines, "rejected": 1}
        return {"run_id": run_id, "run_started_at": started, "batch": batch, "counts": counts}

    # A run recorded before the folder name was shortened, with two batches.
    old = "20251130T020000Z-aaaaaa"
    for batch, started in (("a", "2025-11-30T02:00:00+00:00"), ("b", "2025-11-30T02:00:07+00:00")):
        when = started[:19].replace("-", "").replace(":", "") + "Z"
        (tmp_path / "runs" / f"{when}_{old}").mkdir(parents=True, exist_ok=True)
        (tmp_path / "runs" / f"{when}_{old}" / f"{batch}.json").write_text(
            json.dumps(record(old, started, batch, 10))
        )
    today = record("20251201T020000Z-bbbbbb", "2025-12-01T02:00:00+00:00", "a", 5)
    assert previous_run(root, today) == {
        "run_id": old,
        "run_started_at": "2025-11-30T02:00:00+00:00",
        "batches": ["a", "b"],
        "counts": {c: (20 if c == "lines_read" else 2 if c == "rejected" else 0) for c in COUNTS},
    }
    save_record(root, today)
    assert (tmp_path / "runs" / "20251201T020000Z-bbbbbb" / "a.json").exists()
    later = record("20251202T020000Z-cccccc", "2025-12-02T02:00:00+00:00", "a", 5)
    assert previous_run(root, later)["run_id"] == "20251201T020000Z-bbbbbb"
