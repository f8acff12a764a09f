"""Where the nightly scrub and the reference refresh keep things in the object store.

One root, `CLAIMS_PIPELINE_STORE` (`s3://bucket[/prefix]`, or a local folder by default):

    inbox/<run date>/<file>                        claim batches (.csv, .csv.gz, .parquet, X12 837P)
    reports/<run date>/<batch>/                    the batch's report (docs/reports.md)
    history/month=<YYYY-MM>/<run date>_<batch>.parquet   lines later batches' edits see
    quarantine/claims/<run date>/<batch>/          a batch that could not be scrubbed + reason.json
    work/<run date>/<batch>/<run>/part-<NNNNN>/    partition outputs until merged (then deleted)
    reference/landing/<RVUxxX.zip or RVUxxX/...>   a new CMS release waiting to be published
    reference/releases/<RVUxxX>/                   a published release: manifest.json,
                                                   rvu.parquet, gpci.parquet, source/
    quarantine/reference/<landed name>/            a landed release that failed + reason.json
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from pipeline.errors import ConfigError
from pipeline.report.storage import Destination


def check_run_date(value: str) -> str:
    """A run date as YYYY-MM-DD, or a ConfigError saying what to pass."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value or ""):
        raise ConfigError(f"run date {value!r} is not a date; pass it as YYYY-MM-DD")
    try:
        date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"run date {value!r} is not a calendar date; pass YYYY-MM-DD") from exc
    return value


def safe_key(text: str) -> str:
    """`text` usable as one key segment (an Airflow run id has colons and plus signs)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "run"


@dataclass(frozen=True)
class Layout:
    """Key prefixes of the store; every method returns a Destination under the root."""

    root: Destination

    @classmethod
    def at(cls, store: str) -> Layout:
        return cls(Destination(store.rstrip("/")))

    def inbox(self, run_date: str) -> Destination:
        return self.root.child(f"inbox/{check_run_date(run_date)}")

    def reports(self, run_date: str) -> Destination:
        return self.root.child(f"reports/{check_run_date(run_date)}")

    def report(self, run_date: str, batch: str) -> Destination:
        return self.reports(run_date).child(batch)

    @property
    def history_root(self) -> Destination:
        """Root whose `history/` folder is the history store (pipeline.report.history)."""
        return self.root

    def work(self, run_date: str, batch: str, run_id: str) -> Destination:
        return self.root.child(f"work/{check_run_date(run_date)}/{batch}/{safe_key(run_id)}")

    def claims_quarantine(self, run_date: str, batch: str) -> Destination:
        return self.root.child(f"quarantine/claims/{check_run_date(run_date)}/{batch}")

    @property
    def landing(self) -> Destination:
        return self.root.child("reference/landing")

    @property
    def releases(self) -> Destination:
        return self.root.child("reference/releases")

    def reference_quarantine(self, landed: str) -> Destination:
        return self.root.child(f"quarantine/reference/{landed}")


def history_name(run_date: str, batch: str) -> str:
    """The batch's name in the history store: batch names repeat across days, dates do not."""
    return f"{run_date}_{batch}"
