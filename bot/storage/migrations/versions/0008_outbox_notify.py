"""Outbox notifications: PostgreSQL triggers NOTIFY every process's dispatchers of new work.

New work is rows inserted in ``outbox``, or a held channel released (a row deleted from
``outbox_holds``, maybe by a gateway process, which has no dispatcher of its own to wake).

Statement-level, so a batch of rows costs one notification, and PostgreSQL folds the
notifications of one transaction into one, delivered at commit (never before the rows are
visible). Statements that change nothing (every row a duplicate dedup key) notify nobody.
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
#: (trigger, table, event, transition table): the function reads the rows changed as ``changed``.
_TRIGGERS = (
    ("outbox_notify", "outbox", "INSERT", "NEW"),
    ("outbox_holds_notify", "outbox_holds", "DELETE", "OLD"),
)


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM changed) THEN
                PERFORM pg_notify('{OUTBOX_CHANNEL}', '');
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    # EXECUTE PROCEDURE, not FUNCTION: the spelling every supported PostgreSQL accepts.
    for trigger, table, event, transition in _TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {trigger} AFTER {event} ON {table} REFERENCING {transition} TABLE AS changed"
            f" FOR EACH STATEMENT EXECUTE PROCEDURE {_FUNCTION}()"
        )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for trigger, table, _, _ in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
    op.execute(f"DROP FUNCTION IF EXISTS {_FUNCTION}()")
