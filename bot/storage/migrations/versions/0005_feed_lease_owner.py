"""Feed leases name their poller, so a restarted poller takes its own back at once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column without a default: a plain ALTER TABLE ADD COLUMN, even on SQLite.
    op.add_column("feeds", sa.Column("lease_owner", sa.Text(), nullable=True))


def downgrade() -> None:
    # SQLite cannot drop a column in place: batch mode copies the table.
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("lease_owner")
