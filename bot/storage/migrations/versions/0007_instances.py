"""Instances (one row per running process, with its heartbeat) and election terms.

``instances``: a process whose row has expired is dead, and its leases are free for the others.
``service_leases.term``: the fencing token of a singleton's lease, one more each time the lease
changes hands.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "instances",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instances")),
    )
    # NOT NULL with a constant default: a plain ALTER TABLE ADD COLUMN, even on SQLite.
    op.add_column("service_leases", sa.Column("term", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    # SQLite cannot drop a column in place: batch mode copies the table.
    with op.batch_alter_table("service_leases") as batch:
        batch.drop_column("term")
    op.drop_table("instances")
