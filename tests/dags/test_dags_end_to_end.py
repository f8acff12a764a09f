"""The DAGs run with dag.test() against the test S3 server (SeaweedFS), through the
aws_default connection, on the bundled real sample batch."""

from __future__ import annotations

import io
import json
from unittest import mock

import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from pipeline.cli import main
from pipeline.columns import HISTORY
from pipeline.extract.releases import bundled_path
from pipeline.orchestrate import airflow_support
from tests.conftest import batch
from tests.pipeline.extract.test_releases import _cms_2026_zip

SAMPLE = "tuva_professional_2025"
HISTORY_COLUMNS = [*HISTORY, "batch", "run_id", "key_id", "input"]
SAMPLE_FILE = bundled_path(f"samples/{SAMPLE}.csv.gz")
REPORT_FILES = [
    "claims.csv",
    "claims.parquet",
    "flags.csv",
    "flags.parquet",
    "lines.csv",
    "lines.parquet",
    "summary.json",
]
RUN_COLUMNS = ["run_id", "run_started_at"]
RUN_SUMMARY_KEYS = ["run_id", "run_started_at", "timings_seconds"]
# The bundled sample scrubbed with the bundled 2025 releases (README figures, exact cents).
SAMPLE_TOTALS = {
    "billed_cents": 27414742,
    "expected_allowed_cents": 17646107,
    "paid_cents": 22723683,
    "expected_payment_cents": 13834478,
    "dollars_at_risk_cents": 9585970,
}


def objects(client, bucket: str, prefix: str = "") -> dict[str, bytes]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    return {k: client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def without_run(key: str, data: bytes):
    """The object with its run id and run times taken out, for comparing two runs."""
    if key.endswith(".parquet"):
        table = pq.read_table(io.BytesIO(data))
        return table.drop_columns([c for c in RUN_COLUMNS if c in table.column_names])
    if key.endswith(".csv"):
        table = pcsv.read_csv(io.BytesIO(data))
        return table.drop_columns([c for c in RUN_COLUMNS if c in table.column_names])
    if key.endswith(".json"):
        payload = json.loads(data)
        for name in RUN_SUMMARY_KEYS:
            payload.pop(name, None)
        return payload
    return data


def states(dag_run) -> dict[tuple[str, int], str]:
    return {(ti.task_id, ti.map_index): ti.state for ti in dag_run.get_task_instances()}


def run_nightly(dagbag, **params):
    """dag.test() of the nightly DAG with every param given: in-process runs share the
    task objects, so a param left out would keep the previous run's value."""
    conf = {"run_date": "", "batch": "", "partition_lines": 0, **params}
    return dagbag.dags["claims_scrub_nightly"].test(run_conf=conf)


def land_release(client, bucket: str, tmp_path) -> None:
    zipped = _cms_2026_zip(tmp_path)
    client.put_object(Bucket=bucket, Key="reference/landing/RVU26A.zip", Body=zipped.read_bytes())


def test_nightly_end_to_end(airflow_db, dagbag, store, s3_server, tmp_path):
    client = s3_server.client()
    land_release(client, store, tmp_path)
    refresh = dagbag.dags["cms_reference_refresh"].test()
    assert refresh.state == "success"
    client.put_object(
        Bucket=store, Key=f"inbox/2025-12-01/{SAMPLE}.csv.gz", Body=SAMPLE_FILE.read_bytes()
    )
    other = batch({"hcpcs_code": "99213"}, {"hcpcs_code": "71046"}).to_csv(index=False)
    client.put_object(Bucket=store, Key="inbox/2025-12-01/clinic.csv", Body=other.encode())

    first = run_nightly(dagbag, run_date="2025-12-01", partition_lines=2500)
    assert first.state == "success"
    assert set(states(first).values()) == {"success"}
    labels = sorted(ti.rendered_map_index for ti in first.get_task_instances() if ti.map_index >= 0)
    assert labels == sorted(
        ["clinic", SAMPLE] * 2  # validate, publish
        + ["clinic part 1/1", f"{SAMPLE} part 1/2", f"{SAMPLE} part 2/2"]  # scrub_partition
    )
    after_first = objects(client, store)
    prefix = f"reports/2025-12-01/{SAMPLE}/"
    assert sorted(k[len(prefix) :] for k in after_first if k.startswith(prefix)) == REPORT_FILES
    assert not [k for k in after_first if k.startswith(("work/", "quarantine/"))]
    assert "reference/landing/RVU26A.zip" not in after_first
    history = sorted(k for k in after_first if k.startswith("history/"))
    assert len(history) == 13
    assert [k for k in history if "clinic" in k] == [
        "history/month=2025-10/2025-12-01_clinic.parquet"
    ]

    summary = json.loads(after_first[prefix + "summary.json"])
    assert summary["batch"] == SAMPLE and summary["partitions"] == 2
    assert summary["input"] == f"s3://{store}/inbox/2025-12-01/{SAMPLE}.csv.gz"
    assert summary["lines_read"] == summary["lines_written"] == 4870
    assert summary["conservation_ok"] is True
    assert summary["totals"] == SAMPLE_TOTALS
    assert summary["claims"] == 2869 and summary["lines_flagged"] == 4744
    # the run records the release cms_reference_refresh published, and its asset event
    assert [r["release"] for r in summary["reference"]["published"]] == ["RVU26A"]
    assert summary["reference"]["asset_event"]["extra"]["release"] == "RVU26A"
    loaded = [r["release"] for r in summary["releases_loaded"]]
    assert loaded == ["RVU25A", "RVU25D", "RVU26A"]
    assert summary["releases_loaded"][2]["source"] == (
        f"s3://{store}/reference/releases/RVU26A/source/RVU26A.zip"
    )
    assert sorted(summary["releases_used"]) == ["RVU25A", "RVU25D"]

    # The same batch through the CLI (one partition, bundled releases): the same report.
    cli_out = tmp_path / "cli"
    assert main(["run", str(SAMPLE_FILE), "--out", str(cli_out), "-q"]) == 0
    cli_summary = json.loads((cli_out / SAMPLE / "summary.json").read_text())
    for key in ("totals", "line_status", "flags_by_rule", "lines_flagged", "claims"):
        assert summary[key] == cli_summary[key], key
    for name in ("lines", "claims", "flags"):
        ours = without_run(f"{name}.parquet", after_first[f"{prefix}{name}.parquet"])
        theirs = without_run(f"{name}.parquet", (cli_out / SAMPLE / f"{name}.parquet").read_bytes())
        assert ours.equals(theirs), name
    # The history the DAG keeps is the CLI's too (rows of two partitions, so sorted here).
    key = [("claim_id", "ascending"), ("claim_line_number", "ascending")]
    same = [c for c in HISTORY_COLUMNS if c not in ("batch", "run_id", "input")]
    for month in ("2025-01", "2025-12"):
        ours = pq.read_table(
            io.BytesIO(after_first[f"history/month={month}/2025-12-01_{SAMPLE}.parquet"])
        )
        theirs = pq.read_table(cli_out / "history" / f"month={month}" / f"{SAMPLE}.parquet")
        assert ours.schema.remove_metadata().equals(theirs.schema.remove_metadata()), month
        assert ours.select(same).sort_by(key).equals(theirs.select(same).sort_by(key)), month
        assert set(ours["input"].to_pylist()) == {summary["input"]}

    # A rerun of the batch rewrites its objects with the same content and nothing else.
    rerun = run_nightly(dagbag, run_date="2025-12-01", batch=SAMPLE, partition_lines=2500)
    assert rerun.state == "success"
    after_rerun = objects(client, store)
    assert sorted(after_rerun) == sorted(after_first)
    rewritten = [k for k in after_first if after_rerun[k] != after_first[k]]
    assert rewritten and all(SAMPLE in k for k in rewritten)  # the clinic batch is untouched
    for key, data in after_first.items():
        assert without_run(key, after_rerun[key]) == without_run(key, data), key
    rerun_summary = json.loads(after_rerun[prefix + "summary.json"])
    assert rerun_summary["run_id"] == rerun.run_id != summary["run_id"] == first.run_id

    # A run of the day without the batch parameter finds nothing new and changes nothing.
    again = run_nightly(dagbag, run_date="2025-12-01")
    assert again.state == "success"
    assert [k for k in states(again) if k[0] == "validate"] == [("validate", -1)]
    assert objects(client, store) == after_rerun


def test_bad_batch_is_quarantined_and_named(airflow_db, dagbag, store, s3_server):
    client = s3_server.client()
    client.put_object(Bucket=store, Key="inbox/2025-12-02/bad.csv", Body=b"x,y\n1,2\n")
    good = batch({"hcpcs_code": "99213"}, {"hcpcs_code": "99214"}).to_csv(index=False)
    client.put_object(Bucket=store, Key="inbox/2025-12-02/good.csv", Body=good.encode())
    with mock.patch.object(airflow_support, "logger") as log:
        dag_run = run_nightly(dagbag, run_date="2025-12-02")
    assert dag_run.state == "failed"
    tis = {(ti.task_id, ti.map_index): ti for ti in dag_run.get_task_instances()}
    bad = tis[("validate", 0)]
    assert (bad.state, bad.try_number, bad.rendered_map_index) == ("failed", 1, "bad")
    assert tis[("validate", 1)].state == "success"
    assert [ti.state for k, ti in tis.items() if k[0] == "publish"] == ["success"]
    assert tis[("finish", -1)].state == "failed"

    reason = json.loads(
        client.get_object(Bucket=store, Key="quarantine/claims/2025-12-02/bad/reason.json")[
            "Body"
        ].read()
    )
    assert reason["input"] == f"s3://{store}/inbox/2025-12-02/bad.csv"
    assert reason["reason"].startswith(
        f"s3://{store}/inbox/2025-12-02/bad.csv: the first row names none of the required columns"
    )
    assert reason["reason_code"] == "claim_batch"
    kept = client.get_object(Bucket=store, Key="quarantine/claims/2025-12-02/bad/bad.csv")
    assert kept["Body"].read() == b"x,y\n1,2\n"
    good_summary = json.loads(
        client.get_object(Bucket=store, Key="reports/2025-12-02/good/summary.json")["Body"].read()
    )
    assert good_summary["lines_read"] == 2
    assert good_summary["line_status"]["priced"] == 2

    alerts = [c.args[1] for c in log.error.call_args_list]
    assert any(
        a.startswith(f"claims_scrub_nightly run {dag_run.run_id}: task validate for bad failed: ")
        and "the first row names none of the required columns" in a
        for a in alerts
    ), alerts
    assert any(
        "task finish failed: 1 batch(es) of 2025-12-02 got no report: bad" in a for a in alerts
    )


def test_sensor_waits_in_the_triggerer_until_a_batch_arrives(
    airflow_db, dagbag, store, s3_server, monkeypatch
):
    monkeypatch.setenv("CLAIMS_PIPELINE_INBOX_POKE_SECONDS", "0.5")
    client = s3_server.client()
    body = batch({"hcpcs_code": "99213"}).to_csv(index=False).encode()
    real_count = airflow_support._count_batches
    seen: list[int] = []

    def count_then_deliver(*args, **kwargs):
        # The batch lands only after the sensor's own look and the trigger's first poll have
        # both found an empty inbox, however slowly the machine runs the DAG.
        found = real_count(*args, **kwargs)
        seen.append(found)
        if len(seen) == 2:
            client.put_object(Bucket=store, Key="inbox/2025-12-03/late.csv", Body=body)
        return found

    with mock.patch.object(airflow_support, "_count_batches", side_effect=count_then_deliver):
        dag_run = run_nightly(dagbag, run_date="2025-12-03")
    assert dag_run.state == "success"
    assert seen[:2] == [0, 0] and seen[-1] == 1 and len(seen) >= 3, seen
    sensor = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "wait_for_batches")
    assert (sensor.state, sensor.try_number) == ("success", 1)
    summary = client.get_object(Bucket=store, Key="reports/2025-12-03/late/summary.json")
    assert json.loads(summary["Body"].read())["lines_read"] == 1


def test_reference_refresh_publishes_and_quarantines(
    airflow_db, dagbag, store, s3_server, tmp_path
):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    client = s3_server.client()
    land_release(client, store, tmp_path)
    client.put_object(Bucket=store, Key="reference/landing/BROKEN/readme.txt", Body=b"not CMS")
    dag_run = dagbag.dags["cms_reference_refresh"].test()
    assert dag_run.state == "failed"
    tis = {(ti.task_id, ti.rendered_map_index): ti.state for ti in dag_run.get_task_instances()}
    assert tis[("validate", "BROKEN")] == "failed"
    assert tis[("validate", "RVU26A.zip")] == "success"
    assert tis[("publish", "RVU26A")] == "success"
    assert tis[("finish", None)] == "failed"

    keys = sorted(objects(client, store))
    assert keys == [
        "quarantine/reference/BROKEN/readme.txt",
        "quarantine/reference/BROKEN/reason.json",
        "reference/releases/RVU26A/gpci.parquet",
        "reference/releases/RVU26A/manifest.json",
        "reference/releases/RVU26A/rvu.parquet",
        "reference/releases/RVU26A/source/RVU26A.zip",
    ]
    manifest = json.loads(
        client.get_object(Bucket=store, Key="reference/releases/RVU26A/manifest.json")[
            "Body"
        ].read()
    )
    assert manifest["effective"] == "2026-01-01"
    assert manifest["conversion_factor"] == "33.4009"
    rvu = pq.read_table(
        io.BytesIO(
            client.get_object(Bucket=store, Key="reference/releases/RVU26A/rvu.parquet")[
                "Body"
            ].read()
        )
    )
    assert rvu.num_rows == manifest["rvu_rows"] == 19090
    reason = json.loads(
        client.get_object(Bucket=store, Key="quarantine/reference/BROKEN/reason.json")[
            "Body"
        ].read()
    )
    assert "expected one PPRRVU*.csv in the release" in reason["reason"]
    assert reason["reason"].startswith(f"s3://{store}/reference/landing/BROKEN")

    with create_session() as session:
        events = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == "cms_reference_releases")
        ).all()
        ours = [e.extra for e in events if e.extra.get("manifest", "").startswith(f"s3://{store}/")]
    assert ours == [
        {
            "release": "RVU26A",
            "landed": "RVU26A.zip",
            "effective": "2026-01-01",
            "manifest": f"s3://{store}/reference/releases/RVU26A/manifest.json",
            "rvu_rows": 19090,
        }
    ]
