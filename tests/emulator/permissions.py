"""Permission bits and Discord's permission computation (pure functions).

The algorithm follows the developer documentation ("Permissions: Permission
Hierarchy"): base permissions from @everyone and the member's roles, then the
channel's overwrites in the order @everyone, roles, member.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Perm(enum.IntFlag):
    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CHANGE_NICKNAME = 1 << 26
    MANAGE_NICKNAMES = 1 << 27
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    MANAGE_GUILD_EXPRESSIONS = 1 << 30
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38
    MODERATE_MEMBERS = 1 << 40


ALL = Perm(0)
for _flag in Perm:
    ALL |= _flag

# What @everyone gets in a new server, minus voice bits the emulator does not model.
DEFAULT_EVERYONE = (
    Perm.CREATE_INSTANT_INVITE
    | Perm.ADD_REACTIONS
    | Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.MENTION_EVERYONE
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.CHANGE_NICKNAME
    | Perm.USE_APPLICATION_COMMANDS
    | Perm.CREATE_PUBLIC_THREADS
    | Perm.CREATE_PRIVATE_THREADS
    | Perm.SEND_MESSAGES_IN_THREADS
)


@dataclass(frozen=True)
class Overwrite:
    """One channel permission overwrite."""

    target_id: int
    """A role id (type 0) or a member's user id (type 1)."""
    type: int
    """0 = role, 1 = member."""
    allow: int = 0
    deny: int = 0

    def to_payload(self) -> dict[str, object]:
        return {
            "id": str(self.target_id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


def base_permissions(*, everyone: int, role_permissions: Iterable[int], is_owner: bool = False) -> int:
    """Guild-level permissions of a member."""
    if is_owner:
        return int(ALL)
    total = everyone
    for perms in role_permissions:
        total |= perms
    if total & Perm.ADMINISTRATOR:
        return int(ALL)
    return total


def channel_permissions(
    base: int,
    *,
    guild_id: int,
    member_id: int,
    member_role_ids: Iterable[int],
    overwrites: Iterable[Overwrite],
) -> int:
    """Apply a channel's overwrites to ``base`` (the @everyone role's id is the guild id)."""
    if base & Perm.ADMINISTRATOR:
        return int(ALL)
    by_target = {(o.type, o.target_id): o for o in overwrites}
    perms = base
    everyone = by_target.get((0, guild_id))
    if everyone is not None:
        perms = (perms & ~everyone.deny) | everyone.allow
    allow = deny = 0
    for role_id in member_role_ids:
        overwrite = by_target.get((0, role_id))
        if overwrite is not None:
            allow |= overwrite.allow
            deny |= overwrite.deny
    perms = (perms & ~deny) | allow
    member = by_target.get((1, member_id))
    if member is not None:
        perms = (perms & ~member.deny) | member.allow
    # Without View Channel nothing else in the channel is usable.
    if not perms & Perm.VIEW_CHANNEL:
        return 0
    return perms


def missing(have: int, need: int) -> int:
    """The bits of ``need`` that ``have`` lacks."""
    return need & ~have
