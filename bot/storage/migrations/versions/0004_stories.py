"""Stories, digest schedules and alerts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column:
    # INTEGER PRIMARY KEY is SQLite's rowid alias (autoincrement); BIGINT identity elsewhere.
    return sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
    )


def upgrade() -> None:
    # A nullable column without a default: a plain ALTER TABLE ADD COLUMN, even on SQLite.
    op.add_column("feed_items", sa.Column("story_id", sa.Text(), nullable=True))
    op.create_index(op.f("ix_feed_items_story_id"), "feed_items", ["story_id"])

    op.create_table(
        "stories",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("source_count", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stories")),
    )
    op.create_index(op.f("ix_stories_last_seen_at"), "stories", ["last_seen_at"])

    op.create_table(
        "grouper_state",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("last_item_id", sa.BigInteger(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_grouper_state")),
    )
    op.create_table(
        "service_leases",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_service_leases")),
    )

    op.create_table(
        "digest_schedules",
        _id(),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.Column("day_of_week", sa.Integer(), nullable=True),
        sa.Column("every_hours", sa.Integer(), nullable=True),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("top_n", sa.Integer(), server_default="10", nullable=False),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.CheckConstraint(
            "kind IN ('daily', 'weekly', 'every_hours')", name=op.f("ck_digest_schedules_kind")
        ),
        sa.CheckConstraint("status IN ('active', 'paused')", name=op.f("ck_digest_schedules_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_schedules")),
        sa.UniqueConstraint("channel_id", name=op.f("uq_digest_schedules_channel_id")),
    )
    op.create_index(op.f("ix_digest_schedules_next_due_at"), "digest_schedules", ["next_due_at"])

    op.create_table(
        "alert_settings",
        sa.Column("channel_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("breaking_enabled", sa.Boolean(), nullable=False),
        sa.Column("min_sources", sa.Integer(), nullable=False),
        sa.Column("window_minutes", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_alert_settings")),
    )
    op.create_table(
        "alert_keywords",
        _id(),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("keyword", sa.Text(), nullable=False),
        sa.Column("keyword_key", sa.Text(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_keywords")),
        sa.UniqueConstraint(
            "channel_id", "keyword_key", name=op.f("uq_alert_keywords_channel_id_keyword_key")
        ),
    )
    op.create_table(
        "channel_alerts",
        _id(),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("story_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("source_count", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.Text(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('breaking', 'keyword')", name=op.f("ck_channel_alerts_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_alerts")),
        sa.UniqueConstraint(
            "channel_id", "story_id", "kind", name=op.f("uq_channel_alerts_channel_id_story_id_kind")
        ),
    )
    op.create_index(op.f("ix_channel_alerts_story_id"), "channel_alerts", ["story_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_channel_alerts_story_id"), table_name="channel_alerts")
    op.drop_table("channel_alerts")
    op.drop_table("alert_keywords")
    op.drop_table("alert_settings")
    op.drop_index(op.f("ix_digest_schedules_next_due_at"), table_name="digest_schedules")
    op.drop_table("digest_schedules")
    op.drop_table("service_leases")
    op.drop_table("grouper_state")
    op.drop_index(op.f("ix_stories_last_seen_at"), table_name="stories")
    op.drop_table("stories")
    op.drop_index(op.f("ix_feed_items_story_id"), table_name="feed_items")
    # SQLite cannot drop a column in place: batch mode copies the table.
    with op.batch_alter_table("feed_items") as batch:
        batch.drop_column("story_id")
