"""Each user's e-mail settings: where the weekly digest goes, and whether they want it."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class DigestPreference(SQLModel, table=True):
    """No row, or no address, means no digest can be sent; ``opted_out`` keeps the address but
    stops the digest."""

    __tablename__ = "digest_preference"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True)
    email: str | None = Field(default=None, max_length=254)
    opted_out: bool = False
    updated_at: datetime
