"""The orchestrated steps on a local folder store (the DAG tests run them on S3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from pipeline.errors import ClaimBatchError, ConfigError, PipelineError
from pipeline.orchestrate.layout import Layout, history_name, safe_key
from pipeline.orchestrate.merge import merge_summaries, merge_tables
from pipeline.orchestrate.nightly import (
    extract_and_validate,
    finish_run,
    inbox_batches,
    list_new_batches,
    plan_partitions,
    publish_batch,
    resolve_run,
    scrub_partition,
)
from pipeline.orchestrate.settings import DEFAULT_PARTITION_LINES, Settings
from tests.conftest import batch

DAY = "2025-12-01"


@pytest.fixture
def layout(tmp_path, monkeypatch) -> Layout:
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "steps-test")
    return Layout.at(str(tmp_path / "store"))


def drop(layout: Layout, name: str, body: bytes | str) -> None:
    layout.inbox(DAY).write_bytes(name, body.encode() if isinstance(body, str) else body)


def test_settings_from_env():
    settings = Settings.from_env({"CLAIMS_PIPELINE_STORE": "s3://b/p"})
    assert (settings.store, settings.conn_id) == ("s3://b/p", "aws_default")
    assert settings.partition_lines == DEFAULT_PARTITION_LINES == 500_000
    assert Settings.from_env({"CLAIMS_PIPELINE_PARTITION_LINES": "1000"}).partition_lines == 1000
    with pytest.raises(ConfigError, match="CLAIMS_PIPELINE_PARTITION_LINES='many' is not a pos"):
        Settings.from_env({"CLAIMS_PIPELINE_PARTITION_LINES": "many"})


def test_resolve_run():
    start = datetime(2025, 11, 30, 1, 0, tzinfo=UTC)
    after = datetime(2025, 12, 1, 1, 0, tzinfo=UTC)
    assert resolve_run({}, interval_start=start, run_after=after) == {
        "run_date": "2025-11-30",
        "batch": "",
    }
    assert resolve_run(
        {"run_date": "2025-10-02", "batch": " b1 "}, interval_start=start, run_after=after
    ) == {"run_date": "2025-10-02", "batch": "b1"}
    assert resolve_run({}, interval_start=None, run_after=after)["run_date"] == "2025-12-01"
    with pytest.raises(ConfigError, match="'2025-02-30' is not a calendar date"):
        resolve_run({"run_date": "2025-02-30"}, interval_start=None, run_after=after)


def test_keys():
    layout = Layout.at("s3://bucket/claims")
    assert layout.report(DAY, "b1").uri("summary.json") == (
        "s3://bucket/claims/reports/2025-12-01/b1/summary.json"
    )
    assert layout.work(DAY, "b1", "manual__2025-12-01T01:00:00+00:00").root == (
        "s3://bucket/claims/work/2025-12-01/b1/manual__2025-12-01T01_00_00_00_00"
    )
    assert layout.claims_quarantine(DAY, "b1").root.endswith("/quarantine/claims/2025-12-01/b1")
    assert layout.releases.child("RVU26A").root == "s3://bucket/claims/reference/releases/RVU26A"
    assert history_name(DAY, "b1") == "2025-12-01_b1"
    assert safe_key("a/b c") == "a_b_c"
    with pytest.raises(ConfigError, match="pass it as YYYY-MM-DD"):
        layout.inbox("../x")


def test_inbox_names_batches_like_the_cli(layout):
    for name in ("b.csv", "b.parquet", "a.csv.gz", "notes.md", "sub/c.csv"):
        drop(layout, name, "x")
    found = inbox_batches(layout, DAY)
    assert [(b["batch"], b["file"]) for b in found] == [
        ("a", "a.csv.gz"),
        ("b", "b.csv"),
        ("b-2", "b.parquet"),
    ]
    assert found[0]["input"] == layout.inbox(DAY).uri("a.csv.gz")
    assert [b["file"] for b in inbox_batches(layout, DAY, "b-2")] == ["b.parquet"]
    with pytest.raises(PipelineError, match="no batch named 'zz' in .*inbox/2025-12-01/"):
        inbox_batches(layout, DAY, "zz")


def test_new_batches_skip_reported_ones_unless_named(layout):
    drop(layout, "a.csv", "x")
    drop(layout, "b.csv", "x")
    layout.report(DAY, "a").write_json("summary.json", {})
    assert [b["batch"] for b in list_new_batches(layout, DAY)] == ["b"]
    assert [b["batch"] for b in list_new_batches(layout, DAY, "a")] == ["a"]


def test_unreadable_batch_is_quarantined_with_its_reason(layout):
    drop(layout, "bad.csv", "x,y\n1,2\n")
    (listed,) = inbox_batches(layout, DAY)
    with pytest.raises(ClaimBatchError) as raised:
        extract_and_validate(layout, listed, partition_lines=10, run_id="r1")
    where = layout.inbox(DAY).uri("bad.csv")
    assert str(raised.value).startswith(f"{where}: the first row names none of the required")
    quarantine = layout.claims_quarantine(DAY, "bad")
    assert quarantine.list("") == ["bad.csv", "reason.json"]
    reason = json.loads(quarantine.read_bytes("reason.json"))
    assert (reason["batch"], reason["reason_code"], reason["run_id"]) == (
        "bad",
        "claim_batch",
        "r1",
    )
    assert quarantine.read_bytes("bad.csv") == b"x,y\n1,2\n"


def test_empty_batch_is_refused(layout):
    drop(layout, "empty.csv", "claim_id,claim_line_number,claim_line_start_date,hcpcs_code\n")
    (listed,) = inbox_batches(layout, DAY)
    with pytest.raises(ClaimBatchError, match="has a header but no claim lines"):
        extract_and_validate(layout, listed, partition_lines=10, run_id="r1")


def test_batch_over_the_reject_limit_is_refused_as_a_whole(layout):
    """The limit is on the whole batch, before it is split into partitions."""
    rows = [{"claim_id": f"C{i}", "patient_id": f"P{i}", "hcpcs_code": "99213"} for i in range(19)]
    rows.append({"claim_id": "C19", "patient_id": "P19", "hcpcs_code": "9921"})
    drop(layout, "one_bad.csv", batch(*rows).to_csv(index=False))
    (listed,) = inbox_batches(layout, DAY)
    prepared = extract_and_validate(layout, listed, partition_lines=4, run_id="r1")
    assert prepared["lines"] == 20  # 1 of 20 rejected: 5%, within the default limit

    rows.append({"claim_id": "C20", "patient_id": "P20", "hcpcs_code": "992"})
    drop(layout, "two_bad.csv", batch(*rows).to_csv(index=False))
    listed = inbox_batches(layout, DAY, "two_bad")[0]
    with pytest.raises(ClaimBatchError, match=r"failed validation: 2 of 21 lines \(9.5%\)"):
        extract_and_validate(layout, listed, partition_lines=4, run_id="r1")
    assert layout.claims_quarantine(DAY, "two_bad").list("") == ["reason.json", "two_bad.csv"]


def test_steps_scrub_publish_and_rerun(layout):
    rows = [
        {"claim_id": f"C{i}", "patient_id": f"P{i % 3}", "hcpcs_code": "99213"} for i in range(9)
    ]
    drop(layout, "day.csv", batch(*rows).to_csv(index=False))
    (listed,) = list_new_batches(layout, DAY)
    prepared = extract_and_validate(layout, listed, partition_lines=4, run_id="r1")
    assert (prepared["lines"], prepared["partitions"]) == (9, 3)
    parts = plan_partitions([prepared])
    assert [p["part"] for p in parts] == [0, 1, 2]
    reference = {"published": [], "asset_event": None}
    scrubbed = [scrub_partition(layout, p, run_id="r1", reference=reference) for p in parts]
    # three patients hashed into three partitions: one stays empty, and that is fine
    assert [s["lines"] for s in scrubbed] == [3, 0, 6]
    published = publish_batch(layout, prepared, run_id="r1", reference=reference)
    assert published["lines"] == 9
    report = layout.report(DAY, "day")
    summary = json.loads(report.read_bytes("summary.json"))
    assert summary["lines_read"] == 9 and summary["line_status"]["priced"] == 9
    assert summary["partitions"] == 3 and summary["run_id"] == "r1"
    assert summary["totals"]["expected_allowed_cents"] == published["expected_allowed_cents"]
    assert layout.root.child("work").list("") == []
    assert layout.root.list("history") == ["history/month=2025-10/2025-12-01_day.parquet"]
    assert list_new_batches(layout, DAY) == []
    assert finish_run({"run_date": DAY}, [listed], [published])["lines"] == 9

    # a missing partition output stops the publication and says what to do
    with pytest.raises(PipelineError, match="partition 0 of batch day has no output"):
        publish_batch(layout, prepared, run_id="r2", reference=reference)


def test_x12_837p_claims_are_scrubbed_from_the_inbox(layout):
    from pathlib import Path

    sample = Path(__file__).parents[2] / "data/x12/synthetic/houston_2025-11-01.837"
    drop(layout, "houston.837", sample.read_bytes())
    (listed,) = list_new_batches(layout, DAY)
    prepared = extract_and_validate(layout, listed, partition_lines=100, run_id="x1")
    reference = {"published": [], "asset_event": None}
    for part in plan_partitions([prepared]):
        scrub_partition(layout, part, run_id="x1", reference=reference)
    published = publish_batch(layout, prepared, run_id="x1", reference=reference)
    # the same 8 service lines and allowed total as `claims-scrub run` on this file
    assert (published["lines"], published["expected_allowed_cents"]) == (8, 66793)


def test_finish_names_the_batches_without_report():
    listed = [{"batch": "a"}, {"batch": "b"}, {"batch": "c"}]
    published = [{"batch": "b", "lines": 3, "dollars_at_risk_cents": 5}]
    with pytest.raises(PipelineError, match=r"2 batch\(es\) of 2025-12-01 got no report: a, c"):
        finish_run({"run_date": DAY}, listed, published)


def test_merge_summaries_adds_up():
    def part(lines, priced, risk, newest):
        return {
            "run_id": "r",
            "run_started_at": f"2025-12-01T01:0{lines}:00+00:00",
            "lines_read": lines,
            "lines_written": lines,
            "lines_flagged": 1,
            "claims": 2,
            "history_lines_seen": 0,
            "conservation_ok": True,
            "line_status": {"priced": priced, "rejected": lines - priced},
            "flags_by_rule": {"B": 1, "A": lines},
            "flags_by_severity": {"info": lines},
            "totals": {"dollars_at_risk_cents": risk},
            "releases_used": {"RVU25D": {"lines": priced, "in_force_from": "2025-10-01"}},
            "ncci_release": {"release": "2024Q2", "newest_date_of_service": newest},
            "timings_seconds": {"price": 0.5},
        }

    merged = merge_summaries([part(3, 2, 150, "2025-10-02"), part(5, 5, 1, "2025-11-30")])
    assert merged["lines_read"] == merged["lines_written"] == 8
    assert merged["line_status"] == {"priced": 7, "rejected": 1}
    assert merged["flags_by_rule"] == {"A": 8, "B": 2}
    assert merged["totals"] == {"dollars_at_risk_cents": 151}
    assert merged["releases_used"] == {"RVU25D": {"lines": 7, "in_force_from": "2025-10-01"}}
    assert merged["ncci_release"]["newest_date_of_service"] == "2025-11-30"
    assert merged["run_started_at"] == "2025-12-01T01:03:00+00:00"
    assert merged["timings_seconds"] == {"price": 1.0}


def test_merge_tables_restores_order_and_ranks():
    def lines(rows):
        return pa.table({"input_row": pa.array(rows, pa.int64())})

    def claims(ids, risks):
        return pa.table(
            {
                "rank": pa.array(range(1, len(ids) + 1), pa.int64()),
                "claim_id": ids,
                "risk_score": risks,
                "dollars_at_risk": risks,
                "errors": [0] * len(ids),
            }
        )

    merged = merge_tables(
        [
            {"lines": lines([1, 4]), "flags": lines([4, 4]), "claims": claims(["a", "b"], [9, 1])},
            {"lines": lines([2, 3]), "flags": lines([2]), "claims": claims(["c"], [5])},
        ]
    )
    assert merged["lines"]["input_row"].to_pylist() == [1, 2, 3, 4]
    assert merged["flags"]["input_row"].to_pylist() == [2, 4, 4]
    assert merged["claims"]["claim_id"].to_pylist() == ["a", "c", "b"]
    assert merged["claims"]["rank"].to_pylist() == [1, 2, 3]


def test_cli_nightly_runs_the_same_steps(layout, capsys, caplog):
    from pipeline.cli import main

    drop(layout, "bad.csv", "x,y\n1,2\n")
    drop(layout, "good.csv", batch({"hcpcs_code": "99213"}).to_csv(index=False))
    store = layout.root.root
    assert main(["nightly", "--store", store, "--date", DAY, "--run-id", "cli-1"]) == 1
    captured = capsys.readouterr()
    assert "2025-12-01: 1 batch(es) scrubbed, 1 lines, dollars at risk $0.00" in captured.out
    assert "claims-scrub: no report for bad; see the messages above" in captured.err
    assert any(
        r.getMessage().startswith("batch bad got no report: ")
        and "the first row names none of the required columns" in r.getMessage()
        for r in caplog.records
    )
    summary = json.loads(layout.report(DAY, "good").read_bytes("summary.json"))
    assert (summary["run_id"], summary["lines_read"], summary["reference"]["published"]) == (
        "cli-1",
        1,
        [],
    )
    assert layout.claims_quarantine(DAY, "bad").list("") == ["bad.csv", "reason.json"]
    assert main(["nightly", "--store", store, "--date", DAY, "--batch", "good"]) == 0
    assert "1 batch(es) scrubbed" in capsys.readouterr().out
    assert main(["nightly", "--store", store, "--date", "2025-13-01"]) == 2
    assert "run date '2025-13-01' is not a calendar date" in capsys.readouterr().err


def test_cli_nightly_missing_or_empty_inbox_and_bad_partition_lines(layout, capsys, tmp_path):
    from pipeline.cli import main

    store = layout.root.root
    assert main(["nightly", "--store", store + "-typo", "--date", DAY]) == 2
    err = capsys.readouterr().err
    assert f"claims-scrub: the store {store}-typo does not exist, so there is no inbox" in err
    assert "check --store (or CLAIMS_PIPELINE_STORE)" in err

    layout.root.write_bytes("reports/.keep", b"")  # the store exists, the day's inbox not
    assert main(["nightly", "--store", store, "--date", DAY]) == 2
    err = capsys.readouterr().err
    assert f"claims-scrub: the inbox folder {store}/inbox/{DAY}/ does not exist; put" in err

    (tmp_path / "store" / "inbox" / DAY).mkdir(parents=True)
    assert main(["nightly", "--store", store, "--date", DAY]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        f"claims-scrub: warning: the inbox {store}/inbox/{DAY}/ is empty: no claim files for "
        f"{DAY}, nothing was scrubbed" in captured.err
    )
    assert not (tmp_path / "store" / "reports" / DAY).exists()

    drop(layout, "notes.txt", "not a batch")
    assert main(["nightly", "--store", store, "--date", DAY]) == 0
    assert f"0 batch(es) scrubbed, 0 lines, dollars at risk $0.00; no new batch in {store}" in (
        capsys.readouterr().out
    )

    for bad in ("0", "-5"):
        assert main(["nightly", "--store", store, "--date", DAY, "--partition-lines", bad]) == 2
        assert (
            f"claims-scrub: --partition-lines {bad} is not a number of lines; give 1 or more"
            in (capsys.readouterr().err)
        )


def _folders(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir())


def test_local_store_keeps_no_empty_folders(layout, tmp_path):
    """A nightly run leaves no work/ folders; a batch redone after a failure leaves no
    quarantine/ folders; deletes never remove the store root or folders still holding files."""
    from pipeline.orchestrate.nightly import run_day

    root = tmp_path / "store"
    drop(layout, "good.csv", "x,y\n1,2\n")  # fails validation: quarantined
    assert run_day(layout, DAY, partition_lines=1, run_id="r1")["failed"] == ["good"]
    assert layout.claims_quarantine(DAY, "good").list("") == ["good.csv", "reason.json"]
    rows = [{"hcpcs_code": "99213", "claim_id": c} for c in ("a", "b", "c")]
    drop(layout, "good.csv", batch(*rows).to_csv(index=False))
    result = run_day(layout, DAY, batch="good", partition_lines=1, run_id="r2")
    assert (result["batches"], result["lines"], result["failed"]) == (1, 3, [])
    assert not (root / "work").exists()
    assert not (root / "quarantine").exists()
    assert _folders(root) == [
        "history",
        "history/month=2025-10",
        "inbox",
        f"inbox/{DAY}",
        "reports",
        f"reports/{DAY}",
        f"reports/{DAY}/good",
    ]

    store = layout.root
    store.child("a/b").write_bytes("c/one.txt", b"1")
    store.child("a/b").write_bytes("c/two.txt", b"2")
    store.child("a/b").delete("c/one.txt")
    assert (root / "a/b/c/two.txt").exists()
    store.child("a/b").delete("c/two.txt")
    assert not (root / "a").exists() and root.is_dir()
    store.write_bytes("top.txt", b"t")
    store.delete("top.txt")
    assert root.is_dir()  # the store root itself stays


def test_unexpected_error_quarantines_the_batch_and_the_others_go_on(layout, monkeypatch):
    """A bug in one batch's checks is reported and quarantined; the next batch is scrubbed."""
    from pipeline.orchestrate import nightly

    drop(layout, "a_first.csv", batch({"hcpcs_code": "99213"}).to_csv(index=False))
    drop(layout, "z_second.csv", batch({"hcpcs_code": "99214"}).to_csv(index=False))
    real_check = nightly.check_batch

    def broken_for_first(batch_file, source):
        if "a_first" in source:
            raise TypeError("boolean value of NA is ambiguous")
        return real_check(batch_file, source)

    monkeypatch.setattr(nightly, "check_batch", broken_for_first)
    result = nightly.run_day(layout, DAY, partition_lines=10, run_id="r1")
    assert result["failed"] == ["a_first"]
    reason = json.loads(layout.claims_quarantine(DAY, "a_first").read_bytes("reason.json"))
    assert "internal error (TypeError: boolean value of NA is ambiguous)" in reason["reason"]
    assert layout.claims_quarantine(DAY, "z_second").list("") == []
