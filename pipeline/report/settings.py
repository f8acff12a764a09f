"""Report settings and work-queue fixes, read from the YAML files beside this module."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from pipeline.scrub.rules import rule_catalog


def _load(name: str) -> Any:
    return yaml.safe_load((resources.files("pipeline.report") / name).read_text())


@lru_cache(maxsize=1)
def report_settings() -> dict[str, Any]:
    """Row limits, run-health thresholds and the denial-pattern threshold."""
    return _load("report_settings.yaml")


@dataclass(frozen=True)
class FixRules:
    recovers_all: frozenset[str]
    fixes: dict[str, str]
    fixes_em: dict[str, str]

    def fix_template(self, rule_code: str, *, em: bool = False) -> str:
        if em and rule_code in self.fixes_em:
            return self.fixes_em[rule_code]
        return self.fixes.get(rule_code) or rule_catalog()[rule_code].action


@lru_cache(maxsize=1)
def fix_rules() -> FixRules:
    """Which rules' fixes recover their dollars, and the fix sentence of each rule."""
    raw = _load("fixes.yaml")
    rules = FixRules(
        frozenset(raw["recovers_all"]), dict(raw["fixes"]), dict(raw.get("fixes_em") or {})
    )
    named = rules.recovers_all | set(rules.fixes) | set(rules.fixes_em)
    unknown = sorted(named - set(rule_catalog()))
    if unknown:
        raise ValueError(
            f"pipeline/report/fixes.yaml names rule codes not in rule_catalog.yaml: {unknown}; "
            "fix the spelling or add the rule to the catalog"
        )
    return rules
