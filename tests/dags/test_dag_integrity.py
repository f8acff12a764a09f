"""Every DAG file imports cleanly, quickly, without heavy modules or connections, and
follows the project's policy (owner, tags, retries, catchup off)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from unittest import mock

import pytest

from tests.dags.conftest import DAGS

DAG_FILES = sorted(p.name for p in DAGS.glob("*.py"))
HEAVY = ["pandas", "pyarrow", "numpy", "boto3", "botocore", "duckdb", "great_expectations"]


def test_dag_files_exist():
    assert DAG_FILES == ["claims_scrub_nightly.py", "cms_reference_refresh.py"]


def test_every_dag_file_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == ["claims_scrub_nightly", "cms_reference_refresh"]
    stats = {s.file.split("/")[-1]: s for s in dagbag.dagbag_stats}
    assert sorted(stats) == DAG_FILES
    for name, stat in stats.items():
        print(f"{name}: parsed in {stat.duration.total_seconds():.3f} s")
        assert stat.duration < timedelta(seconds=2), name


def test_dag_files_import_nothing_heavy():
    """In a fresh interpreter, parsing each file adds none of the heavy libraries."""
    code = f"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
before = set(sys.modules)
for name in {DAG_FILES!r}:
    bag = DagBag(dag_folder={str(DAGS)!r} + "/" + name)
    added = sorted({{m.split(".")[0] for m in set(sys.modules) - before}})
    print(json.dumps({{"file": name, "errors": list(bag.import_errors), "added": added,
                      "dags": bag.dag_ids}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy()
    )
    assert out.returncode == 0, out.stderr[-2000:]
    results = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert [r["file"] for r in results] == DAG_FILES
    for r in results:
        assert r["errors"] == []
        assert r["dags"] == [r["file"].removesuffix(".py")]
        assert [m for m in HEAVY if m in r["added"]] == [], r["file"]
        assert "pipeline" in r["added"]  # the check sees what the DAG files import


def test_parsing_looks_up_no_connection_variable_or_network(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import BaseHook, Connection, Variable

    for name in [m for m in sys.modules if m.startswith("pipeline.orchestrate")]:
        monkeypatch.delitem(sys.modules, name)  # their top level runs again under the patches

    def refuse(*args, **kwargs):
        raise AssertionError(f"called while parsing DAGs: {args} {kwargs}")

    with (
        mock.patch.object(BaseHook, "get_connection", side_effect=refuse) as hook_conn,
        mock.patch.object(Connection, "get", side_effect=refuse) as conn_get,
        mock.patch.object(Variable, "get", side_effect=refuse) as var_get,
        mock.patch("socket.socket.connect", side_effect=refuse) as connect,
        mock.patch("socket.create_connection", side_effect=refuse) as create,
    ):
        bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert len(bag.dag_ids) == 2
    for patched in (hook_conn, conn_get, var_get, connect, create):
        assert patched.call_count == 0


@pytest.mark.parametrize("dag_id", ["claims_scrub_nightly", "cms_reference_refresh"])
def test_dag_policy(dagbag, dag_id):
    from airflow.sdk import RetryAction

    from pipeline.errors import ClaimBatchError, StorageError
    from pipeline.orchestrate.airflow_support import report_failure

    dag = dagbag.dags[dag_id]
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert "claims-scrub" in dag.tags
    assert dag.doc_md and "**Tasks**" in dag.doc_md
    assert dag.schedule is not None
    for task in dag.tasks:
        assert task.owner == "claims-ops", task.task_id
        assert task.retries == 3, task.task_id
        assert task.retry_exponential_backoff == 2.0, task.task_id
        assert task.max_retry_delay == timedelta(minutes=20), task.task_id
        callbacks = task.on_failure_callback
        assert report_failure in (callbacks if isinstance(callbacks, list) else [callbacks])
        policy = task.retry_policy
        assert policy.evaluate(StorageError("s3 down"), 1, 4).action is RetryAction.RETRY
        assert policy.evaluate(ConnectionError("reset"), 1, 4).action is RetryAction.RETRY
        assert policy.evaluate(ClaimBatchError("bad file"), 1, 4).action is RetryAction.FAIL
        assert policy.evaluate(KeyError("bug"), 1, 4).action is RetryAction.FAIL
        assert f"- `{task.task_id}`: " in dag.doc_md, task.task_id  # each task explained


def test_nightly_shape(dagbag):
    dag = dagbag.dags["claims_scrub_nightly"]
    assert dag.params["run_date"] == "" and dag.params["batch"] == ""
    assert dag.params["partition_lines"] == 0
    sensor = dag.get_task("wait_for_batches")
    assert type(sensor).__name__ == "InboxSensor"
    assert sensor.timeout == 6 * 3600
    mapped = {t.task_id for t in dag.tasks if t.is_mapped}
    assert mapped == {"validate", "scrub_partition", "publish"}
    assert [i.name for i in dag.get_task("reference").inlets] == ["cms_reference_releases"]
    assert dag.get_task("publish").trigger_rule == "all_done"
    assert dag.get_task("finish").trigger_rule == "all_done"


def test_refresh_emits_the_asset(dagbag):
    dag = dagbag.dags["cms_reference_refresh"]
    assert [o.name for o in dag.get_task("publish").outlets] == ["cms_reference_releases"]
    assert {t.task_id for t in dag.tasks if t.is_mapped} == {"validate", "publish"}
    assert dag.get_task("publish").trigger_rule == "all_done"


def test_failure_message_names_the_item_and_reason():
    from types import SimpleNamespace

    from pipeline.errors import ClaimBatchError
    from pipeline.orchestrate.airflow_support import failure_message

    ti = SimpleNamespace(
        dag_id="claims_scrub_nightly", task_id="validate", map_index=2, rendered_map_index=None
    )
    error = ClaimBatchError("the file is empty", source="s3://b/inbox/2025-12-01/x.csv")
    context = {"ti": ti, "run_id": "scheduled__1", "exception": error, "item_label": "x"}
    assert failure_message(context) == (
        "claims_scrub_nightly run scheduled__1: task validate for x failed: "
        "s3://b/inbox/2025-12-01/x.csv: the file is empty"
    )
    del context["item_label"]
    assert "task validate for map index 2 failed" in failure_message(context)
    ti.rendered_map_index = "x"
    assert "task validate for x failed" in failure_message(context)
    ti.map_index, ti.rendered_map_index = -1, None
    del context["exception"]
    assert failure_message(context) == (
        "claims_scrub_nightly run scheduled__1: task validate failed: no exception recorded; "
        "see the task log"
    )
