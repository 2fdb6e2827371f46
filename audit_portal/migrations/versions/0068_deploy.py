"""single sign-on: identities linked to accounts, pending sign-ins, sessions' id tokens

Revision ID: 0068_deploy
Revises: 0067_collectors_part3
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0068_deploy"
down_revision = "0067_collectors_part3"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sso_identity",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_login_at", TZ, nullable=True),
        sa.UniqueConstraint("issuer", "subject", name="uq_sso_identity_issuer_subject"),
    )
    op.create_index("ix_sso_identity_user_id", "sso_identity", ["user_id"])
    op.create_table(
        "sso_pending_login",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("browser_hash", sa.String(64), nullable=False),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("next_path", sa.String(2000), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "sso_session",
        sa.Column(
            "web_session_id", sa.String(64), sa.ForeignKey("web_session.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("id_token", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sso_session")
    op.drop_table("sso_pending_login")
    op.drop_index("ix_sso_identity_user_id", table_name="sso_identity")
    op.drop_table("sso_identity")
