"""What the package holds, in what order, and that the stream carries the evidence unchanged."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

from audit_portal.export import verify
from tests.export.conftest import make_package, package_bytes


def _archive(session, settings, store, engagement):  # type: ignore[no-untyped-def]
    package = make_package(session, settings, engagement)
    data = package_bytes(package, store)
    return package, data, zipfile.ZipFile(io.BytesIO(data))


def test_the_manifest_and_reports_open_the_archive_and_the_evidence_follows(session, settings, store, seeded):
    package, data, archive = _archive(session, settings, store, seeded.engagement)
    names = archive.namelist()
    assert names[:12] == [
        "manifest.json",
        "manifest.sig",
        "manifest.csv",
        "README.txt",
        "verify.py",
        "soa.csv",
        "coverage.html",
        "findings.csv",
        "findings.json",
        "finding_history.csv",
        "review_signoffs.csv",
        "rule_decisions.csv",
    ]
    assert all(name.startswith("controls/") for name in names[12:])
    assert package.total_bytes < len(data)  # headers on top of the content


def test_the_stream_length_is_known_before_streaming(session, settings, store, seeded):
    from audit_portal.export.package import archive_stream

    package = make_package(session, settings, seeded.engagement)
    stream = archive_stream(package, store)
    announced = len(stream)
    assert announced == len(b"".join(stream))


def test_each_control_folder_holds_its_evidence_with_superseded_revisions_marked(session, settings, store, seeded):
    _, _, archive = _archive(session, settings, store, seeded.engagement)
    names = set(archive.namelist())
    v1, v2 = seeded.patches_v1.id, seeded.patches_v2.id
    assert f"controls/8.8/{v1}-superseded-by-{v2}-patches.txt" in names
    assert f"controls/8.8/{v2}-patches.txt" in names
    # ORG-2 maps to 5.6 and 5.7: the item is in both folders.
    assert f"controls/5.6/{seeded.advisories.id}-advisories_report.txt" in names
    assert f"controls/5.7/{seeded.advisories.id}-advisories_report.txt" in names
    assert f"controls/5.15/{seeded.direct.id}-access-review.txt" in names
    assert not any(name.startswith("controls/") and f"/{seeded.outside.id}-" in name for name in names)
    for name in names:
        if name.startswith("controls/"):
            evidence_id = int(name.split("/")[2].split("-")[0])
            assert archive.read(name) == seeded.contents[evidence_id]


def test_evidence_linked_to_a_measure_lands_under_the_controls_it_maps_to(session, settings, store, seeded):
    package, _, archive = _archive(session, settings, store, seeded.engagement)
    folders = {f.control_ref for f in package.contents.files if f.evidence.id == seeded.via_measure.id}
    assert folders, "OPS-4 maps to 2022 controls; its directly linked evidence must appear under them"
    for ref in folders:
        assert f"controls/{ref}/{seeded.via_measure.id}-baseline.txt" in archive.namelist()


def test_the_manifest_lists_every_file_with_its_hash_and_the_evidence_metadata(session, settings, store, seeded):
    _, _, archive = _archive(session, settings, store, seeded.engagement)
    manifest = json.loads(archive.read("manifest.json"))
    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert set(listed) == set(archive.namelist()) - {"manifest.json", "manifest.sig"}
    for path, entry in listed.items():
        content = archive.read(path)
        assert entry["sha256"] == hashlib.sha256(content).hexdigest()
        assert entry["size"] == len(content)
    assert manifest["manifest_csv_sha256"] == hashlib.sha256(archive.read("manifest.csv")).hexdigest()
    superseded = listed[f"controls/8.8/{seeded.patches_v1.id}-superseded-by-{seeded.patches_v2.id}-patches.txt"]
    assert superseded["superseded"] is True and superseded["superseded_by"] == seeded.patches_v2.id
    assert superseded["requirements"] == ["OPS-2/patches"]
    rejected = listed[f"controls/5.6/{seeded.advisories.id}-advisories_report.txt"]
    assert (rejected["review"], rejected["review_comment"]) == ("rejected", "wrong quarter")
    assert listed[f"controls/5.15/{seeded.direct.id}-access-review.txt"]["requirements"] == ["(linked to the control)"]
    assert manifest["engagement"]["period_start"] == "2026-01-01"
    assert manifest["evidence_items"] == 5


def test_manifest_csv_has_one_row_per_evidence_file(session, settings, store, seeded):
    package, _, archive = _archive(session, settings, store, seeded.engagement)
    rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode("utf-8"))))
    assert [row["path"] for row in rows] == [f.path for f in package.contents.files]
    v1_row = next(row for row in rows if row["item"] == str(seeded.patches_v1.id))
    assert v1_row["control"] == "8.8"
    assert v1_row["requirement"] == "OPS-2/patches"
    assert v1_row["superseded_by"] == str(seeded.patches_v2.id)
    assert v1_row["review"] == "pending"
    assert v1_row["source"].startswith("upload by it.user")
    assert v1_row["collected_at"].startswith("2026-03-01")


def test_soa_carries_coverage_status_and_newest_evidence_date(session, settings, store, seeded):
    _, _, archive = _archive(session, settings, store, seeded.engagement)
    rows = {row["control"]: row for row in csv.DictReader(io.StringIO(archive.read("soa.csv").decode("utf-8")))}
    assert len(rows) == 93
    # v2 superseded v1, so the newest counting evidence of 8.8 is v2's date.
    assert rows["8.8"]["newest_evidence"] == "2026-03-02"
    assert rows["8.8"]["files_in_package"] == "2"
    assert rows["8.8"]["coverage_status"] in ("Stale", "Covered", "Partial")  # the labels the pages show
    assert rows["5.15"]["newest_evidence"] == ""  # a direct link does not satisfy a requirement


def test_findings_and_coverage_report_are_included(session, settings, store, seeded):
    _, _, archive = _archive(session, settings, store, seeded.engagement)
    findings = json.loads(archive.read("findings.json"))
    assert [f["id"] for f in findings] == [seeded.finding.id]
    assert findings[0]["category"] == "minor_nc"
    assert [step["to"] for step in findings[0]["history"]] == ["open"]
    history = list(csv.DictReader(io.StringIO(archive.read("finding_history.csv").decode("utf-8"))))
    assert [(row["finding_id"], row["to_status"]) for row in history] == [(str(seeded.finding.id), "open")]
    assert "Patch evidence incomplete" in archive.read("findings.csv").decode("utf-8")
    html = archive.read("coverage.html").decode("utf-8")
    assert "Surveillance audit 2026" in html and "<script" not in html
    with open(verify.__file__, "rb") as source:
        assert archive.read("verify.py") == source.read()


def test_a_scoped_engagement_exports_only_its_controls(session, settings, store, seeded):
    from sqlalchemy import select

    from audit_portal.catalogue.models import Control
    from audit_portal.engagements.models import EngagementScope

    control = session.scalars(
        select(Control).where(Control.framework_key == "iso27001-2022", Control.ref == "8.8")
    ).one()
    session.add(EngagementScope(engagement_id=seeded.engagement.id, control_id=control.id))
    session.flush()
    _, _, archive = _archive(session, settings, store, seeded.engagement)
    folders = {name.split("/")[1] for name in archive.namelist() if name.startswith("controls/")}
    assert folders == {"8.8"}


class _SwappedBytesStore:
    """A store whose objects were changed behind the portal's back: same size, other bytes."""

    def __init__(self, sizes: dict[str, int]) -> None:
        self._sizes = sizes

    def iter_chunks(self, key: str, chunk_size: int):  # type: ignore[no-untyped-def]
        yield b"x" * self._sizes[key]


def test_an_object_that_no_longer_matches_its_record_stops_the_export(session, settings, seeded):
    import pytest

    from audit_portal.export.package import archive_stream
    from evidence_store import IntegrityError

    package = make_package(session, settings, seeded.engagement)
    store = _SwappedBytesStore({f.evidence.store_key: f.size for f in package.contents.files})
    first = package.contents.files[0].evidence.id
    with pytest.raises(IntegrityError, match=f"evidence {first} .* is corrupted, the export stopped"):
        b"".join(archive_stream(package, store))  # type: ignore[arg-type]


def test_the_sign_offs_and_rule_decisions_of_the_runs_are_included(session, settings, store, seeded, make_user):
    from datetime import timedelta

    from audit_portal.clock import utcnow
    from audit_portal.collection.models import CollectorInstance, CollectorRun, RuleDecision
    from audit_portal.evidence.models import EvidenceSignoff

    signer = make_user("it")
    item = seeded.advisories  # ORG-2/advisories needs a sign-off
    instance = CollectorInstance(
        name="advisories-ncsc",
        collector="advisories",
        config_json="{}",
        schedule="@weekly",
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    session.add(instance)
    session.flush()
    run = CollectorRun(
        instance_id=instance.id,
        instance_name=instance.name,
        trigger="schedule",
        started_at=item.collected_at,
        finished_at=item.collected_at,
        status="ok",
    )
    session.add(run)
    session.flush()
    item.collector_run_id, item.collector_instance = run.id, instance.name
    session.add(
        EvidenceSignoff(
            evidence_id=item.id,
            signed_by_id=signer.id,
            signed_at=item.collected_at + timedelta(days=30),
            remark="=every advisory read",
        )
    )
    session.add(
        RuleDecision(
            run_id=run.id,
            rule_index=3,
            rule_label="edge:filter/input #4",
            rule_text="tcp dport 23 accept",
            decision="remove",
            reason="Telnet is gone.",
            decided_by_id=signer.id,
            decided_at=utcnow(),
        )
    )
    session.flush()
    _, _, archive = _archive(session, settings, store, seeded.engagement)
    signoffs = list(csv.DictReader(io.StringIO(archive.read("review_signoffs.csv").decode("utf-8"))))
    assert [(row["run"], row["signed_by"], row["days_after_run"], row["late"]) for row in signoffs] == [
        (str(run.id), signer.username, "30", "yes")
    ]
    assert signoffs[0]["remark"] == "'=every advisory read"  # a formula stays text
    decisions = list(csv.DictReader(io.StringIO(archive.read("rule_decisions.csv").decode("utf-8"))))
    assert [(row["rule"], row["decision"], row["reason"], row["decided_by"]) for row in decisions] == [
        ("3", "remove", "Telnet is gone.", signer.username)
    ]
