"""The coverage rollup equals the computation from the evidence itself.

Random sequences of writes (ingest one by one and in bulk, supersede, relink, review accept and
reject, findings opened and closed, sign-offs, SoA changes, integrity marks, the retention purge)
and clock moves; after each sequence every control's and clause's coverage read from the
maintained rollup equals the one aggregated from the evidence, with and without an engagement,
for a current and a past period and moments in the past; and a rebuild gives the same cells as
the maintained rollup."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import insert, select, update
from typer.testing import CliRunner

from audit_portal import migrate
from audit_portal.catalogue.models import Control, Requirement
from audit_portal.catalogue.service import load_catalogue
from audit_portal.cli import app as cli
from audit_portal.clock import utcnow
from audit_portal.coverage import repository, rollup
from audit_portal.coverage.service import PARTS, compute_coverage
from audit_portal.db import make_engine, unit_of_work
from audit_portal.engagements.models import REVIEW_REJECTED, Engagement, EvidenceReview
from audit_portal.evidence import repository as evidence_repository
from audit_portal.evidence.models import INTEGRITY_CORRUPTED, Evidence, EvidenceRequirement, EvidenceSignoff
from audit_portal.evidence.retention import purge_records
from audit_portal.findings.models import Finding
from audit_portal.soa.models import SoaEntry
from tests import factories
from tests.support import fresh_database

SEEDS = range(30)
OPERATIONS = 40
FRAMEWORKS = ("iso27001-2022", "annex2", "iso27001-2013")
START = date(2026, 3, 1)
SHAS = tuple(f"{digit}" * 64 for digit in "abcd")


def moment(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(rng.randint(0, 23), rng.choice((0, 30, 59)), rng.choice((0, 59))), tzinfo=UTC)


class World:
    """The random writer: keeps the clock and picks among the writes the portal makes."""

    def __init__(
        self, session, rng: random.Random, requirements: list[Requirement], controls: list[int], signer_id: int
    ) -> None:
        self.session, self.rng, self.requirements, self.controls = session, rng, requirements, controls
        self.signer_id = signer_id
        self.today = START
        self.current = self._engagement(self.today - timedelta(days=300), self.today + timedelta(days=30))
        self.past = self._engagement(self.today - timedelta(days=500), self.today - timedelta(days=150))

    def _engagement(self, start: date, end: date) -> Engagement:
        engagement = Engagement(
            name=f"random {start}",
            framework_key="iso27001-2022",
            period_start=start,
            period_end=end,
            created_at=moment(self.today, self.rng),
        )
        self.session.add(engagement)
        self.session.flush()
        return engagement

    def evidence_ids(self) -> list[int]:
        return list(self.session.scalars(select(Evidence.id).order_by(Evidence.id)))

    def _fields(self) -> dict[str, object]:
        collected = self.today - timedelta(days=self.rng.randint(0, 420))
        sha = self.rng.choice(SHAS)
        return {
            "title": f"random evidence {collected}",
            "source_kind": "upload",
            "collected_at": moment(collected, self.rng),
            "original_filename": "proof.txt",
            "content_type": "text/plain",
            "size": 10,
            "sha256": sha,
            "store_key": f"sha256/{sha}",
            "created_at": moment(self.today, self.rng),
            "legal_hold": False,
        }

    def ingest(self) -> None:
        evidence = Evidence(**self._fields())  # type: ignore[arg-type]
        links = {r.id for r in self.rng.sample(self.requirements, self.rng.randint(1, 3))}
        evidence_repository.add_evidence(self.session, evidence, requirement_ids=links, control_ids=())  # type: ignore[arg-type]

    def ingest_in_bulk(self) -> None:
        rows = [self._fields() for _ in range(self.rng.randint(2, 6))]
        ids = list(self.session.scalars(insert(Evidence).returning(Evidence.id), rows))
        self.session.execute(
            insert(EvidenceRequirement),
            [
                {"evidence_id": evidence_id, "requirement_id": self.rng.choice(self.requirements).id}
                for evidence_id in ids
            ],
        )

    def supersede(self) -> None:
        live = list(self.session.scalars(select(Evidence).where(Evidence.superseded_at.is_(None))))
        if not live:
            return
        old = self.rng.choice(live)
        links = [rid for rid, _ in repository.evidence_link_times(self.session.connection(), [old.id])]  # type: ignore[list-item]
        newer = Evidence(**{**self._fields(), "supersedes_id": old.id})  # type: ignore[arg-type]
        evidence_repository.add_evidence(self.session, newer, requirement_ids=links, control_ids=())
        old.superseded_at = moment(self.today, self.rng)
        self.session.flush()

    def recollect(self) -> None:
        """A correction of an item's collection date (what a data repair does)."""
        ids = self.evidence_ids()
        if ids:
            item = self.session.get(Evidence, self.rng.choice(ids))
            item.collected_at = moment(self.today - timedelta(days=self.rng.randint(0, 420)), self.rng)  # type: ignore[union-attr]
            self.session.flush()

    def relink(self) -> None:
        links = list(self.session.scalars(select(EvidenceRequirement)))
        if links and self.rng.random() < 0.5:
            self.session.delete(self.rng.choice(links))
        elif ids := self.evidence_ids():
            evidence_id, requirement = self.rng.choice(ids), self.rng.choice(self.requirements)
            if self.session.get(EvidenceRequirement, (evidence_id, requirement.id)) is None:
                self.session.add(EvidenceRequirement(evidence_id=evidence_id, requirement_id=requirement.id))
        self.session.flush()

    def review(self) -> None:
        ids = self.evidence_ids()
        if not ids:
            return
        engagement = self.rng.choice((self.current, self.past))
        status = self.rng.choice((REVIEW_REJECTED, REVIEW_REJECTED, "accepted"))
        evidence_id = self.rng.choice(ids)
        existing = self.session.get(EvidenceReview, (engagement.id, evidence_id))
        if existing is not None:
            existing.status = status
        else:
            self.session.add(
                EvidenceReview(
                    engagement_id=engagement.id,
                    evidence_id=evidence_id,
                    status=status,
                    reviewed_at=moment(self.today, self.rng),
                )
            )
        self.session.flush()

    def review_in_bulk(self) -> None:
        """A change of many reviews in one statement, past the ORM (as a data repair would)."""
        engagement = self.rng.choice((self.current, self.past))
        reviewed = list(
            self.session.scalars(
                select(EvidenceReview.evidence_id).where(EvidenceReview.engagement_id == engagement.id)
            )
        )
        if reviewed:
            chosen = self.rng.sample(reviewed, self.rng.randint(1, len(reviewed)))
            self.session.execute(
                update(EvidenceReview)
                .where(EvidenceReview.engagement_id == engagement.id, EvidenceReview.evidence_id.in_(chosen))
                .values(status=self.rng.choice((REVIEW_REJECTED, "accepted")))
            )

    def finding(self) -> None:
        findings = list(self.session.scalars(select(Finding)))
        if findings and self.rng.random() < 0.4:
            self.rng.choice(findings).status = self.rng.choice(("closed", "open", "risk_accepted"))
        elif ids := self.evidence_ids():
            self.session.add(
                Finding(
                    source="collector",
                    title="random finding",
                    severity=self.rng.choice(("high", "critical", "low")),
                    evidence_id=self.rng.choice(ids),
                    created_at=moment(self.today, self.rng),
                )
            )
        self.session.flush()

    def signoff(self) -> None:
        ids = self.evidence_ids()
        if ids and self.session.get(EvidenceSignoff, evidence_id := self.rng.choice(ids)) is None:
            self.session.add(
                EvidenceSignoff(
                    evidence_id=evidence_id,
                    signed_by_id=self.signer_id,
                    signed_at=moment(self.today, self.rng),
                    remark="random sign-off",
                )
            )
            self.session.flush()

    def soa(self) -> None:
        control_id = self.rng.choice(self.controls)
        entry = self.session.get(SoaEntry, control_id)
        if entry is None:
            self.session.add(
                SoaEntry(
                    control_id=control_id,
                    applicable=False,
                    justification="random exclusion",
                    updated_at=moment(self.today, self.rng),
                )
            )
        else:
            entry.applicable = not entry.applicable
        self.session.flush()

    def integrity(self) -> None:
        evidence_repository.mark_integrity(
            self.session, self.rng.choice(SHAS), INTEGRITY_CORRUPTED, moment(self.today, self.rng)
        )

    def purge(self) -> None:
        ids = self.evidence_ids()
        if ids:
            for evidence_id in self.rng.sample(ids, min(len(ids), 2)):
                self.session.get(Evidence, evidence_id).retention_until = self.today - timedelta(days=1)  # type: ignore[union-attr]
            self.session.flush()
            purge_records(self.session, today=self.today)

    def clock(self) -> None:
        self.today += timedelta(days=self.rng.choice((0, 1, 3, 9, 30, 90)))

    def step(self) -> None:
        operation = self.rng.choices(
            (
                self.ingest,
                self.ingest_in_bulk,
                self.supersede,
                self.recollect,
                self.relink,
                self.review,
                self.review_in_bulk,
                self.finding,
                self.signoff,
                self.soa,
                self.integrity,
                self.purge,
                self.clock,
            ),
            weights=(8, 2, 3, 1, 2, 4, 1, 3, 2, 2, 1, 1, 3),
        )[0]
        operation()


def assert_rollup_equals_scratch(session, world: World) -> None:
    today = world.today
    views = [
        (today - timedelta(days=364), today, today, None),
        (today - timedelta(days=364), today - timedelta(days=40), today - timedelta(days=40), None),
        (world.current.period_start, world.current.period_end, today, world.current.id),
        (world.past.period_start, world.past.period_end, today, world.past.id),
        (world.past.period_start, world.past.period_end, today, None),
    ]
    for framework in FRAMEWORKS:
        for kind in PARTS:
            for start, end, as_of, engagement_id in views:
                arguments = dict(
                    framework_key=framework,
                    period_start=start,
                    period_end=end,
                    as_of=as_of,
                    engagement_id=engagement_id,
                    kind=kind,
                )
                assert compute_coverage(session, **arguments) == compute_coverage(
                    session, **arguments, from_scratch=True
                ), arguments


@pytest.fixture
def pool(catalogue, make_user):
    """A handful of requirements (some need a sign-off, some reach a control through a measure)
    and the 2022 controls, so random writes meet often enough to matter."""
    rng = random.Random(17)
    requirements = list(catalogue.scalars(select(Requirement).order_by(Requirement.id)))
    chosen = rng.sample([r for r in requirements if r.needs_signoff], 3) + rng.sample(requirements, 9)
    controls = list(
        catalogue.scalars(select(Control.id).where(Control.framework_key == "iso27001-2022").order_by(Control.id))
    )
    return chosen, controls, make_user("it").id


@pytest.mark.parametrize("seed", SEEDS)
def test_the_maintained_rollup_equals_the_evidence_after_random_writes(catalogue, pool, seed):
    rng = random.Random(seed)
    world = World(catalogue, rng, *pool)
    for _ in range(OPERATIONS):
        world.step()
    assert catalogue.scalar(select(Evidence.id).limit(1)) is not None
    assert_rollup_equals_scratch(catalogue, world)
    maintained = repository.rollup_cells(catalogue), repository.rejection_cells_in_order(catalogue)
    rollup.rebuild(catalogue)
    assert (repository.rollup_cells(catalogue), repository.rejection_cells_in_order(catalogue)) == maintained


def test_the_rollup_sees_what_the_from_scratch_count_sees(catalogue, add_evidence):
    """A supersession counts up to its day and a rejection only in its engagement."""
    first = add_evidence("OPS-2/patches", date(2026, 5, 1))
    add_evidence("OPS-2/patches", date(2026, 5, 20))
    first.superseded_at = datetime(2026, 6, 1, 8, tzinfo=UTC)
    catalogue.flush()
    requirement_id = catalogue.scalar(select(Requirement.id).where(Requirement.key == "OPS-2/patches"))
    before = rollup.newest_evidence(catalogue, {requirement_id}, date(2026, 1, 1), date(2026, 5, 31), None)  # type: ignore[arg-type]
    after = rollup.newest_evidence(catalogue, {requirement_id}, date(2026, 1, 1), date(2026, 6, 1), None)  # type: ignore[arg-type]
    assert before[requirement_id].evidence_count == 2 and after[requirement_id].evidence_count == 1


def test_check_finds_a_broken_rollup_and_rebuild_repairs_it(tmp_path, monkeypatch):
    """From the shell, against a database of its own (the commands open their own connections)."""
    database_url = f"sqlite:///{tmp_path / 'portal.db'}"
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    today = utcnow().date()
    with unit_of_work(engine) as session:
        load_catalogue(session)
        for key, days_ago in (("OPS-2/patches", 3), ("BCM-1/backup", 1), ("OPS-2/patches", 200)):
            factories.add_evidence_row(session, key, today - timedelta(days=days_ago))
    with engine.begin() as connection:  # raw SQL: past the hooks, as a careless repair would be
        connection.exec_driver_sql("DELETE FROM coverage_rollup")
    monkeypatch.setenv("AUDIT_PORTAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AUDIT_PORTAL_DATABASE_URL", database_url)
    runner = CliRunner()

    broken = runner.invoke(cli, ["coverage", "check"])
    assert broken.exit_code == 1
    assert "run `audit-portal coverage rebuild`" in broken.output
    rebuilt = runner.invoke(cli, ["coverage", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "Coverage rollup rebuilt: 3 cells." in rebuilt.output
    checked = runner.invoke(cli, ["coverage", "check"])
    assert checked.exit_code == 0, checked.output

    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM coverage_rollup")
    with unit_of_work(engine) as session:
        assert rollup.fill_if_empty(session)  # what the app does when it starts
        assert len(repository.rollup_cells(session)) == 3
        assert not rollup.fill_if_empty(session)
    engine.dispose()


def reject(session, engagement: Engagement, items: list[Evidence]) -> None:
    for evidence in items:
        session.add(
            EvidenceReview(
                engagement_id=engagement.id,
                evidence_id=evidence.id,
                status=REVIEW_REJECTED,
                reviewed_at=engagement.created_at,
            )
        )
    session.flush()


# Where the newest item the engagement kept lies, seen from the newest item it rejected on `LAST`:
# earlier the same day, on an earlier day within the days looked back over, or before them (all
# of the look-back's links rejected), and the case where the engagement rejected every item.
LAST = date(2026, 6, 30)
KEPT = {
    "earlier the same day": (LAST, 8),
    "on an earlier day": (LAST - timedelta(days=6), 12),
    "before the days looked back over": (LAST - timedelta(days=rollup.LOOK_BACK_DAYS + 20), 12),
    "nowhere": None,
}


@pytest.mark.parametrize("case", KEPT)
def test_an_engagement_that_rejects_the_newest_items_counts_the_newest_it_kept(catalogue, case, monkeypatch):
    requirement = catalogue.scalar(select(Requirement).where(Requirement.key == "OPS-2/patches"))
    engagement = Engagement(
        name="rejections",
        framework_key="iso27001-2022",
        period_start=date(2026, 1, 1),
        period_end=LAST,
        created_at=factories.at(LAST),
    )
    catalogue.add(engagement)
    catalogue.flush()

    def item(day: date, hour: int) -> Evidence:
        return factories.add_evidence_row(catalogue, "OPS-2/patches", day, hour)

    rejected = [item(LAST, 15), item(LAST, 12)]
    rejected += [item(LAST - timedelta(days=back), 12) for back in (1, 3, rollup.LOOK_BACK_DAYS - 1)]
    kept = item(*KEPT[case]) if KEPT[case] else None
    reject(catalogue, engagement, rejected)

    whole_period: list[set[int]] = []
    looked_up = repository.newest_counting_at

    def newest_over_the_whole_period(session, requirement_ids, *arguments):
        whole_period.append(set(requirement_ids))
        return looked_up(session, requirement_ids, *arguments)

    monkeypatch.setattr(repository, "newest_counting_at", newest_over_the_whole_period)
    newest = rollup.newest_evidence(catalogue, {requirement.id}, engagement.period_start, LAST, engagement.id)
    # the whole history is read only when the days looked back over hold no kept item (and not at
    # all when the engagement rejected every item: nothing is left to look for)
    expected = {"before the days looked back over": [{requirement.id}], "nowhere": []}
    assert whole_period == expected.get(case, [set()])
    if kept is None:
        assert newest == {}
    else:
        assert newest[requirement.id].newest_at == kept.collected_at
        assert newest[requirement.id].evidence_count == 1
    arguments = dict(framework_key="iso27001-2022", period_start=engagement.period_start, period_end=LAST, as_of=LAST)
    assert compute_coverage(catalogue, **arguments, engagement_id=engagement.id) == compute_coverage(
        catalogue, **arguments, engagement_id=engagement.id, from_scratch=True
    )


def test_the_running_counts_migration_gives_what_the_hooks_keep(database_url, tmp_path):
    """Revision 0080 fills the running counts of an existing rollup with one window over the cells
    not superseded, and the rejection cells from the reviews: down to the revision before it and
    up again, the cells are those the hooks kept, running counts and rejections included."""
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            with unit_of_work(engine) as session:
                load_catalogue(session)
                for key, days_ago in (("OPS-2/patches", 40), ("OPS-2/patches", 3), ("BCM-1/backup", 9)):
                    factories.add_evidence_row(session, key, START - timedelta(days=days_ago))
                superseded = factories.add_evidence_row(session, "OPS-2/patches", START - timedelta(days=20))
                superseded.superseded_at = factories.at(START)
                rejected = factories.add_evidence_row(session, "OPS-2/patches", START - timedelta(days=3))
                engagement = Engagement(
                    name="migrated",
                    framework_key="iso27001-2022",
                    period_start=START - timedelta(days=90),
                    period_end=START,
                    created_at=factories.at(START),
                )
                session.add(engagement)
                session.flush()
                reject(session, engagement, [rejected, superseded])
            with unit_of_work(engine) as session:
                kept = repository.rollup_cells(session), repository.rejection_cells_in_order(session)
            assert sorted(cell[5] for cell in kept[0] if cell[5] is not None) == [1, 1, 3]
            assert [(cell[3] is None, cell[4]) for cell in kept[1]] == [(False, 1), (True, 1)]
            migrate.downgrade(engine, "0079_corrupted_index")
            migrate.upgrade(engine)
            with unit_of_work(engine) as session:
                assert (repository.rollup_cells(session), repository.rejection_cells_in_order(session)) == kept
        finally:
            engine.dispose()
