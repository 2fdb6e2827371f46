"""Demo step: the demo organisation's Statement of Applicability."""
from __future__ import annotations

from dataclasses import replace

from audit_portal.authz import Principal
from audit_portal.catalogue.service import load_catalogue
from audit_portal.demo import DemoContext
from audit_portal.soa import service

DEMO_ACTOR = Principal(role="system", username="demo")
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


def demo_statement_of_applicability(context: DemoContext) -> None:
    """Statement of Applicability: defaults from the catalogue, statuses and owners set."""
    session = context.session
    load_catalogue(session)
    service.ensure_defaults(session, actor=DEMO_ACTOR)
    for row in service.soa_rows(session):
        if row.entry is None or not row.entry.applicable:
            continue
        partly = any(measure.ref in PARTLY_IMPLEMENTED_MEASURES for measure in row.measures)
        change = replace(
            service.default_change(row),
            justification=row.entry.justification,
            status="partial" if partly else "implemented",
            owner=OWNERS.get(row.control.group_key),
        )
        service.apply_change(session, row=row, change=change, principal=DEMO_ACTOR, request=None)
