"""The catalogue in the database: frameworks, their groups and controls (Annex 2 measures are
controls of the ``annex2`` framework), mappings between controls, and requirements."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

MAPS_TO = "maps_to"  # a measure (or control) of one framework implements a control of another
SUCCESSOR = "successor"  # a 2013 control corresponds to a 2022 control (ISO/IEC 27002:2022 Annex B)
KIND_CONTROL = "controls"  # an Annex A control or an organisation's measure
KIND_CLAUSE = "clauses"  # an ISMS clause (4.1 to 10.2): its own coverage, never in the SoA


class Framework(SQLModel, table=True):
    __tablename__ = "framework"

    key: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=300)
    version: str = Field(max_length=64)
    language: str = Field(max_length=8)
    scope: str | None = Field(default=None, sa_type=sa.Text)
    scope_nl: str | None = Field(default=None, sa_type=sa.Text)
    successor_framework: str | None = Field(default=None, max_length=64)
    source_name: str = Field(max_length=300)
    content_sha256: str = Field(max_length=64)
    loaded_at: datetime


class ControlGroup(SQLModel, table=True):
    __tablename__ = "control_group"
    __table_args__ = (sa.UniqueConstraint("framework_key", "key"),)

    id: int = Field(default=None, primary_key=True)
    framework_key: str = Field(foreign_key="framework.key", max_length=64)
    key: str = Field(max_length=64)
    title: str = Field(max_length=300)
    title_nl: str | None = Field(default=None, max_length=300)
    position: int
    kind: str = Field(default=KIND_CONTROL, max_length=16)


class Control(SQLModel, table=True):
    __tablename__ = "control"
    __table_args__ = (sa.UniqueConstraint("framework_key", "ref"),)

    id: int = Field(default=None, primary_key=True)
    framework_key: str = Field(foreign_key="framework.key", max_length=64, index=True)
    ref: str = Field(max_length=64)
    group_key: str = Field(max_length=64)
    title: str = Field(max_length=500)
    title_nl: str | None = Field(default=None, max_length=500)
    text: str | None = Field(default=None, sa_type=sa.Text)
    text_nl: str | None = Field(default=None, sa_type=sa.Text)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    position: int
    retired_at: datetime | None = None  # no longer in the loaded file; kept for its evidence
    kind: str = Field(default=KIND_CONTROL, max_length=16, index=True)  # copied from its group

    @property
    def is_clause(self) -> bool:
        return self.kind == KIND_CLAUSE


class ControlMapping(SQLModel, table=True):
    __tablename__ = "control_mapping"
    __table_args__ = (sa.UniqueConstraint("source_id", "target_id", "kind"),)

    id: int = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="control.id", index=True)
    target_id: int = Field(foreign_key="control.id", index=True)
    kind: str = Field(max_length=16)
    rationale: str | None = Field(default=None, sa_type=sa.Text)


class Requirement(SQLModel, table=True):
    __tablename__ = "requirement"

    id: int = Field(default=None, primary_key=True)
    key: str = Field(max_length=128, unique=True)
    control_id: int = Field(foreign_key="control.id", index=True)
    title: str = Field(max_length=300)
    evidence_kind: str = Field(max_length=32)
    collector: str = Field(max_length=64, index=True)
    frequency_days: int
    grace_days: int
    needs_signoff: bool = False
    tracks_expiry: bool = False
    auditor_expects: str = Field(sa_type=sa.Text)
    position: int
    retired_at: datetime | None = None

    @property
    def is_manual(self) -> bool:
        return self.collector == "manual"


class CatalogueLoad(SQLModel, table=True):
    """One load that changed a framework: the catalogue version the portal runs on, over time."""

    __tablename__ = "catalogue_load"

    id: int = Field(default=None, primary_key=True)
    framework_key: str = Field(foreign_key="framework.key", max_length=64, index=True)
    version: str = Field(max_length=64)
    content_sha256: str = Field(max_length=64)
    source_name: str = Field(max_length=300)
    loaded_at: datetime
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class RequirementSwitchOff(SQLModel, table=True):
    """The organisation's decision that a library requirement does not apply, with its reason.

    A switched-off requirement no longer counts for its control; a control whose requirements are
    all switched off shows ``no_requirement`` and never counts as covered. Switching back on
    deletes the row; both changes are audit events."""

    __tablename__ = "requirement_switch_off"

    requirement_id: int = Field(foreign_key="requirement.id", primary_key=True)
    reason: str = Field(sa_type=sa.Text)
    switched_off_by: str = Field(max_length=100)
    switched_off_at: datetime
