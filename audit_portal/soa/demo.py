"""Demo step: the demo organisation's Statement of Applicability."""

from __future__ import annotations

from dataclasses import replace

from audit_portal.catalogue.service import load_catalogue
from audit_portal.demo_context import DemoContext
from audit_portal.principals import Actor
from audit_portal.soa import service

DEMO_ACTOR = Actor.system("demo")
# Owners by 2022 theme (5 organisational, 6 people, 7 physical, 8 technological).
OWNERS = {
    "5": "Security officer (M. Jansen)",
    "6": "HR manager (S. de Boer)",
    "7": "Facilities and hosting (R. Visser)",
    "8": "Head of operations (P. Bakker)",
}
# The demo's evidence has gaps here (a missed firewall review, a failed backup check, a stale
# awareness-training record), so the controls these measures serve are only partly implemented.
PARTLY_IMPLEMENTED_MEASURES = frozenset({"COM-1", "BCM-1", "HR-3"})
# A software and hosting company excludes little. These exclusions carry the reason an auditor
# would accept; every other control no Annex 2 measure maps to stays applicable, so the demo
# shows controls that no requirement proves yet ("no requirement").
EXCLUDED = {
    "7.4": "No own premises with public access: both data centres are operated by the certified hosting provider, which monitors them (see SUP-3).",
    "7.6": "No secure areas of our own; work in the providers' secure areas is governed by their procedures.",
    "7.11": "Power, cooling and other supporting utilities are the hosting provider's, covered by its ISO 27001 certificate (SUP-2).",
    "7.12": "Cabling in the data centres is the hosting provider's responsibility under the hosting agreement (SUP-1).",
    "8.30": "No software development is outsourced.",
}


def demo_statement_of_applicability(context: DemoContext) -> None:
    """Statement of Applicability: defaults from the catalogue, statuses and owners set."""
    session = context.session
    load_catalogue(session)
    service.ensure_defaults(session, actor=DEMO_ACTOR)
    for row in service.soa_rows(session):
        if row.entry is None:
            continue
        owner = OWNERS.get(row.control.group_key)
        if row.control.ref in EXCLUDED:
            change = service.SoaChange(False, EXCLUDED[row.control.ref], "not_started", owner)
        elif row.measures:
            partly = any(measure.ref in PARTLY_IMPLEMENTED_MEASURES for measure in row.measures)
            change = replace(
                service.default_change(row),
                justification=row.entry.justification,
                status="partial" if partly else "implemented",
                owner=owner,
            )
        else:
            change = service.SoaChange(
                True,
                "Applicable to a software and hosting company; no Annex 2 measure covers it yet.",
                "implemented",
                owner,
            )
        service.apply_change(session, row=row, change=change, actor=DEMO_ACTOR)
