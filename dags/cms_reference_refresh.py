"""cms_reference_refresh: publish a new CMS fee-schedule release from the landing prefix.

Wiring only: each task calls one function of pipeline.orchestrate.reference, inside the task.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task

from pipeline.orchestrate.airflow_support import (
    CMS_REFERENCE,
    TAGS,
    default_args,
    label_item,
    store,
)

DOC = """
### CMS reference refresh

Publishes a new Medicare Physician Fee Schedule release for the nightly scrub.

**Input**: the CMS zip as downloaded (`reference/landing/RVU26A.zip`) or its files in a
folder named for the release (`reference/landing/RVU26A/PPRRVU26_JAN.csv`, ...).

**Tasks**
- `find_landed`: the zips and folders waiting in `reference/landing/`.
- `validate`: per release, loads it with the scrub's own reader and checks it; a bad one is
  moved to `quarantine/reference/<name>/` with `reason.json`.
- `publish`: writes `reference/releases/<RVUxxX>/` (manifest.json, rvu.parquet,
  gpci.parquet, source/), clears its landing files and emits the `cms_reference_releases`
  asset event.
- `finish`: fails naming every landed release that was not published.

The nightly scrub loads every published release (a published release replaces the bundled
one of the same name) and records the releases and the last asset event in each
`summary.json` (`reference`).
"""


@dag(
    dag_id="cms_reference_refresh",
    schedule="0 6 * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=[*TAGS, "reference"],
    doc_md=DOC,
)
def cms_reference_refresh():
    @task
    def find_landed() -> list[dict]:
        from pipeline.orchestrate.reference import landed_releases

        with store() as layout:
            return landed_releases(layout)

    @task(map_index_template="{{ item_label }}")
    def validate(landed: dict) -> dict:
        from pipeline.orchestrate.reference import validate_release

        context = get_current_context()
        label_item(context, landed["landed"])
        with store() as layout:
            return validate_release(layout, landed, run_id=context["run_id"])

    @task(outlets=[CMS_REFERENCE], map_index_template="{{ item_label }}", trigger_rule="all_done")
    def publish(validated: dict, *, outlet_events=None) -> dict:
        from pipeline.orchestrate.reference import publish_release

        label_item(get_current_context(), validated["release"])
        with store() as layout:
            published = publish_release(layout, validated)
        outlet_events[CMS_REFERENCE].extra = published
        return published

    @task(trigger_rule="all_done")
    def finish(landed: list[dict], published: list[dict]) -> list[str]:
        from pipeline.orchestrate.reference import finish_refresh

        return finish_refresh(list(landed), list(published))

    landed = find_landed()
    finish(landed, publish.expand(validated=validate.expand(landed=landed)))


cms_reference_refresh()
