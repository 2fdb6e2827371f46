"""Evidence: an immutable record of one stored object plus what it proves.

The object (content-addressed by SHA-256 in the evidence store) never changes and neither do the
record's content fields; a correction is a new record whose ``supersedes_id`` names the old one,
both kept. Identical bytes uploaded twice give two records sharing one object.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

SOURCE_UPLOAD = "upload"  # a person uploaded it in the portal
SOURCE_API = "api"  # a script or remote collector pushed it with a service token
SOURCE_COLLECTOR = "collector"  # an in-process collector run produced it

INTEGRITY_OK = "ok"
INTEGRITY_CORRUPTED = "corrupted"  # the stored object no longer hashes to the record's sha256


class Evidence(SQLModel, table=True):
    __tablename__ = "evidence"
    __table_args__ = (
        sa.Index("ix_evidence_collected_at_id", "collected_at", "id"),
        # The dashboard counts the corrupted items on every view; there are none or a few.
        sa.Index(
            "ix_evidence_corrupted",
            "id",
            postgresql_where=sa.text(f"integrity = '{INTEGRITY_CORRUPTED}'"),
            sqlite_where=sa.text(f"integrity = '{INTEGRITY_CORRUPTED}'"),
        ),
    )

    id: int = Field(default=None, primary_key=True)
    title: str = Field(max_length=300)
    description: str | None = Field(default=None, sa_type=sa.Text)
    source_kind: str = Field(max_length=16)
    uploaded_by_id: int | None = Field(default=None, foreign_key="user_account.id", index=True)
    token_id: int | None = Field(default=None, foreign_key="service_token.id")
    collector_instance: str | None = Field(default=None, max_length=100, index=True)
    collector_run_id: int | None = Field(default=None, index=True)
    artifact_kind: str | None = Field(default=None, max_length=16)  # raw | normalised | report
    collected_at: datetime
    period_from: date | None = None
    period_to: date | None = None
    valid_until: date | None = Field(default=None, index=True)  # certificates and other proofs that expire
    original_filename: str = Field(max_length=255)
    content_type: str = Field(max_length=127)
    size: int = Field(sa_type=sa.BigInteger)
    sha256: str = Field(max_length=64, index=True)
    store_key: str = Field(max_length=255)
    retention_until: date | None = None
    legal_hold: bool = False
    supersedes_id: int | None = Field(default=None, foreign_key="evidence.id", index=True)
    superseded_at: datetime | None = None  # set when a newer record supersedes this one
    created_at: datetime
    # The name as the client sent it, when invisible characters were removed (see sniffing).
    submitted_filename: str | None = Field(default=None, max_length=1000)
    # ok, or corrupted once a read or the scrub found the object not hashing to sha256.
    integrity: str = Field(default=INTEGRITY_OK, max_length=16, sa_column_kwargs={"server_default": INTEGRITY_OK})
    integrity_checked_at: datetime | None = None


class PendingObject(SQLModel, table=True):
    """An upload on its way to becoming a record: written (and committed) once the upload knows
    its object's key and before it creates or re-uses the object, deleted in the transaction
    that commits the record. ``reconcile`` never deletes an object that has a pending row, so an
    orphan cannot vanish under an upload that is about to reference it."""

    __tablename__ = "pending_object"

    id: int = Field(default=None, primary_key=True)
    store_key: str = Field(max_length=255, index=True)
    created_at: datetime


FACET_CONTENT_TYPE = "content_type"
FACET_COLLECTOR_INSTANCE = "collector_instance"


class EvidenceFacet(SQLModel, table=True):
    """A value the evidence list offers as a filter (a content type, a collector instance).

    Kept as items are added so the list reads a few rows here instead of a ``SELECT DISTINCT``
    over all evidence on every load. A value stays once seen, even if its items are purged: the
    filter then shows an empty list, which is honest, and costs nothing."""

    __tablename__ = "evidence_facet"

    kind: str = Field(max_length=32, primary_key=True)
    value: str = Field(max_length=255, primary_key=True)


class EvidenceRequirement(SQLModel, table=True):
    __tablename__ = "evidence_requirement"

    evidence_id: int = Field(foreign_key="evidence.id", primary_key=True)
    requirement_id: int = Field(foreign_key="requirement.id", primary_key=True, index=True)


class EvidenceControl(SQLModel, table=True):
    __tablename__ = "evidence_control"

    evidence_id: int = Field(foreign_key="evidence.id", primary_key=True)
    control_id: int = Field(foreign_key="control.id", primary_key=True, index=True)


class EvidenceSignoff(SQLModel, table=True):
    """A person's sign-off of an evidence item whose requirement needs one (a firewall-rule
    review counts for COM-1 only once someone with the it role has reviewed it)."""

    __tablename__ = "evidence_signoff"

    evidence_id: int = Field(foreign_key="evidence.id", primary_key=True)
    signed_by_id: int = Field(foreign_key="user_account.id")
    signed_at: datetime
    remark: str = Field(sa_type=sa.Text)
