"""Create the bucket of CLAIMS_PIPELINE_STORE if it is missing (docker-compose `create-buckets`).

Uses the standard AWS variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...). Waits up to
`--wait` seconds for the object store to answer; running it again changes nothing.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

logger = logging.getLogger("create_buckets")


def bucket_of(store: str) -> str:
    if not store.startswith("s3://") or not store[5:].split("/")[0]:
        raise SystemExit(
            f"create_buckets: CLAIMS_PIPELINE_STORE={store!r} is not s3://bucket[/prefix]; "
            "a local folder store needs no bucket"
        )
    return store[5:].split("/")[0]


def ensure_bucket(client, bucket: str, wait: float) -> bool:
    """Create `bucket` unless it exists; True when it was created now."""
    deadline = time.monotonic() + wait
    while True:
        try:
            names = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
            if bucket in names:
                return False
            client.create_bucket(Bucket=bucket)
            return True
        except Exception as exc:  # the store may still be starting
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"create_buckets: the object store did not answer within {wait:.0f} s "
                    f"({exc}); check AWS_ENDPOINT_URL and the credentials"
                ) from exc
            time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the store")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    import boto3
    from botocore.config import Config

    bucket = bucket_of(os.environ.get("CLAIMS_PIPELINE_STORE", ""))
    client = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))
    created = ensure_bucket(client, bucket, args.wait)
    logger.info("bucket %s %s", bucket, "created" if created else "already exists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
