"""How long Airflow takes to parse each DAG file (the target is under 2 s each).

Run: .venv/bin/python benchmarks/bench_dag_import.py
Each file is parsed in a fresh interpreter, so module imports are counted.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

logger = logging.getLogger("bench_dag_import")
DAGS = Path(__file__).resolve().parents[1] / "dags"

CODE = """
import json, sys, time
t = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
airflow_import = time.perf_counter() - t
t = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
total = time.perf_counter() - t
(stat,) = bag.dagbag_stats
print(json.dumps({"airflow_import": airflow_import, "dagbag": total,
                  "file": stat.duration.total_seconds(), "errors": len(bag.import_errors)}))
"""


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory(prefix="airflow_home_") as home:
        env = {**os.environ, "AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        for path in sorted(DAGS.glob("*.py")):
            out = subprocess.run(
                [sys.executable, "-c", CODE, str(path)],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            logger.info(
                "%-28s parse %.3f s (DagBag %.3f s; importing Airflow itself %.2f s); "
                "import errors: %d",
                path.name,
                r["file"],
                r["dagbag"],
                r["airflow_import"],
                r["errors"],
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
