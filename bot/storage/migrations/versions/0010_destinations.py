"""Where posts go (issue 13): webhooks, forum posts, threads, edits through the outbox.

``outbox.destination``: how a row is delivered in its channel (JSON, see
bot.delivery.destination; NULL: the bot's own plain message). ``subscriptions.delivery``: a
subscription's delivery options (JSON, see bot.feeds.destinations; NULL: the default).
``channel_webhooks``: the webhook the bot made per channel. ``story_threads``: the thread of a
story in a channel.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("destination", sa.JSON(), nullable=True))
    op.add_column("subscriptions", sa.Column("delivery", sa.JSON(), nullable=True))
    op.create_table(
        "channel_webhooks",
        sa.Column("channel_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("webhook_id", sa.BigInteger(), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_channel_webhooks")),
    )
    op.create_table(
        "story_threads",
        sa.Column("channel_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("story_id", sa.Text(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel_id", "story_id", name=op.f("pk_story_threads")),
    )


def downgrade() -> None:
    op.drop_table("story_threads")
    op.drop_table("channel_webhooks")
    # SQLite cannot drop a column in place: batch mode copies the table.
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("delivery")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("destination")
