"""Airflow for DAG tests: AIRFLOW_HOME and a SQLite metadata DB in a temporary folder.

The variables are set when this file is imported, before any test module imports Airflow.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"

_home = tempfile.mkdtemp(prefix="airflow_home_")
atexit.register(shutil.rmtree, _home, ignore_errors=True)
os.environ.update(
    {
        "AIRFLOW_HOME": _home,
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
    }
)


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """The metadata DB dag.test() needs, created once per session (about 5 s)."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )


@pytest.fixture(scope="session")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


@pytest.fixture
def store(s3_server, monkeypatch, request):
    """An empty bucket as CLAIMS_PIPELINE_STORE, reached only through the aws_default
    connection (no AWS_* variables), and a fixed patient-hash key."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    bucket = "dag-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    s3_server.client().create_bucket(Bucket=bucket)
    conn = {
        "conn_type": "aws",
        "login": "devkey",
        "password": "devsecret",
        "extra": {
            "endpoint_url": s3_server.endpoint,
            "region_name": "us-east-1",
            "config_kwargs": {"s3": {"addressing_style": "path"}},
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
    monkeypatch.setenv("CLAIMS_PIPELINE_STORE", f"s3://{bucket}")
    monkeypatch.setenv("CLAIMS_PIPELINE_PATIENT_KEY", "dag-test-key")
    return bucket
