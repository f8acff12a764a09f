"""Run a Great Expectations suite on a data frame and keep what people need from the result.

Suites are lists of `Check`s built in code (claims_suite, reference_suites). Each run uses an
ephemeral GX context (nothing written to disk, no progress bars) and a pandas data frame as
its batch. Great Expectations is imported on first use: it takes several seconds.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

SAMPLE_SIZE = 20  # failing values and rows kept per check in the saved results
_suite_numbers = itertools.count(1)


@dataclass(frozen=True)
class Check:
    """One expectation, with a stable name and what it checks in plain words."""

    name: str
    says: str
    expectation_class: str  # e.g. "ExpectColumnValuesToMatchRegex"
    kwargs: dict[str, Any]
    severity: str = "critical"  # "warning": reported, never rejects anything

    def build(self):
        import great_expectations.expectations as gxe

        cls = getattr(gxe, self.expectation_class)
        return cls(
            **self.kwargs,
            meta={"check": self.name},
            description=self.says,
            severity=self.severity,
        )


@dataclass
class CheckResult:
    """The outcome of one check: how many rows were looked at and which failed."""

    name: str
    expectation_type: str
    kwargs: dict[str, Any]
    severity: str
    says: str
    success: bool
    rows_checked: int | None = None
    rows_failed: int | None = None
    observed: Any = None
    sample_values: list[dict[str, Any]] = field(default_factory=list)
    sample_rows: list[int] = field(default_factory=list)
    sample_labels: list[str] = field(default_factory=list)  # e.g. the HCPCS of sample rows
    error: str = ""
    failed_rows: np.ndarray | None = field(default=None, repr=False)  # positions; not saved

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "says": self.says,
            "expectation_type": self.expectation_type,
            "kwargs": self.kwargs,
            "severity": self.severity,
            "success": self.success,
            "rows_checked": self.rows_checked,
            "rows_failed": self.rows_failed,
            "observed": self.observed,
            "sample_values": self.sample_values,
            "sample_rows": self.sample_rows,
            "sample_labels": self.sample_labels,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CheckResult:
        return cls(
            name=data["check"],
            expectation_type=data["expectation_type"],
            kwargs=data["kwargs"],
            severity=data["severity"],
            says=data["says"],
            success=data["success"],
            rows_checked=data["rows_checked"],
            rows_failed=data["rows_failed"],
            observed=data["observed"],
            sample_values=data["sample_values"],
            sample_rows=data["sample_rows"],
            sample_labels=data.get("sample_labels", []),
            error=data["error"],
        )


@dataclass
class SuiteResult:
    """The outcome of one suite on one table (a claim batch or a CMS file)."""

    suite: str
    asset: str
    rows: int
    checks: list[CheckResult]
    seconds: float
    checked_at: str
    source: str = ""
    cached: bool = False

    @property
    def success(self) -> bool:
        return not self.failed()

    def failed(self, severity: str = "critical") -> list[CheckResult]:
        return [c for c in self.checks if not c.success and c.severity == severity]

    def check(self, name: str) -> CheckResult:
        return next(c for c in self.checks if c.name == name)

    def to_json(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "asset": self.asset,
            "source": self.source,
            "success": self.success,
            "rows": self.rows,
            "checks_run": len(self.checks),
            "checks_failed": len(self.failed()),
            "warnings": len(self.failed("warning")),
            "seconds": round(self.seconds, 3),
            "checked_at": self.checked_at,
            "cached": self.cached,
            "checks": [c.to_json() for c in self.checks],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SuiteResult:
        return cls(
            suite=data["suite"],
            asset=data["asset"],
            rows=data["rows"],
            checks=[CheckResult.from_json(c) for c in data["checks"]],
            seconds=data["seconds"],
            checked_at=data["checked_at"],
            source=data.get("source", ""),
        )


@lru_cache(maxsize=1)
def _context():
    """One ephemeral GX context and pandas data source per process."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    # This GX module sets its own logger to INFO and announces a temporary folder per context.
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    # GX fingerprints each in-memory batch by hashing every value (about 1 s per million
    # lines); the fingerprint is only metadata, so it is switched off.
    if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
        pandas_execution_engine.HASH_THRESHOLD = 0
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context, context.data_sources.add_pandas(name="claims_scrub")


_batch_definitions: dict[str, Any] = {}


def _batch_definition(asset: str):
    if asset not in _batch_definitions:
        _, source = _context()
        _batch_definitions[asset] = source.add_dataframe_asset(
            name=asset
        ).add_batch_definition_whole_dataframe(name="whole")
    return _batch_definitions[asset]


def gx_version() -> str:
    import great_expectations as gx

    return gx.__version__


def run_suite(
    suite: str,
    asset: str,
    frame: pd.DataFrame,
    checks: list[Check],
    *,
    parameters: dict[str, Any] | None = None,
    row_positions: bool = False,
    source: str = "",
    labels: pd.Series | None = None,
) -> SuiteResult:
    """Validate `frame` against `checks` with Great Expectations.

    With `row_positions`, each failed check carries the positions of its failing rows
    (`failed_rows`). `labels` (aligned with `frame`) name the sample failing rows, e.g. by
    code. A check GX could not evaluate counts as failed, with the error.
    """
    import great_expectations as gx

    if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0:
        frame = frame.reset_index(drop=True)
    context, _ = _context()
    name = f"{suite}-{next(_suite_numbers)}"
    started = time.perf_counter()
    gx_suite = context.suites.add(
        gx.ExpectationSuite(name=name, expectations=[c.build() for c in checks])
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=_batch_definition(asset), suite=gx_suite)
    )
    result_format: dict[str, Any] = {
        "result_format": "COMPLETE" if row_positions else "SUMMARY",
        "partial_unexpected_count": SAMPLE_SIZE,
    }
    if row_positions:
        result_format["return_unexpected_index_query"] = False
    try:
        outcome = definition.run(
            batch_parameters={"dataframe": frame},
            expectation_parameters=parameters or {},
            result_format=result_format,
        )
    finally:
        context.validation_definitions.delete(name)
        context.suites.delete(name)
        _forget_batches(definition)
    by_name = {c.name: c for c in checks}
    results = [_condense(r, by_name, row_positions) for r in outcome.results]
    if labels is not None:
        for r in results:
            r.sample_labels = [str(labels.iloc[i]) for i in r.sample_rows if 0 <= i < len(labels)]
    order = {c.name: i for i, c in enumerate(checks)}
    results.sort(key=lambda r: order[r.name])
    seconds = time.perf_counter() - started
    failed = [r.name for r in results if not r.success]
    logger.info(
        "validated %s (%d rows): %d checks, %d failed%s in %.2f s",
        asset,
        len(frame),
        len(results),
        len(failed),
        f" ({', '.join(failed)})" if failed else "",
        seconds,
    )
    return SuiteResult(
        suite=suite,
        asset=asset,
        rows=len(frame),
        checks=results,
        seconds=seconds,
        checked_at=datetime.now(UTC).isoformat(timespec="seconds"),
        source=source,
    )


def _forget_batches(definition) -> None:
    """GX keeps the last batch of each asset in memory; free it (a million-line frame)."""
    manager = definition.data.data_asset.datasource.get_execution_engine().batch_manager
    manager.batch_data_cache.clear()
    manager.reset_batch_cache()


def _condense(result, checks: dict[str, Check], row_positions: bool) -> CheckResult:
    config = result.expectation_config
    check = checks[config.meta["check"]]
    found = result.result or {}
    error = _error_message(result.exception_info)
    failed_rows = None
    if row_positions and "unexpected_index_list" in found:
        failed_rows = np.asarray(found["unexpected_index_list"] or [], dtype="int64")
    observed = found.get("observed_value")
    kwargs = {k: _plain(v) for k, v in config.kwargs.items() if k != "batch_id"}
    return CheckResult(
        name=check.name,
        expectation_type=config.type,
        kwargs=kwargs,
        severity=check.severity,
        says=check.says,
        success=bool(result.success) and not error,
        rows_checked=found.get("element_count"),
        rows_failed=found.get("unexpected_count"),
        observed=None if observed is None else _plain(observed),
        sample_values=[
            {"value": _plain(v["value"]), "count": int(v["count"])}
            for v in found.get("partial_unexpected_counts", [])
        ],
        sample_rows=[int(i) for i in found.get("partial_unexpected_index_list", []) or []],
        error=error,
        failed_rows=failed_rows,
    )


def _error_message(info: dict[str, Any] | None) -> str:
    """GX reports exceptions flat or keyed by metric; return the first message."""
    if not info:
        return ""
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "error")
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message") or "error")
    return ""


def _plain(value: Any) -> Any:
    """A JSON-safe copy of a value from a GX result."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if value is pd.NaT:
        return None
    return str(value)
