"""Feed subscriptions: feeds, subscriptions, and the items each feed has shown.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column:
    # INTEGER PRIMARY KEY is SQLite's rowid alias (autoincrement); BIGINT identity elsewhere.
    return sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "feeds",
        _id(),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("site_url", sa.Text(), nullable=True),
        sa.Column("icon_url", sa.Text(), nullable=True),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("body_hash", sa.Text(), nullable=True),
        sa.Column("update_hint_s", sa.Integer(), nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'paused')", name=op.f("ck_feeds_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feeds")),
        sa.UniqueConstraint("url", name=op.f("uq_feeds_url")),
    )
    op.create_index(op.f("ix_feeds_next_check_at"), "feeds", ["next_check_at"])

    op.create_table(
        "subscriptions",
        _id(),
        sa.Column("feed_id", sa.BigInteger(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("include", sa.JSON(), nullable=False),
        sa.Column("exclude", sa.JSON(), nullable=False),
        sa.Column("extract", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('active', 'paused')", name=op.f("ck_subscriptions_status")),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name=op.f("fk_subscriptions_feed_id_feeds"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("feed_id", "channel_id", name=op.f("uq_subscriptions_feed_id_channel_id")),
    )
    op.create_index(op.f("ix_subscriptions_guild_id"), "subscriptions", ["guild_id"])
    op.create_index(op.f("ix_subscriptions_channel_id"), "subscriptions", ["channel_id"])

    op.create_table(
        "feed_items",
        _id(),
        sa.Column("feed_id", sa.BigInteger(), nullable=False),
        sa.Column("entry_key", sa.Text(), nullable=False),
        sa.Column("link_key", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("image_url", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feeds.id"], name=op.f("fk_feed_items_feed_id_feeds"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_items")),
        sa.UniqueConstraint("feed_id", "entry_key", name=op.f("uq_feed_items_feed_id_entry_key")),
    )
    op.create_index(op.f("ix_feed_items_feed_id_link_key"), "feed_items", ["feed_id", "link_key"])
    op.create_index(op.f("ix_feed_items_first_seen_at"), "feed_items", ["first_seen_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_feed_items_first_seen_at"), table_name="feed_items")
    op.drop_index(op.f("ix_feed_items_feed_id_link_key"), table_name="feed_items")
    op.drop_table("feed_items")
    op.drop_index(op.f("ix_subscriptions_channel_id"), table_name="subscriptions")
    op.drop_index(op.f("ix_subscriptions_guild_id"), table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_index(op.f("ix_feeds_next_check_at"), table_name="feeds")
    op.drop_table("feeds")
