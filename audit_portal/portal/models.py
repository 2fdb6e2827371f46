"""Portal-wide settings an admin changes at run time (unlike deployment settings in config)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class PortalSetting(SQLModel, table=True):
    __tablename__ = "portal_setting"

    key: str = Field(primary_key=True, max_length=100)
    value: str = Field(max_length=2000)
    updated_at: datetime
