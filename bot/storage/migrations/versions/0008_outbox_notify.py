"""Outbox notifications: a PostgreSQL trigger NOTIFYs the dispatchers of every process on insert.

Statement-level, so a batch of rows costs one notification, and PostgreSQL folds the
notifications of one transaction into one, delivered at commit (never before the rows are
visible). Statements that insert nothing (every row a duplicate dedup key) notify nobody.
Nothing on SQLite: one process, whose producers wake their dispatcher themselves.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from bot.storage.notify import OUTBOX_CHANNEL

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTION = "newsdesk_outbox_notify"
_TRIGGER = "outbox_notify"


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM inserted) THEN
                PERFORM pg_notify('{OUTBOX_CHANNEL}', '');
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    # EXECUTE PROCEDURE, not FUNCTION: the spelling every supported PostgreSQL accepts.
    op.execute(
        f"CREATE TRIGGER {_TRIGGER} AFTER INSERT ON outbox REFERENCING NEW TABLE AS inserted"
        f" FOR EACH STATEMENT EXECUTE PROCEDURE {_FUNCTION}()"
    )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(f"DROP TRIGGER IF EXISTS {_TRIGGER} ON outbox")
    op.execute(f"DROP FUNCTION IF EXISTS {_FUNCTION}()")
