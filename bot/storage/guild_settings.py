"""Per-server settings (migration 0006): today, which role manages the server's news.

A server admin picks the role with ``/newsdesk manager-role``; it is stored by id, so
renaming the role keeps it working and another role with the same name grants nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Table, select

from bot.storage.database import Database
from bot.storage.schema import UTCDateTime, insert, metadata

guild_settings = Table(
    "guild_settings",
    metadata,
    Column("guild_id", BigInteger, primary_key=True, autoincrement=False),
    # None: no per-server role; the configured default (commands.manager_role) applies.
    Column("manager_role_id", BigInteger, nullable=True),
    # The server's default post template (/newsdesk format); None: the built-in one.
    Column("post_template", JSON, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)


class GuildSettingsStore:
    """Reads and writes :data:`guild_settings` on a :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def manager_role(self, guild_id: int) -> int | None:
        """The id of the role set as the server's manager role, or ``None``."""
        stmt = select(guild_settings.c.manager_role_id).where(guild_settings.c.guild_id == guild_id)
        async with self._db.session() as conn:
            value: int | None = (await conn.execute(stmt)).scalar_one_or_none()
        return value

    async def set_manager_role(self, guild_id: int, role_id: int | None, *, now: datetime) -> None:
        """Set (or clear, with ``None``) the server's manager role."""
        await self._set(guild_id, now, manager_role_id=role_id)

    async def post_template(self, guild_id: int) -> Any:
        """The server's default post template as stored (JSON), or ``None``: the built-in one."""
        stmt = select(guild_settings.c.post_template).where(guild_settings.c.guild_id == guild_id)
        async with self._db.session() as conn:
            return (await conn.execute(stmt)).scalar_one_or_none()

    async def set_post_template(self, guild_id: int, template: Any, *, now: datetime) -> None:
        """Set (or clear, with ``None``) the server's default post template (JSON, checked)."""
        await self._set(guild_id, now, post_template=template)

    async def _set(self, guild_id: int, now: datetime, **values: Any) -> None:
        """Upsert the server's row with ``values``, leaving its other settings as they are."""
        row = {"guild_id": guild_id, "updated_at": now, **values}
        stmt = insert(self._db.dialect_name, guild_settings).values(**row)
        stmt = stmt.on_conflict_do_update(
            index_elements=[guild_settings.c.guild_id],
            set_={name: stmt.excluded[name] for name in (*values, "updated_at")},
        )
        async with self._db.session(write=True) as conn:
            await conn.execute(stmt)
