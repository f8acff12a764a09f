"""Write report files to a local folder or to s3://bucket/prefix through boto3."""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from pipeline.errors import StorageError

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

# The store's folder of publications being written (Staging).
STAGING = ".staging"
S3_HINT = "; check AWS_ENDPOINT_URL, the AWS credentials and that the bucket exists"

# Set by `s3_client_from` (e.g. to a client built from an Airflow connection at task run time).
_client_factory: ContextVar[Callable[[], Any] | None] = ContextVar(
    "s3_client_factory", default=None
)


@dataclass(frozen=True)
class Destination:
    """Where one batch's report goes: a local folder or an S3 bucket and key prefix."""

    root: str
    # The store root (the first Destination's root; children keep it): a local delete
    # removes the folders it leaves empty up to here, never this folder itself.
    base: str = field(default="", compare=False, repr=False)
    # A staging area mirroring `base` (see Staging): writes land there until published,
    # while uri() still names the published address.
    staging: str = field(default="", compare=False, repr=False)

    @property
    def is_s3(self) -> bool:
        return self.root.startswith("s3://")

    def child(self, name: str) -> Destination:
        return Destination(
            self.root.rstrip("/") + "/" + name, base=self.base or self.root, staging=self.staging
        )

    def uri(self, name: str) -> str:
        return self.root.rstrip("/") + "/" + name

    def _target(self, name: str) -> str:
        """Where the bytes of `name` are written: its address, or its staged copy's."""
        uri = self.uri(name)
        if not self.staging:
            return uri
        return self.staging.rstrip("/") + uri[len((self.base or self.root).rstrip("/")) :]

    def write_bytes(self, name: str, data: bytes) -> str:
        uri = self.uri(name)
        _put(self._target(name), data, shown=uri)
        return uri

    def read_bytes(self, name: str) -> bytes | None:
        """The bytes of an object, or None when it does not exist."""
        uri = self.uri(name)
        if self.is_s3:
            bucket, _, prefix = self.root.removeprefix("s3://").partition("/")
            key = (prefix.strip("/") + "/" + name).lstrip("/")
            try:
                return _s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
            except Exception as exc:
                if "NoSuchKey" in str(exc) or "404" in str(exc):
                    return None
                raise StorageError(f"could not read ({exc}){S3_HINT}", source=uri) from exc
        path = Path(uri)
        return path.read_bytes() if path.exists() else None

    def delete(self, name: str) -> None:
        """Remove an object if it exists."""
        if self.is_s3:
            bucket, _, prefix = self.root.removeprefix("s3://").partition("/")
            key = (prefix.strip("/") + "/" + name).lstrip("/")
            try:
                _s3_client().delete_object(Bucket=bucket, Key=key)
            except Exception as exc:
                raise StorageError(
                    f"could not delete ({exc}){S3_HINT}", source=self.uri(name)
                ) from exc
        else:
            path = Path(self.uri(name))
            path.unlink(missing_ok=True)
            self._remove_empty_folders(path.parent)

    def move(self, name: str, uri: str) -> None:
        """Move object `name` to the address `uri` (same kind of store)."""
        source = self.uri(name)
        if self.is_s3:
            bucket, key = _s3_key(source)
            to_bucket, to_key = _s3_key(uri)
            try:
                _s3_client().copy_object(
                    Bucket=to_bucket, Key=to_key, CopySource={"Bucket": bucket, "Key": key}
                )
            except Exception as exc:
                raise StorageError(
                    f"could not copy to {uri} ({exc}){S3_HINT}", source=source
                ) from exc
            self.delete(name)
            return
        target = Path(uri)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
        except OSError as exc:
            raise StorageError(
                f"could not move to {uri} ({exc.strerror}); check the --out folder",
                source=source,
            ) from exc
        self._remove_empty_folders(Path(source).parent)

    def _remove_empty_folders(self, folder: Path) -> None:
        """Remove `folder` and its parents while they are empty, up to the store root."""
        stop = Path(self.base or self.root).absolute()
        folder = folder.absolute()
        while stop in folder.parents:
            try:
                folder.rmdir()
            except OSError:  # not empty (or already gone): the folders above are kept
                return
            folder = folder.parent

    def list(self, prefix: str) -> list[str]:
        """Names (relative to this destination) of the objects under `prefix`."""
        if self.is_s3:
            bucket, _, root = self.root.removeprefix("s3://").partition("/")
            root = root.strip("/")
            full = (root + "/" + prefix).lstrip("/")
            names = []
            try:
                pages = (
                    _s3_client()
                    .get_paginator("list_objects_v2")
                    .paginate(Bucket=bucket, Prefix=full)
                )
                for page in pages:
                    for obj in page.get("Contents", []):
                        names.append(obj["Key"][len(root) + 1 if root else 0 :])
            except Exception as exc:
                raise StorageError(
                    f"could not list ({exc}){S3_HINT}", source=self.uri(prefix)
                ) from exc
            return sorted(names)
        base = Path(self.root)
        folder = base / prefix
        if not folder.exists():
            return []
        return sorted(str(p.relative_to(base)) for p in folder.rglob("*") if p.is_file())

    def write_parquet(self, name: str, table: pa.Table) -> str:
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        return self.write_bytes(name, buf.getvalue())

    def write_csv(self, name: str, table: pa.Table) -> str:
        buf = io.BytesIO()
        pcsv.write_csv(table, buf, pcsv.WriteOptions(quoting_style="needed"))
        return self.write_bytes(name, buf.getvalue())

    def write_json(self, name: str, payload: dict[str, Any]) -> str:
        return self.write_bytes(name, (json.dumps(payload, indent=2, default=str) + "\n").encode())


def _s3_key(uri: str) -> tuple[str, str]:
    """(bucket, key) of an s3:// address."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key.lstrip("/")


def _put(uri: str, data: bytes, *, shown: str) -> None:
    """Write `data` at a local path or s3:// address; errors name `shown` (the published
    address of a staged object)."""
    if uri.startswith("s3://"):
        bucket, key = _s3_key(uri)
        try:
            _s3_client().put_object(Bucket=bucket, Key=key, Body=data)
        except Exception as exc:  # botocore raises many types; all mean "not written"
            raise StorageError(f"could not write ({exc}){S3_HINT}", source=shown) from exc
        return
    path = Path(uri)
    try:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        except FileNotFoundError:  # a delete elsewhere removed the empty folder
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    except OSError as exc:
        raise StorageError(
            f"cannot write the report ({exc.strerror}); choose an --out folder you can write to",
            source=shown,
        ) from exc


class Staging:
    """One publication kept aside until every object of it is written.

    `stage(dest)` gives a destination of the store whose writes land under
    `<store>/.staging/<token>/` (same layout as the store); `publish()` then moves them to
    their addresses, `manifest.json` last, and `discard()` removes them. So a failure while
    writing never leaves a half-written report where readers look.
    """

    def __init__(self, store: Destination, token: str) -> None:
        self.store = Destination(store.root)
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", token)
        self.area = self.store.child(f"{STAGING}/{safe}")

    def stage(self, dest: Destination) -> Destination:
        """`dest` (the store or a folder in it) writing into the staging area."""
        return Destination(dest.root, base=self.store.root, staging=self.area.root)

    def publish(self) -> list[str]:
        """Move every staged object to its address; return the addresses."""
        names = sorted(self.area.list(""), key=lambda n: (n.endswith("manifest.json"), n))
        for name in names:
            self.area.move(name, self.store.uri(name))
        return [self.store.uri(n) for n in names]

    def discard(self) -> None:
        """Remove whatever was staged (best effort: a failure here is only logged)."""
        try:
            for name in self.area.list(""):
                self.area.delete(name)
        except StorageError as exc:
            logger.warning("could not remove the staged files %s (%s)", self.area.root, exc)


@contextmanager
def s3_client_from(factory: Callable[[], Any]) -> Iterator[None]:
    """Within the block, s3:// destinations use the boto3 client that `factory` returns."""
    token = _client_factory.set(factory)
    try:
        yield
    finally:
        _client_factory.reset(token)


def _s3_client():
    """The S3 client set by `s3_client_from`, else one from the standard AWS variables."""
    factory = _client_factory.get()
    if factory is not None:
        return factory()
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(s3={"addressing_style": "path"}))


def read_checked_parquet(
    store: Destination, name: str, required: tuple[str, ...], warning: str
) -> pd.DataFrame | None:
    """A stored Parquet object as a frame, or None when it is unreadable or lacks a
    `required` column; then `warning` (a %-format taking the object's address and what was
    wrong) is logged, so one bad file never stops a run.
    """
    try:
        frame = pq.read_table(io.BytesIO(store.read_bytes(name) or b"")).to_pandas()
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise ValueError(f"missing columns {missing}")
    except (OSError, ValueError, pa.ArrowException) as exc:
        logger.warning(warning, store.uri(name), str(exc)[:160])
        return None
    return frame
