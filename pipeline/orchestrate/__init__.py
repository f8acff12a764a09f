"""Steps of the nightly scrub and the reference refresh, shared by the Airflow DAGs.

Each step is a plain function taking and returning small dicts (object keys and counts), so
the DAGs in `dags/` only wire them and nothing here needs Airflow, except
`airflow_support`, which only the DAG files import.
"""
