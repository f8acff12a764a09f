"""Run-time settings of the orchestrated pipeline, read from CLAIMS_PIPELINE_* variables.

Light on purpose: DAG files import it while Airflow parses them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ConfigError

DEFAULT_STORE = Path.home() / "claims-scrub-store"
DEFAULT_PARTITION_LINES = 500_000
DEFAULT_CONN_ID = "aws_default"
DEFAULT_INBOX_POKE_SECONDS = 300.0


@dataclass(frozen=True)
class Settings:
    """Run-time settings of the orchestrated pipeline, read from CLAIMS_PIPELINE_* variables."""

    store: str
    conn_id: str = DEFAULT_CONN_ID
    partition_lines: int = DEFAULT_PARTITION_LINES
    inbox_poke_seconds: float = DEFAULT_INBOX_POKE_SECONDS

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        store = env.get("CLAIMS_PIPELINE_STORE") or str(DEFAULT_STORE)
        return cls(
            store=store,
            conn_id=env.get("CLAIMS_PIPELINE_AWS_CONN_ID") or DEFAULT_CONN_ID,
            partition_lines=int(
                _positive(env, "CLAIMS_PIPELINE_PARTITION_LINES", DEFAULT_PARTITION_LINES)
            ),
            inbox_poke_seconds=_positive(
                env, "CLAIMS_PIPELINE_INBOX_POKE_SECONDS", DEFAULT_INBOX_POKE_SECONDS
            ),
        )


def _positive(env: dict[str, str], name: str, default: float) -> float:
    value = env.get(name, "")
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:
        raise ConfigError(
            f"{name}={value!r} is not a positive number; unset it or use e.g. {default}"
        )
    return number
