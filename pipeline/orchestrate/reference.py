"""The reference refresh as steps: find a landed CMS release, validate it, publish it.

A release lands in reference/landing/ as the CMS zip (`RVU26A.zip`) or as a folder of its
files (`RVU26A/PPRRVU26_JAN.csv`, ...). Published, it is reference/releases/<RVUxxX>/ with
its tables as Parquet (for SQL), the files as landed (source/, which the nightly scrub loads
with the same reader as `claims-scrub run --release`) and manifest.json.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError, ReleaseNotFound
from pipeline.orchestrate.layout import Layout
from pipeline.report.storage import Destination

logger = logging.getLogger(__name__)


def landed_releases(layout: Layout) -> list[dict[str, Any]]:
    """Each zip or folder in reference/landing/, with its object names."""
    found: dict[str, dict[str, Any]] = {}
    for name in layout.landing.list(""):
        top, sep, _ = name.partition("/")
        if sep:
            entry = found.setdefault(top, {"landed": top, "kind": "folder", "files": []})
        elif name.lower().endswith(".zip"):
            entry = found.setdefault(name, {"landed": name, "kind": "zip", "files": []})
        else:
            logger.warning(
                "%s is neither a release zip nor inside a release folder; put the files in a "
                "folder named for the release (e.g. RVU26A/) or land the CMS zip",
                layout.landing.uri(name),
            )
            continue
        entry["files"].append(name)
    logger.info("reference landing: %d release(s) waiting", len(found))
    return [found[k] for k in sorted(found)]


@contextmanager
def _local_release(source: Destination, files: list[str], landed: str) -> Iterator[Path]:
    """The landed files copied to a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="claims-release-") as tmp:
        for name in files:
            data = source.read_bytes(name)
            if data is None:
                raise ReleaseNotFound("the file disappeared while loading", source=source.uri(name))
            path = Path(tmp) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        yield Path(tmp) / landed  # the zip file, or the folder holding the release's files


def check_release(release) -> None:
    """Validation of a loaded release before it is published.

    This is where the Great Expectations suites for the CMS files plug in
    (pipeline/validate/): raise a PipelineError to refuse the release.
    """
    if release.rvu.empty:
        raise ReleaseNotFound("the RVU file has no rows", source=release.source)


def _load(source: Destination, files: list[str], landed: str, uri: str):
    from pipeline.extract.releases import load_release

    with _local_release(source, files, landed) as path:
        try:
            release = load_release(path)
        except PipelineError as exc:
            raise type(exc)(exc.message.replace(str(path), uri), source=uri) from exc
    return replace(release, source=uri)


def validate_release(layout: Layout, landed: dict[str, Any], *, run_id: str) -> dict[str, Any]:
    """Load the landed release as the scrub would; quarantine it with the reason if it fails."""
    uri = layout.landing.uri(landed["landed"])
    try:
        release = _load(layout.landing, landed["files"], landed["landed"], uri)
        check_release(release)
    except PipelineError as exc:
        quarantine_release(layout, landed, exc, run_id=run_id)
        raise
    logger.info("landed %s is release %s (%d RVU rows)", uri, release.name, len(release.rvu))
    return {
        **landed,
        "release": release.name,
        "effective": release.effective.isoformat(),
        "conversion_factor": f"{release.cf / 10000:.4f}",
        "rvu_rows": len(release.rvu),
        "gpci": release.gpci is not None,
    }


def quarantine_release(
    layout: Layout, landed: dict[str, Any], exc: PipelineError, *, run_id: str
) -> str:
    """Move the landed files to quarantine/reference/<landed>/ with reason.json."""
    dest = layout.reference_quarantine(landed["landed"])
    folder = landed["landed"] + "/"
    for name in landed["files"]:
        data = layout.landing.read_bytes(name)
        if data is not None:
            dest.write_bytes(name.removeprefix(folder), data)
            layout.landing.delete(name)
    dest.write_json(
        "reason.json",
        {
            "landed": landed["landed"],
            "reason": str(exc),
            "reason_code": exc.reason_code,
            "run_id": run_id,
            "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "what_to_do": "land a corrected release (the CMS zip as downloaded, or its files "
            "in a folder named for the release)",
        },
    )
    logger.error("landed release %s quarantined at %s: %s", landed["landed"], dest.uri(""), exc)
    return dest.uri("")


def publish_release(layout: Layout, validated: dict[str, Any]) -> dict[str, Any]:
    """Write reference/releases/<release>/ and take the files off the landing prefix.

    Publishing a release again replaces its folder (and nothing else).
    """
    import pyarrow as pa

    uri = layout.landing.uri(validated["landed"])
    release = _load(layout.landing, validated["files"], validated["landed"], uri)
    dest = layout.releases.child(release.name)
    old = set(dest.list(""))
    digests = {}
    written = set()
    for name in validated["files"]:
        data = layout.landing.read_bytes(name) or b""
        target = "source/" + name
        dest.write_bytes(target, data)
        digests[target] = hashlib.sha256(data).hexdigest()
        written.add(target)
    dest.write_parquet("rvu.parquet", pa.Table.from_pandas(release.rvu, preserve_index=False))
    written.add("rvu.parquet")
    if release.gpci is not None:
        dest.write_parquet("gpci.parquet", pa.Table.from_pandas(release.gpci, preserve_index=False))
        written.add("gpci.parquet")
    manifest = {
        "release": release.name,
        "effective": release.effective.isoformat(),
        "conversion_factor": f"{release.cf / 10000:.4f}",
        "rvu_rows": len(release.rvu),
        "gpci": release.gpci is not None,
        "landed": validated["landed"],
        "kind": validated["kind"],
        "source": sorted(digests),
        "sha256": digests,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    for name in old - written - {"manifest.json"}:
        dest.delete(name)  # files of an earlier publication of this release
    dest.write_json("manifest.json", manifest)
    for name in validated["files"]:
        layout.landing.delete(name)
    logger.info("published release %s at %s", release.name, dest.uri(""))
    return {
        "release": release.name,
        "landed": validated["landed"],
        "effective": manifest["effective"],
        "manifest": dest.uri("manifest.json"),
        "rvu_rows": manifest["rvu_rows"],
    }


def finish_refresh(landed: list[dict[str, Any]], published: list[dict[str, Any]]) -> list[str]:
    """The releases published; a PipelineError naming every landed one that was not."""
    done = {p["landed"] for p in published}
    missing = [entry["landed"] for entry in landed if entry["landed"] not in done]
    if missing:
        raise PipelineError(
            f"{len(missing)} landed release(s) were not published: {', '.join(missing)}; see "
            "quarantine/reference/ for the reasons"
        )
    return sorted(p["release"] for p in published)


def published_releases(layout: Layout) -> list[dict[str, Any]]:
    """The manifests of every published release, oldest first."""
    out = []
    for name in layout.releases.list(""):
        if name.count("/") == 1 and name.endswith("/manifest.json"):
            data = layout.releases.read_bytes(name)
            if data:
                out.append(json.loads(data))
    return sorted(out, key=lambda m: (m["effective"], m["release"]))


def reference_data(layout: Layout, published: list[dict[str, Any]]):
    """The bundled reference data plus the published releases (a release of the same name
    replaces the bundled one)."""
    from pipeline.extract.releases import bundled_reference_data

    if not published:
        return bundled_reference_data()
    key = tuple(
        (m["release"], m["kind"], m["landed"], tuple(sorted(m["sha256"].items())))
        for m in published
    )
    return _reference_data(layout, key)


@lru_cache(maxsize=2)
def _reference_data(layout: Layout, key: tuple):
    from pipeline.extract.releases import ReferenceData, load_reference_data

    with tempfile.TemporaryDirectory(prefix="claims-reference-") as tmp:
        paths, uris = [], {}
        for release, _kind, landed, digests in key:
            folder = layout.releases.child(release)
            for target, digest in digests:
                data = folder.read_bytes(target)
                if data is None or hashlib.sha256(data).hexdigest() != digest:
                    raise ReleaseNotFound(
                        "the published file is missing or changed since publication; publish "
                        "the release again",
                        source=folder.uri(target),
                    )
                path = Path(tmp) / release / target
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            path = Path(tmp) / release / "source" / landed
            paths.append(path)
            uris[str(path)] = folder.uri("source/" + landed)
        ref = load_reference_data(tuple(paths))
    releases = tuple(replace(r, source=uris.get(r.source, r.source)) for r in ref.releases)
    return ReferenceData(releases, ref.zip5, ref.zip_source)
