"""audit log: a keyed MAC on every event, the chain head's MAC and key id

Revision ID: 0063_audit_mac
Revises: 0062_access_events
Create Date: 2026-12-01

Events written before this revision have only the plain SHA-256 chain. They are re-chained
here: each gets its MAC over the previous MAC and its *stored* hash, with the key of the
settings this migration runs with (the same AUDIT_PORTAL_SECRET_KEY or AUDIT_PORTAL_AUDIT_KEY_FILE
the portal uses). The stored hash is not recomputed, so an event changed before the migration
still fails the plain-hash check afterwards; a MAC that is missing after this revision means it
was removed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0063_audit_mac"
down_revision = "0062_access_events"
branch_labels = None
depends_on = None

GENESIS_MAC = "0" * 64
BATCH = 1000

audit_event = sa.table(
    "audit_event", sa.column("id", sa.Integer), sa.column("hash", sa.String), sa.column("mac", sa.String)
)
chain_head = sa.table(
    "audit_chain_head",
    sa.column("id", sa.Integer),
    sa.column("last_event_id", sa.Integer),
    sa.column("last_mac", sa.String),
    sa.column("key_id", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("mac", sa.String(64), nullable=True))
    with op.batch_alter_table("audit_chain_head") as batch:
        batch.add_column(sa.Column("last_mac", sa.String(64), nullable=False, server_default=GENESIS_MAC))
        batch.add_column(sa.Column("key_id", sa.String(16), nullable=False, server_default=""))
    _rechain(op.get_bind())


def _rechain(connection: sa.Connection) -> None:
    if connection.execute(sa.select(sa.func.count()).select_from(audit_event)).scalar_one() == 0:
        return  # a new database: nothing to re-chain, and no key needed yet
    from audit_portal.audit import keys

    key = keys.for_engine(connection.engine)
    mac = GENESIS_MAC
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(audit_event.c.id, audit_event.c.hash)
            .where(audit_event.c.id > last_id)
            .order_by(audit_event.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        updates = []
        for row in rows:
            mac = key.mac(mac, row.hash)
            updates.append({"event_id": row.id, "event_mac": mac})
        connection.execute(
            audit_event.update()
            .where(audit_event.c.id == sa.bindparam("event_id"))
            .values(mac=sa.bindparam("event_mac")),
            updates,
        )
        last_id = rows[-1].id
    connection.execute(chain_head.update().where(chain_head.c.id == 1).values(last_mac=mac, key_id=key.key_id))


def downgrade() -> None:
    with op.batch_alter_table("audit_chain_head") as batch:
        batch.drop_column("key_id")
        batch.drop_column("last_mac")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_column("mac")
