"""The stamp every report carries: run id, run time, batch and reference-data releases."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

METADATA_KEY = b"claims_scrub.stamp"


def stamp(summary: dict[str, Any]) -> dict[str, Any]:
    """Run id, start time, batch and the release of every reference table the batch used."""
    ncci = summary.get("ncci_release") or {}
    return {
        "run_id": summary["run_id"],
        "run_started_at": summary["run_started_at"],
        "batch": summary["batch"],
        "fee_schedule_releases": [
            {
                "release": name,
                "in_force_from": info.get("in_force_from"),
                "in_force_until": info.get("in_force_until"),
                "gpci_source": info.get("gpci_source"),
                "lines": info.get("lines"),
            }
            for name, info in sorted(summary.get("releases_used", {}).items())
        ],
        "ncci_release": ncci.get("release"),
        "ncci_effective": ncci.get("effective"),
        "zip_locality_file": summary.get("zip_locality_file"),
    }


def releases_text(st: dict[str, Any]) -> str:
    """One line naming every release, e.g. 'RVU25A (GPCI RVU25D), NCCI 2024Q2, ZIP5_OCT2025.txt'."""
    parts = [
        f"{r['release']} (GPCI {r['gpci_source']})" if r.get("gpci_source") else r["release"]
        for r in st["fee_schedule_releases"]
    ]
    if st.get("ncci_release"):
        parts.append(f"NCCI {st['ncci_release']}")
    if st.get("zip_locality_file"):
        parts.append(str(st["zip_locality_file"]))
    return ", ".join(parts) or "none"


def with_stamp(table: pa.Table, st: dict[str, Any]) -> pa.Table:
    """The table with the stamp in its Parquet key-value metadata."""
    meta = dict(table.schema.metadata or {})
    meta[METADATA_KEY] = json.dumps(st, default=str).encode()
    return table.replace_schema_metadata(meta)
