"""Article cache: extracted articles by canonical URL.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "article_cache",
        sa.Column("canonical_url", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("article", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("canonical_url", name=op.f("pk_article_cache")),
    )
    op.create_index(op.f("ix_article_cache_fetched_at"), "article_cache", ["fetched_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_article_cache_fetched_at"), table_name="article_cache")
    op.drop_table("article_cache")
