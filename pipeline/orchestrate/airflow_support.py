"""Airflow pieces the DAGs share: the store through the `aws_default` connection, the retry
policy, the failure alert, the inbox sensor and the reference asset.

Only the DAG files (and the triggerer, for InboxTrigger) import this module. It imports
nothing heavy: pipeline steps are imported inside the functions that run them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import (
    Asset,
    BaseSensorOperator,
    ExceptionRetryPolicy,
    RetryAction,
    RetryRule,
)
from airflow.triggers.base import BaseTrigger, TriggerEvent

from pipeline.errors import PipelineError, StorageError
from pipeline.orchestrate.settings import Settings

if TYPE_CHECKING:
    from pipeline.orchestrate.layout import Layout

logger = logging.getLogger(__name__)

OWNER = "claims-ops"
TAGS = ["claims-scrub"]

# Published by cms_reference_refresh; the nightly scrub's `reference` task reads its events.
CMS_REFERENCE = Asset(name="cms_reference_releases")

# Retry only what may pass by itself (the store or the network); bad data and bugs fail at once.
TRANSIENT_ONLY = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception=[StorageError, ConnectionError, TimeoutError],
            action=RetryAction.RETRY,
            reason="object store unreachable or failing; retrying with backoff",
        )
    ],
    default=RetryAction.FAIL,
)


def default_args() -> dict[str, Any]:
    """Task defaults both DAGs use: owner, retries with exponential backoff, failure alert."""
    return {
        "owner": OWNER,
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=20),
        "retry_policy": TRANSIENT_ONLY,
        "on_failure_callback": report_failure,
    }


def failure_message(context: Any) -> str:
    """One line naming the DAG run, the task, the batch (or release) and the reason."""
    ti = context["ti"]
    label = context.get("item_label") or getattr(ti, "rendered_map_index", None)
    if not label and getattr(ti, "map_index", -1) >= 0:
        label = f"map index {ti.map_index}"
    reason = context.get("exception") or "no exception recorded; see the task log"
    where = f" for {label}" if label else ""
    return f"{ti.dag_id} run {context.get('run_id')}: task {ti.task_id}{where} failed: {reason}"


def report_failure(context: Any) -> None:
    """on_failure_callback: log the failure as one line ops can alert on."""
    logger.error("%s", failure_message(context))


def label_item(context: Any, label: str) -> None:
    """Name the batch or release a mapped task works on (UI label and failure message)."""
    context["item_label"] = label


def _s3_client(conn_id: str):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    try:
        return S3Hook(aws_conn_id=conn_id).get_conn()
    except Exception as exc:  # credentials, endpoint or provider errors: all mean "no client"
        raise StorageError(
            f"cannot make an S3 client from the Airflow connection {conn_id!r} ({exc}); check "
            "the connection's login, password and extra (endpoint_url, region_name)"
        ) from exc


@contextmanager
def store(settings: Settings | None = None) -> Iterator[Layout]:
    """The store's layout; s3:// stores use the Airflow connection, resolved on first use."""
    from pipeline.orchestrate.layout import Layout
    from pipeline.report.storage import s3_client_from

    settings = settings or Settings.from_env()
    layout = Layout.at(settings.store)
    if not layout.root.is_s3:
        yield layout
        return
    client: list[Any] = []

    def factory():
        if not client:
            client.append(_s3_client(settings.conn_id))
        return client[0]

    with s3_client_from(factory):
        yield layout


def run_of(context: Any) -> dict[str, str]:
    """The run date and batch of this DAG run (params, else the data interval's first day)."""
    from pipeline.orchestrate.nightly import resolve_run

    dag_run = context["dag_run"]
    return resolve_run(
        dict(context["params"]),
        interval_start=context.get("data_interval_start"),
        run_after=dag_run.run_after,
    )


def _count_batches(run_date: str, batch: str) -> int:
    from pipeline.orchestrate.nightly import inbox_batches

    with store() as layout:
        return len(inbox_batches(layout, run_date, batch))


class InboxTrigger(BaseTrigger):
    """Fires when inbox/<run date>/ holds a batch file (the named batch, if one is given)."""

    def __init__(self, run_date: str, batch: str, poke_seconds: float) -> None:
        super().__init__()
        self.run_date = run_date
        self.batch = batch
        self.poke_seconds = poke_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"run_date": self.run_date, "batch": self.batch, "poke_seconds": self.poke_seconds},
        )

    async def run(self):
        while True:
            try:
                found = await asyncio.to_thread(_count_batches, self.run_date, self.batch)
            except PipelineError as exc:
                logger.warning("inbox %s not readable yet (%s); polling on", self.run_date, exc)
                found = 0
            if found:
                yield TriggerEvent({"run_date": self.run_date, "batch": self.batch, "found": found})
                return
            await asyncio.sleep(self.poke_seconds)


class InboxSensor(BaseSensorOperator):
    """Waits, deferred to the triggerer, until the run's inbox folder holds batch files.

    Returns the run: {"run_date", "batch", "found"}.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("timeout", timedelta(hours=6))
        super().__init__(**kwargs)

    def poke(self, context: Any) -> bool:
        run = run_of(context)
        return _count_batches(run["run_date"], run["batch"]) > 0

    def execute(self, context: Any) -> dict[str, Any]:
        run = run_of(context)
        found = _count_batches(run["run_date"], run["batch"])
        if found:
            logger.info("inbox %s: %d batch file(s) found", run["run_date"], found)
            return {**run, "found": found}
        logger.info("inbox %s is empty; waiting in the triggerer", run["run_date"])
        self.defer(
            trigger=InboxTrigger(
                run["run_date"], run["batch"], Settings.from_env().inbox_poke_seconds
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        logger.info("inbox %s: %s batch file(s) arrived", event["run_date"], event["found"])
        return event
