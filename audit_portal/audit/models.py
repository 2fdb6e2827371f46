"""Audit events and the head of their hash chain."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

GENESIS_HASH = "0" * 64


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_object", "object_type", "object_id"),)

    # Assigned from the chain head under its lock, so ids are gapless and give the chain order.
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(index=True)
    actor: str = Field(max_length=100, index=True)
    actor_role: str = Field(max_length=20)
    address: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=100, index=True)
    object_type: str = Field(default="", max_length=50)
    object_id: str = Field(default="", max_length=200)
    outcome: str = Field(max_length=20)
    detail: str = Field(default="{}", sa_type=sa.Text)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    # HMAC-SHA256 with a key kept out of the database, over the previous event's MAC and
    # ``hash`` (see audit.keys). Only events written before migration 0063 and never re-chained
    # could lack it, and the migration re-chains them all: a missing MAC is a removed one.
    mac: str | None = Field(default=None, max_length=64)


class AuditChainHead(SQLModel, table=True):
    """One row (id 1): the newest event. Appends lock it, so concurrent writers never fork."""

    __tablename__ = "audit_chain_head"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_event_id: int
    last_hash: str = Field(max_length=64)
    last_mac: str = Field(default="0" * 64, max_length=64)
    # Which key the chain is written with (an HMAC of a label, not the key): lets a verifier
    # holding another key say so instead of calling every event changed.
    key_id: str = Field(default="", max_length=16)
