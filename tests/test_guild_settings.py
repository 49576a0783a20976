"""The per-server settings store on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.storage import Database, GuildSettingsStore

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
# Snowflakes do not fit 32 bits.
GUILD, OTHER_GUILD, ROLE, OTHER_ROLE = 1_180_000_000_000_000_001, 1_180_000_000_000_000_002, 2**62, 2**62 + 7


async def test_manager_role_is_set_replaced_and_cleared_per_guild(db: Database) -> None:
    store = GuildSettingsStore(db)
    assert await store.manager_role(GUILD) is None

    await store.set_manager_role(GUILD, ROLE, now=NOW)
    await store.set_manager_role(OTHER_GUILD, OTHER_ROLE, now=NOW)
    assert await store.manager_role(GUILD) == ROLE
    assert await store.manager_role(OTHER_GUILD) == OTHER_ROLE

    await store.set_manager_role(GUILD, OTHER_ROLE, now=NOW)
    assert await store.manager_role(GUILD) == OTHER_ROLE

    await store.set_manager_role(GUILD, None, now=NOW)
    assert await store.manager_role(GUILD) is None
    assert await store.manager_role(OTHER_GUILD) == OTHER_ROLE
