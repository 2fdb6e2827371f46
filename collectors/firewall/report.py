"""The human-readable HTML report, rendered from ``templates/report.html.j2``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from collectors.base import FindingDraft
from collectors.firewall.diff import RuleDiff
from collectors.firewall.model import Chain, Rule

TEMPLATES = Path(__file__).parent / "templates"

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,  # rule comments are attacker-influenced text; never render them raw
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_report(
    *,
    instance: str,
    collected_at: str,
    version: str,
    requirements: Sequence[str],
    inputs: Sequence[dict[str, Any]],
    chains: Sequence[Chain],
    rules: Sequence[Rule],
    findings: Sequence[FindingDraft],
    diff: RuleDiff | None,
    previous_collected_at: str | None,
) -> str:
    rules_by_scope: dict[str, list[Rule]] = {}
    for rule in rules:
        rules_by_scope.setdefault(rule.scope, []).append(rule)
    return _environment.get_template("report.html.j2").render(
        instance=instance,
        collected_at=collected_at,
        version=version,
        requirements=requirements,
        inputs=inputs,
        chains=chains,
        rules_by_scope=rules_by_scope,
        rule_count=len(rules),
        findings=findings,
        diff=diff,
        previous_collected_at=previous_collected_at,
    )
