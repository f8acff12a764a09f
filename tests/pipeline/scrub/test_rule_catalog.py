"""Every rule code that can fire is described in the catalog, and nothing in it is dead."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.scrub.rules import SEVERITIES, rule_catalog

PIPELINE = Path(__file__).parents[3] / "pipeline"


def _codes_in_source() -> set[str]:
    """Rule codes the pipeline can raise: literals given to flags.add and the rule tables."""
    from pipeline.scrub.price import INPUT_RULES, ROLE_RULES

    codes: set[str] = set(INPUT_RULES)
    for role in ROLE_RULES:
        codes |= {role[3], role[4]}
    for path in PIPELINE.rglob("*.py"):
        text = path.read_text()
        codes |= set(re.findall(r'flags\.add\(\s*"([A-Z0-9_]+)"', text))
    return codes


def test_every_rule_that_can_fire_is_in_the_catalog():
    missing = _codes_in_source() - set(rule_catalog())
    assert not missing, f"add these to pipeline/scrub/rule_catalog.yaml: {sorted(missing)}"


def test_every_catalog_entry_can_fire():
    unused = set(rule_catalog()) - _codes_in_source()
    assert not unused, f"catalog entries no code raises: {sorted(unused)}"


def test_catalog_entries_are_complete():
    for rule in rule_catalog().values():
        assert rule.severity in SEVERITIES
        assert rule.title and rule.action and rule.dollars_at_risk
