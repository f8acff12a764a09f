"""claims_scrub_nightly: scrub the day's claim batches from the store's inbox.

Wiring only: each task calls one function of pipeline.orchestrate, inside the task.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, get_current_context, task

from pipeline.orchestrate.airflow_support import (
    CMS_REFERENCE,
    TAGS,
    InboxSensor,
    default_args,
    label_item,
    store,
)

DOC = """
### Nightly claims scrub

Prices every claim line of the day's batches on the Medicare Physician Fee Schedule, runs
the NCCI edits and writes one report per batch, as `claims-scrub run` does.

**Input**: `inbox/<run date>/<batch>.csv|.csv.gz|.parquet` in the store
(`CLAIMS_PIPELINE_STORE`). The run date is the day before the scheduled run (01:00 UTC), or
the `run_date` parameter.

**Tasks**
- `wait_for_batches`: waits, deferred to the triggerer, until the run date's inbox folder
  holds a batch.
- `reference`: the CMS releases `cms_reference_refresh` published, and the latest
  `cms_reference_releases` asset event; both are recorded in every batch's summary.json.
- `list_batches`: the batches without a report yet (only the `batch` parameter, if given,
  which is always redone).
- `validate`: per batch, reads it and runs the batch checks; a bad batch is copied to
  `quarantine/claims/<run date>/<batch>/` with `reason.json` and fails without retrying.
- `plan`: one scrub per partition; a batch above `partition_lines` lines is split by
  patient, so each patient's lines stay together.
- `scrub_partition`: per partition, pricing and NCCI edits, with earlier batches' history.
- `publish`: per batch, merges its partitions into `reports/<run date>/<batch>/` and adds
  its lines to `history/`.
- `finish`: the run's totals; fails naming every batch that got no report.

**Rerun one batch**: trigger with `run_date` and `batch` (the file name without extension).
Only that batch's report, history and quarantine entry are rewritten.

Retries (exponential backoff) happen only on object-store errors; bad data fails at once.
"""


@dag(
    dag_id="claims_scrub_nightly",
    schedule=CronTriggerTimetable("0 1 * * *", timezone="UTC", interval=timedelta(days=1)),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=TAGS,
    doc_md=DOC,
    params={
        "run_date": Param(
            "",
            type="string",
            pattern=r"^(\d{4}-\d{2}-\d{2})?$",
            description="Inbox day to scrub, YYYY-MM-DD (empty: the day before the run)",
        ),
        "batch": Param(
            "",
            type="string",
            description="Rerun only this batch (file name without extension); empty: all new",
        ),
        "partition_lines": Param(
            0,
            type="integer",
            minimum=0,
            description="Split batches above this many lines by patient (0: the "
            "CLAIMS_PIPELINE_PARTITION_LINES setting, default 500000)",
        ),
    },
)
def claims_scrub_nightly():
    run = InboxSensor(task_id="wait_for_batches")

    @task(inlets=[CMS_REFERENCE])
    def reference(*, inlet_events=None) -> dict:
        from pipeline.orchestrate.reference import published_releases

        with store() as layout:
            published = published_releases(layout)
        events = list(inlet_events[CMS_REFERENCE]) if inlet_events is not None else []
        last = events[-1] if events else None
        return {
            "published": published,
            "asset_event": None
            if last is None
            else {"timestamp": last.timestamp.isoformat(), "extra": dict(last.extra or {})},
        }

    @task
    def list_batches(run: dict) -> list[dict]:
        from pipeline.orchestrate.nightly import list_new_batches

        with store() as layout:
            return list_new_batches(layout, run["run_date"], run["batch"])

    @task(map_index_template="{{ item_label }}")
    def validate(batch: dict) -> dict:
        from pipeline.orchestrate.nightly import extract_and_validate
        from pipeline.orchestrate.settings import Settings

        context = get_current_context()
        label_item(context, batch["batch"])
        lines = context["params"]["partition_lines"] or Settings.from_env().partition_lines
        with store() as layout:
            return extract_and_validate(
                layout, batch, partition_lines=lines, run_id=context["run_id"]
            )

    @task(trigger_rule="all_done")
    def plan(prepared: list[dict]) -> list[dict]:
        from pipeline.orchestrate.nightly import plan_partitions

        return plan_partitions(list(prepared))

    @task(map_index_template="{{ item_label }}")
    def scrub_partition(part: dict, reference: dict) -> dict:
        from pipeline.orchestrate import nightly

        context = get_current_context()
        label_item(context, f"{part['batch']} part {part['part'] + 1}/{part['partitions']}")
        with store() as layout:
            return nightly.scrub_partition(
                layout, part, run_id=context["run_id"], reference=reference
            )

    @task(map_index_template="{{ item_label }}", trigger_rule="all_done")
    def publish(batch: dict, reference: dict) -> dict:
        from pipeline.orchestrate.nightly import publish_batch

        context = get_current_context()
        label_item(context, batch["batch"])
        with store() as layout:
            return publish_batch(layout, batch, run_id=context["run_id"], reference=reference)

    @task(trigger_rule="all_done")
    def finish(run: dict, listed: list[dict], published: list[dict]) -> dict:
        from pipeline.orchestrate.nightly import finish_run

        return finish_run(run, list(listed), list(published))

    ref = reference()
    listed = list_batches(run.output)
    prepared = validate.expand(batch=listed)
    scrubbed = scrub_partition.partial(reference=ref).expand(part=plan(prepared))
    published = publish.partial(reference=ref).expand(batch=prepared)
    scrubbed >> published
    finish(run.output, listed, published)


claims_scrub_nightly()
