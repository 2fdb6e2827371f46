"""Coverage figures every overview shares: the frameworks shown and the covered/applicable tally
per group of a framework."""

from __future__ import annotations

from dataclasses import dataclass

from audit_portal.coverage.service import COVERED, FRAMEWORK_2022, NOT_APPLICABLE, CoverageReport

ANNEX2 = "annex2"
FRAMEWORKS = (FRAMEWORK_2022, ANNEX2)


@dataclass(frozen=True)
class GroupFigure:
    framework_key: str
    group_key: str
    title: str
    covered: int
    applicable: int

    @property
    def percent(self) -> float:
        return round(100 * self.covered / self.applicable, 1) if self.applicable else 0.0


def group_figures(report: CoverageReport, titles: dict[str, str]) -> list[GroupFigure]:
    figures: dict[str, list[int]] = {key: [0, 0] for key in titles}
    for control in report.controls:
        tally = figures.setdefault(control.group_key, [0, 0])
        if control.status != NOT_APPLICABLE:
            tally[1] += 1
        if control.status == COVERED:
            tally[0] += 1
    return [
        GroupFigure(report.framework_key, key, titles.get(key, key), covered, applicable)
        for key, (covered, applicable) in figures.items()
    ]
