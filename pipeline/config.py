"""Run configuration, read once from CLAIMS_PIPELINE_* environment variables."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_KEY_FILE = Path.home() / ".config" / "claims-scrub" / "patient_key"


@dataclass(frozen=True)
class PipelineConfig:
    """Settings with documented defaults; see docs/configuration in the README."""

    patient_key: bytes
    patient_key_source: str
    paid_tolerance_cents: int = 100
    max_reject_share: float = 0.05  # a batch with more rejected lines fails as a whole

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> PipelineConfig:
        env = dict(os.environ if env is None else env)
        key, source = _patient_key(env)
        tolerance = env.get("CLAIMS_PIPELINE_PAID_TOLERANCE", "1.00")
        try:
            tolerance_cents = round(float(tolerance) * 100)
        except ValueError as exc:
            raise ConfigError(
                f"CLAIMS_PIPELINE_PAID_TOLERANCE={tolerance!r} is not a dollar amount; "
                "use e.g. 1.00"
            ) from exc
        share = parse_share(
            env.get("CLAIMS_PIPELINE_MAX_REJECT_SHARE", "0.05"), "CLAIMS_PIPELINE_MAX_REJECT_SHARE"
        )
        return cls(
            patient_key=key,
            patient_key_source=source,
            paid_tolerance_cents=tolerance_cents,
            max_reject_share=share,
        )


def parse_share(value: str, name: str) -> float:
    """A share of lines: 0.05 or 5%, from 0 to 1."""
    text = value.strip()
    try:
        share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        share = -1.0
    if not 0 <= share <= 1:
        raise ConfigError(
            f"{name}={value!r} is not a share of lines; use a number from 0 to 1 (e.g. 0.05) "
            "or a percentage (e.g. 5%)"
        )
    return share


def _patient_key(env: dict[str, str]) -> tuple[bytes, str]:
    """Return the key for hashing patient ids: from the environment, else a local key file.

    The key file is created once with random bytes (mode 0600), so hashes are stable across
    runs on one machine without a secret ever being committed.
    """
    if env.get("CLAIMS_PIPELINE_PATIENT_KEY"):
        return env["CLAIMS_PIPELINE_PATIENT_KEY"].encode(), "env:CLAIMS_PIPELINE_PATIENT_KEY"
    path = Path(env.get("CLAIMS_PIPELINE_PATIENT_KEY_FILE", DEFAULT_KEY_FILE))
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
            logger.warning(
                "created a new patient-hash key file at %s; keep it to get the same "
                "patient hashes on later runs",
                path,
            )
        key = path.read_text().strip().encode()
    except OSError as exc:
        raise ConfigError(
            f"cannot create or read the patient-hash key file {path} ({exc.strerror}); set "
            "CLAIMS_PIPELINE_PATIENT_KEY or CLAIMS_PIPELINE_PATIENT_KEY_FILE to a writable path"
        ) from exc
    if not key:
        raise ConfigError(f"the patient-hash key file {path} is empty; delete it to make a new one")
    return key, f"file:{path}"
