"""Rule catalog and payment percentages, loaded from the YAML files beside this module."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

SEVERITIES = ("info", "warning", "error")


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str
    title: str
    action: str
    dollars_at_risk: str


def _load_yaml(name: str) -> Any:
    return yaml.safe_load((resources.files("pipeline.scrub") / name).read_text())


@lru_cache(maxsize=1)
def rule_catalog() -> dict[str, Rule]:
    """Every rule code that can fire, with its severity, title and suggested action."""
    raw = _load_yaml("rule_catalog.yaml")
    catalog = {code: Rule(code=code, **fields) for code, fields in raw.items()}
    bad = [r.code for r in catalog.values() if r.severity not in SEVERITIES]
    if bad:
        raise ValueError(f"rule_catalog.yaml: unknown severity on {bad}; use {SEVERITIES}")
    return catalog


@lru_cache(maxsize=1)
def payment_rules() -> dict[str, Any]:
    """Percentages (in 1/100 of a percent) and code sets used in pricing."""
    return _load_yaml("payment_rules.yaml")


@lru_cache(maxsize=1)
def edit_rules() -> dict[str, Any]:
    """Code sets and choices for the NCCI and modifier edits."""
    return _load_yaml("edit_rules.yaml")
