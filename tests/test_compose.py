"""docker-compose.yml: no Docker engine runs here, so the file itself is checked."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
AIRFLOW_COMMANDS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
SERVICES = {"postgres", "redis", "seaweedfs", "create-buckets", "airflow-init", *AIRFLOW_COMMANDS}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_config_parses():
    """`docker-compose config` (Debian's docker-compose, installed by .ci/run) accepts it."""
    tool = shutil.which("docker-compose")
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is missing; .ci/run installs it with apt-get")
        pytest.skip("docker-compose not installed (apt-get install docker-compose)")
    out = subprocess.run(
        [tool, "-f", str(COMPOSE), "config", "--services"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stderr
    assert set(out.stdout.split()) == SERVICES


def test_every_service_of_the_stack(compose):
    services = compose["services"]
    assert set(services) == SERVICES
    for name, command in AIRFLOW_COMMANDS.items():
        assert services[name]["command"] == command, name
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert "@postgres:5432/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:6379/")
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/claims-scrub/dags"
        assert "./dags:/opt/claims-scrub/dags:ro" in services[name]["volumes"]
        after = services[name]["depends_on"]
        assert after["airflow-init"]["condition"] == "service_completed_successfully"
        assert after["create-buckets"]["condition"] == "service_completed_successfully"
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


def test_ports_are_local_only(compose):
    published = [p for s in compose["services"].values() for p in s.get("ports", [])]
    assert sorted(published) == [
        "127.0.0.1:8080:8080",
        "127.0.0.1:8333:8333",
        "127.0.0.1:8888:8888",
    ]


def test_object_store_matches_the_connection_and_bucket(compose):
    services = compose["services"]
    weed = services["seaweedfs"]
    assert weed["entrypoint"] == ["weed"]
    assert "-master.telemetry=false" in weed["command"]
    assert "-s3.port=8333" in weed["command"]
    env = services["airflow-worker"]["environment"]
    conn = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
    assert conn["extra"]["endpoint_url"] == "http://seaweedfs:8333"
    identities = json.loads((REPO / "docker/seaweedfs-s3.json").read_text())["identities"]
    keys = {(c["accessKey"], c["secretKey"]) for i in identities for c in i["credentials"]}
    assert (conn["login"], conn["password"]) in keys
    buckets = services["create-buckets"]["environment"]
    assert buckets["CLAIMS_PIPELINE_STORE"] == env["CLAIMS_PIPELINE_STORE"] == "s3://claims-scrub"
    assert (buckets["AWS_ACCESS_KEY_ID"], buckets["AWS_SECRET_ACCESS_KEY"]) in keys
    assert buckets["AWS_ENDPOINT_URL"] == conn["extra"]["endpoint_url"]


def test_mounted_files_exist(compose):
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), source


def test_image_is_the_locked_airflow():
    lock = (REPO / "requirements.lock.txt").read_text()
    locked = re.search(r"^apache-airflow==(\S+)$", lock, re.M)
    base = re.search(r"^FROM apache/airflow:(\S+?)-python", (REPO / "Dockerfile").read_text(), re.M)
    assert locked and base and base.group(1) == locked.group(1) == "3.3.2"


def test_create_buckets_script(s3_server, monkeypatch):
    from scripts.create_buckets import main

    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CLAIMS_PIPELINE_STORE", "s3://compose-claims/prefix")
    assert main(["--wait", "5"]) == 0
    assert main(["--wait", "5"]) == 0  # a second run finds it
    names = [b["Name"] for b in s3_server.client().list_buckets()["Buckets"]]
    assert names.count("compose-claims") == 1
    monkeypatch.setenv("CLAIMS_PIPELINE_STORE", "/tmp/store")
    with pytest.raises(SystemExit, match="is not s3://bucket"):
        main([])
