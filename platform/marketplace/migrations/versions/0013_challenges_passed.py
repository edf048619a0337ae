"""Session signals count the challenge pages a browser passed

A challenged person's browser runs the challenge page's script, which proves it ran; the session
then scores as a person's. Existing rows passed none.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gate_session_signals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("challenges_passed", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("gate_session_signals", schema=None) as batch_op:
        batch_op.drop_column("challenges_passed")
