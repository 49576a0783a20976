"""Breaking alerts that are never fooled (issue 15): whether a channel counts wire reprints.

``alert_settings.count_reprints``: whether each word-for-word reprint of a story by another
outlet counts as its own outlet (false, the default: the copies count once).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "alert_settings",
        sa.Column("count_reprints", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("alert_settings") as batch:
        batch.drop_column("count_reprints")
