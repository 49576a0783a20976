"""How a subscription's posts look and whom they mention (issue 13).

``subscriptions.template``: the subscription's own post template (JSON: a preset name or the
parts), None for the server's default. ``subscriptions.mention_role_id`` and
``mention_include``: a role pinged on each new post, or only on posts matching those patterns.
``guild_settings.post_template``: the server's default template (``/newsdesk format``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("subscriptions", sa.Column("template", sa.JSON(), nullable=True))
    op.add_column("subscriptions", sa.Column("mention_role_id", sa.BigInteger(), nullable=True))
    op.add_column("subscriptions", sa.Column("mention_include", sa.JSON(), nullable=True))
    op.add_column("guild_settings", sa.Column("post_template", sa.JSON(), nullable=True))


def downgrade() -> None:
    # SQLite cannot drop a column in place: batch mode copies the table.
    with op.batch_alter_table("guild_settings") as batch:
        batch.drop_column("post_template")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("mention_include")
        batch.drop_column("mention_role_id")
        batch.drop_column("template")
