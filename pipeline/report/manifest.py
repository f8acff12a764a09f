"""The per-batch manifest: every object a run wrote, with its row count and checksum."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from pipeline.report.storage import Destination


@dataclass(frozen=True)
class RecordingDestination(Destination):
    """A Destination that remembers each object it writes: size, SHA-256 and row count.

    `written` may be shared between destinations so one manifest lists objects of both.
    """

    written: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False, repr=False)

    def write_bytes(self, name: str, data: bytes) -> str:
        uri = super().write_bytes(name, data)
        self.written[uri] = {
            "object": uri,
            "rows": None,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        return uri

    def write_parquet(self, name: str, table: pa.Table) -> str:
        uri = super().write_parquet(name, table)
        self.written[uri]["rows"] = table.num_rows
        return uri

    def write_csv(self, name: str, table: pa.Table) -> str:
        uri = super().write_csv(name, table)  # rows: data rows, the header line not counted
        self.written[uri]["rows"] = table.num_rows
        return uri

    @classmethod
    def of(cls, dest: Destination) -> RecordingDestination:
        """`dest` (staged or not) as a recording destination."""
        return cls(dest.root, base=dest.base, staging=dest.staging)

    def sibling(self, root: Destination) -> RecordingDestination:
        """`root` as a destination that records into the same manifest (and, when this one
        is staged, writes into the same staging area)."""
        base = self.base if self.staging else root.base
        return RecordingDestination(
            root.root, base=base, staging=self.staging, written=self.written
        )


def write_manifest(dest: RecordingDestination, st: dict[str, Any]) -> str:
    """Write manifest.json listing every object recorded so far (itself excluded)."""
    objects = sorted(dest.written.values(), key=lambda o: o["object"])
    return dest.write_json(
        "manifest.json",
        {
            **st,
            "objects": objects,
            "note": "rows: data rows of Parquet and CSV objects (CSV header not counted); "
            "sha256 of the bytes written",
        },
    )
