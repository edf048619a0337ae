"""Used nonces are stored by the SHA-256 digest of their replay key: a fixed 64 characters

A 96- or 128-byte nonce made `n:keyid:nonce` longer than the old VARCHAR(160), and PostgreSQL
refused the row. Rows written before keep working: each old key is rewritten as its digest, which
is exactly the key the gate now looks up.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_nonces = sa.table("gate_nonces", sa.column("key", sa.String()))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            "UPDATE gate_nonces SET key = encode(sha256(convert_to(key, 'UTF8')), 'hex') "
            "WHERE key LIKE '%:%'"
        )
    else:
        legacy = bind.execute(sa.select(_nonces.c.key).where(_nonces.c.key.like("%:%")))
        for key in legacy.scalars().all():
            digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
            bind.execute(_nonces.update().where(_nonces.c.key == key).values(key=digest))
    with op.batch_alter_table("gate_nonces", schema=None) as batch_op:
        batch_op.alter_column(
            "key",
            existing_type=sa.String(length=160),
            type_=sa.String(length=64),
            existing_nullable=False,
        )


def downgrade() -> None:
    # The digests stay: the older code cannot match them, so nonces used before the downgrade
    # are forgotten (each for at most its signature's validity).
    with op.batch_alter_table("gate_nonces", schema=None) as batch_op:
        batch_op.alter_column(
            "key",
            existing_type=sa.String(length=64),
            type_=sa.String(length=160),
            existing_nullable=False,
        )
