"""One set of numbers: a framework's coverage at a moment is the same figure on the dashboard,
the trend's newest point, the daily snapshot, the monthly report (its data and its XLSX), the
SoA export, the engagement table and the read API. Checked on the seeded demo and on a random
data set."""

from __future__ import annotations

import csv
import io
import random
import re
from datetime import timedelta

from openpyxl import load_workbook
from rich.console import Console
from sqlalchemy import select

from audit_portal.auth import tokens
from audit_portal.catalogue import library
from audit_portal.catalogue.models import Control, Requirement
from audit_portal.clock import utcnow
from audit_portal.coverage.service import coverage_as_of
from audit_portal.dashboard import service as dashboard
from audit_portal.demo import load_demo
from audit_portal.engagements.models import Engagement
from audit_portal.evidence.models import Evidence
from audit_portal.findings.models import Finding
from audit_portal.principals import Actor, Principal
from audit_portal.reports import service as reports
from audit_portal.soa.models import SoaEntry
from audit_portal.trends import service as trends

FRAMEWORKS = ("iso27001-2022", "annex2")
ENGAGEMENT_FIGURE = re.compile(r'<div class="figure">([0-9.]+)%</div>covered')


def figures_everywhere(session, login_as) -> dict[str, dict[str, float]]:
    """{place: {framework: percent}} for today's moment (the certification year ending today)."""
    today = utcnow().date()
    seen: dict[str, dict[str, float]] = {}
    seen["function"] = {key: coverage_as_of(session, key, as_of=today).percent for key in FRAMEWORKS}

    board = dashboard.build_dashboard(session)
    seen["dashboard"] = {key: board.frameworks[key].percent for key in FRAMEWORKS}
    seen["trend"] = {key: board.trend.series[key][-1][1] for key in FRAMEWORKS}
    assert all(board.trend.series[key][-1][0] == today for key in FRAMEWORKS)

    rows = trends.take_snapshot(session, today)
    seen["snapshot"] = {row.framework_key: row.percent for row in rows if row.group_key is None}

    data = reports.collect_report_data(session, reports.month_start(today))
    seen["report"] = {key: data.board.frameworks[key].percent for key in FRAMEWORKS}
    assert data.trend[0].day == today
    seen["report trend"] = {key: data.trend[0].percent[key] for key in FRAMEWORKS}  # type: ignore[misc]
    summary = {
        row[0]: row[1]
        for row in load_workbook(io.BytesIO(reports.render_xlsx(data)))["Summary"].iter_rows(values_only=True)
    }
    seen["report xlsx"] = {key: summary[f"{dashboard.FRAMEWORK_LABELS[key]}: coverage %"] for key in FRAMEWORKS}
    assert summary["Figures as of"] == today.isoformat()

    admin = login_as("admin")
    exported = list(csv.DictReader(io.StringIO(admin.get("/soa/export.csv").content.decode("utf-8-sig"))))
    statuses = [row["Evidence coverage"] for row in exported]
    applicable = [s for s in statuses if s != "Not applicable"]
    seen["soa export"] = {"iso27001-2022": round(100 * applicable.count("Covered") / len(applicable), 1)}
    assert {row["Coverage as of"] for row in exported} == {today.isoformat()}

    engagement = Engagement(
        name="Same moment",
        framework_key="iso27001-2022",
        period_start=today - timedelta(days=364),
        period_end=today,
        created_at=utcnow(),
    )
    session.add(engagement)
    session.commit()
    page = admin.get(f"/engagements/{engagement.id}/controls").text
    seen["engagement table"] = {"iso27001-2022": float(ENGAGEMENT_FIGURE.search(page).group(1))}  # type: ignore[union-attr]

    issued = tokens.create(session, name="grc", scopes=["coverage:read"], days=1, actor=Actor.system("test"))
    session.commit()
    api = {}
    for key in FRAMEWORKS:
        response = admin.get(f"/api/v1/coverage/{key}", headers={"Authorization": f"Bearer {issued.secret}"})
        assert response.status_code == 200, response.text
        assert response.json()["as_of"] == today.isoformat()
        api[key] = response.json()["percent"]
    seen["api"] = api
    return seen


def assert_one_set(seen: dict[str, dict[str, float]]) -> None:
    for key in FRAMEWORKS:
        values = {place: figures[key] for place, figures in seen.items() if key in figures}
        assert len(set(values.values())) == 1, (key, values)


def test_the_seeded_demo_shows_one_set_of_numbers(session, store, settings, login_as):
    load_demo(session, store, settings, Console(quiet=True))
    session.commit()
    assert_one_set(figures_everywhere(session, login_as))


def test_a_random_data_set_shows_one_set_of_numbers(session, login_as, add_evidence):
    rng = random.Random(2026)
    today = utcnow().date()
    requirements = session.scalars(select(Requirement)).all()
    for requirement in rng.sample(requirements, 150):
        for _ in range(rng.randint(1, 3)):
            add_evidence(requirement.key, today - timedelta(days=rng.randint(0, 400)))
    controls = session.scalars(
        select(Control).where(Control.framework_key == "iso27001-2022", Control.kind == "controls")
    ).all()
    for control in rng.sample(controls, 8):
        session.add(
            SoaEntry(control_id=control.id, applicable=False, justification="random exclusion", updated_at=utcnow())
        )
    library_keys = session.scalars(
        select(Requirement.key)
        .join(Control, Control.id == Requirement.control_id)
        .where(Control.framework_key.in_(library.LIBRARY_FRAMEWORKS))
    ).all()
    for key in rng.sample(library_keys, 20):
        library.switch_off(
            session,
            key=key,
            reason="random data set: switched off",
            actor=Actor(Principal(role="admin", username="t")),
        )
    session.flush()
    # a high finding on a few random items makes their requirements failing where they are the newest
    for evidence_id in rng.sample(session.scalars(select(Evidence.id)).all(), 10):
        session.add(
            Finding(
                source="collector",
                title="random high finding",
                severity="high",
                evidence_id=evidence_id,
                created_at=utcnow(),
            )
        )
    session.commit()
    seen = figures_everywhere(session, login_as)
    assert_one_set(seen)
    assert 0 < seen["dashboard"]["iso27001-2022"] < 100
