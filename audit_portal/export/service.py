"""The rules of an export: who may export which engagement, what the page previews, and the audit
event every export leaves."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from audit_portal.audit.service import record_event
from audit_portal.config import Settings
from audit_portal.engagements import repository as engagements
from audit_portal.engagements import scope
from audit_portal.engagements.models import Engagement
from audit_portal.errors import Conflict, NotFound
from audit_portal.export.package import (
    Package,
    PackageContents,
    Signer,
    build_package,
    collect_contents,
)
from audit_portal.export.signing import SigningKey, signing_key
from audit_portal.i18n import N_, Sentences
from audit_portal.principals import Actor, Principal

EXPORT_ACTION = "engagement.export"
PREVIEW_ACTION = "engagement.export_view"


def engagement_for_export(session: Session, principal: Principal, engagement_id: int) -> Engagement:
    """The engagement, or 404 when it does not exist or the auditor is not assigned to it: an
    auditor learns nothing about audits that are not theirs, not even that they exist."""
    return scope.get_engagement(session, principal, engagement_id)


def contents_of(session: Session, engagement: Engagement) -> PackageContents:
    control_ids = engagements.scope_control_ids(session, engagement.id)
    return collect_contents(session, engagement, control_ids or None)


@dataclass(frozen=True)
class ExportPreview:
    engagement: Engagement
    contents: PackageContents
    key: SigningKey


def preview(session: Session, settings: Settings, *, actor: Actor, engagement_id: int) -> ExportPreview:
    principal = actor.principal
    engagement = engagement_for_export(session, principal, engagement_id)
    contents = contents_of(session, engagement)
    record_event(
        session,
        actor=actor,
        action=PREVIEW_ACTION,
        object_type="engagement",
        object_id=str(engagement.id),
    )
    return ExportPreview(engagement, contents, signing_key(settings))


class PackageHasCorruptedEvidence(Conflict):
    pass


def _refuse_corrupted(contents: PackageContents) -> None:
    """A package is signed as authentic; evidence known to be corrupted stops it before a byte
    goes out. (Damage found while streaming stops the stream as well, see ``EvidenceBody``.)"""
    damaged = contents.totals.corrupted_ids
    if damaged:
        names = Sentences(({"message": N_("evidence %(id)s"), "values": {"id": item}} for item in damaged), ", ")
        raise PackageHasCorruptedEvidence(
            N_(
                "The package cannot be exported: %(names)s is corrupted (its stored file no longer "
                "matches the recorded SHA-256). Repair it by uploading the original file again, or "
                "supersede it, then export again."
            ),
            values={"names": names},
        )


def export(
    session: Session,
    settings: Settings,
    *,
    actor: Actor,
    engagement_id: int,
) -> Package:
    """The signed package of the engagement, ready to stream, and its audit event (recorded
    before the first byte goes out: the unit of work commits before the response starts)."""
    if not actor.is_system:
        engagement = engagement_for_export(session, actor.principal, engagement_id)
    else:
        found = engagements.get(session, engagement_id)  # the command line is the operator
        if found is None:
            raise NotFound(N_("There is no engagement %(id)s."), values={"id": engagement_id})
        engagement = found
    generated_by = actor.principal.username
    contents = contents_of(session, engagement)
    _refuse_corrupted(contents)
    package = build_package(
        contents,
        Signer(key=signing_key(settings), generated_by=generated_by, portal_url=settings.base_url),
    )
    record_event(
        session,
        actor=actor,
        action=EXPORT_ACTION,
        object_type="engagement",
        object_id=str(engagement.id),
        detail={
            "filename": package.filename,
            "files": package.file_count,
            "evidence_items": package.contents.evidence_items,
            "bytes": package.total_bytes,
            "manifest_sha256": package.manifest_sha256,
            "key_fingerprint": package.key_fingerprint,
        },
    )
    return package
