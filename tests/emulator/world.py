"""The emulated servers: users, guilds, roles, channels, members.

Built with a small Python API (``World.add_user``, ``Guild.add_role`` ...) so a
test can shape the server it needs. Objects are mutable on purpose: the emulator
is a live server and tests change permissions while the bot runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.emulator import permissions as p
from tests.emulator.ids import iso_timestamp, snowflake

TEXT, DM, CATEGORY, NEWS, PUBLIC_THREAD, PRIVATE_THREAD, FORUM = 0, 1, 4, 5, 11, 12, 15
#: Channel flag of a forum whose posts must carry a tag.
REQUIRE_TAG_FLAG = 1 << 4
THREAD_TYPES = frozenset({10, PUBLIC_THREAD, PRIVATE_THREAD})


@dataclass
class User:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }


@dataclass
class Role:
    id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False
    #: "Allow anyone to @mention this role".
    mentionable: bool = False

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass
class Member:
    user: User
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_timestamp)

    def to_payload(self, *, permissions: int | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "user": self.user.to_payload(),
            "roles": [str(r) for r in self.role_ids],
            "nick": self.nick,
            "avatar": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if permissions is not None:
            payload["permissions"] = str(permissions)
        return payload


@dataclass
class Channel:
    id: int
    guild_id: int
    name: str
    type: int = TEXT
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    overwrites: list[p.Overwrite] = field(default_factory=list)
    owner_id: int | None = None
    """Threads only: who started it."""
    last_message_id: int | None = None
    available_tags: list[dict[str, Any]] = field(default_factory=list)
    """Forums only: the tags a post may carry (``{"id", "name", "moderated", ...}``)."""
    applied_tags: list[int] = field(default_factory=list)
    """Forum posts only: the ids of their tags."""
    require_tag: bool = False
    """Forums only: every post must carry a tag (Discord's REQUIRE_TAG channel flag)."""
    archived: bool = False
    locked: bool = False
    """Threads only: archived (closed until someone posts), locked (only Manage Threads reopens)."""

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
            "flags": REQUIRE_TAG_FLAG if self.require_tag else 0,
        }
        if self.is_thread:
            payload.update(
                owner_id=str(self.owner_id) if self.owner_id else None,
                message_count=0,
                member_count=1,
                rate_limit_per_user=0,
                applied_tags=[str(t) for t in self.applied_tags],
                thread_metadata={
                    "archived": self.archived,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": iso_timestamp(),
                    "locked": self.locked,
                },
            )
        else:
            payload.update(
                topic=self.topic,
                nsfw=False,
                rate_limit_per_user=0,
                permission_overwrites=[o.to_payload() for o in self.overwrites],
            )
        if self.type == FORUM:
            payload.update(
                available_tags=self.available_tags,
                default_auto_archive_duration=1440,
                default_thread_rate_limit_per_user=0,
                default_reaction_emoji=None,
                default_sort_order=None,
                default_forum_layout=0,
            )
        return payload


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)

    # -- building --------------------------------------------------------------------------------

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    def add_role(self, name: str, permissions: int = 0, *, managed: bool = False) -> Role:
        role = Role(snowflake(), name, int(permissions), position=len(self.roles), managed=managed)
        self.roles[role.id] = role
        return role

    def add_text_channel(
        self,
        name: str,
        *,
        overwrites: list[p.Overwrite] | None = None,
        topic: str | None = None,
        type: int = TEXT,
    ) -> Channel:
        channel = Channel(
            snowflake(),
            self.id,
            name,
            type=type,
            position=len(self.channels),
            topic=topic,
            overwrites=list(overwrites or []),
        )
        self.channels[channel.id] = channel
        return channel

    def add_forum_channel(
        self,
        name: str,
        *,
        tags: tuple[str, ...] = (),
        overwrites: list[p.Overwrite] | None = None,
        require_tag: bool = False,
    ) -> Channel:
        """A forum channel (type 15) offering ``tags`` to its posts (one required, if asked)."""
        forum = self.add_text_channel(name, overwrites=overwrites, type=FORUM)
        forum.require_tag = require_tag
        forum.available_tags = [
            {"id": str(snowflake()), "name": tag, "moderated": False, "emoji_id": None, "emoji_name": None}
            for tag in tags
        ]
        return forum

    def add_thread(
        self,
        parent: Channel,
        name: str,
        *,
        owner_id: int,
        thread_id: int | None = None,
        private: bool = False,
    ) -> Channel:
        thread = Channel(
            thread_id or snowflake(),
            self.id,
            name,
            type=PRIVATE_THREAD if private else PUBLIC_THREAD,
            parent_id=parent.id,
            owner_id=owner_id,
        )
        self.channels[thread.id] = thread
        return thread

    def add_member(self, user: User, roles: list[Role] | None = None, *, nick: str | None = None) -> Member:
        member = Member(user, [r.id for r in roles or []], nick=nick)
        self.members[user.id] = member
        return member

    def set_overwrite(
        self, channel: Channel, target: Role | User | Member, *, allow: int = 0, deny: int = 0
    ) -> None:
        """Replace ``target``'s overwrite on ``channel``."""
        if isinstance(target, Role):
            key = (0, target.id)
        else:
            key = (1, target.user.id if isinstance(target, Member) else target.id)
        kept = [o for o in channel.overwrites if (o.type, o.target_id) != key]
        channel.overwrites = [*kept, p.Overwrite(key[1], key[0], int(allow), int(deny))]

    # -- permissions -----------------------------------------------------------------------------

    def base_permissions(self, user_id: int) -> int:
        member = self.members[user_id]
        return p.base_permissions(
            everyone=self.everyone.permissions,
            role_permissions=[self.roles[r].permissions for r in member.role_ids if r in self.roles],
            is_owner=user_id == self.owner_id,
        )

    def permissions_in(self, channel: Channel, user_id: int) -> int:
        """What ``user_id`` may do in ``channel`` (a thread uses its parent's overwrites)."""
        member = self.members[user_id]
        source = self.channels[channel.parent_id] if channel.is_thread and channel.parent_id else channel
        return p.channel_permissions(
            self.base_permissions(user_id),
            guild_id=self.id,
            member_id=user_id,
            member_role_ids=member.role_ids,
            overwrites=source.overwrites,
        )

    # -- payloads --------------------------------------------------------------------------------

    def to_payload(self, *, include_members: bool = True, bot_user_id: int | None = None) -> dict[str, Any]:
        members = list(self.members.values())
        if not include_members:
            members = [m for m in members if m.user.id == bot_user_id]
        plain = [c for c in self.channels.values() if not c.is_thread]
        threads = [c for c in self.channels.values() if c.is_thread]
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "features": [],
            "emojis": [],
            "stickers": [],
            "roles": [r.to_payload() for r in self.roles.values()],
            "channels": [c.to_payload() for c in plain],
            "threads": [c.to_payload() for c in threads],
            "members": [m.to_payload() for m in members],
            "member_count": len(self.members),
            "large": False,
            "unavailable": False,
            "joined_at": iso_timestamp(),
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "max_members": 500000,
            "application_id": None,
        }


@dataclass
class World:
    """Everything the emulator serves: users and guilds."""

    users: dict[int, User] = field(default_factory=dict)
    guilds: dict[int, Guild] = field(default_factory=dict)

    def add_user(self, username: str, *, bot: bool = False, user_id: int | None = None) -> User:
        user = User(user_id or snowflake(), username, bot=bot)
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str,
        *,
        owner: User,
        everyone_permissions: int = p.DEFAULT_EVERYONE,
        guild_id: int | None = None,
    ) -> Guild:
        """A new guild; ``guild_id`` picks its id (``snowflake_on_shard`` puts it on a shard)."""
        guild = Guild(guild_id or snowflake(), name, owner_id=owner.id)
        # Discord gives @everyone the guild's own id.
        guild.roles[guild.id] = Role(guild.id, "@everyone", int(everyone_permissions), position=0)
        guild.add_member(owner)
        self.guilds[guild.id] = guild
        return guild

    def find_channel(self, channel_id: int) -> tuple[Guild, Channel] | None:
        for guild in self.guilds.values():
            channel = guild.channels.get(channel_id)
            if channel is not None:
                return guild, channel
        return None


@dataclass
class DefaultWorld:
    """The server most tests need, with named handles on each part."""

    world: World
    bot: User
    owner: User
    guild: Guild
    admin_role: Role
    manager_role: Role
    bot_role: Role
    general: Channel
    news: Channel
    locked: Channel
    """A channel where the bot may read but not send."""
    admin: Member
    manager: Member
    member: Member
    bot_member: Member


def default_world(bot_user_id: int | None = None, *, bot_name: str = "newsdesk") -> DefaultWorld:
    """One guild: @everyone, admin, manager and bot roles; #general, #news, #locked; four members."""
    world = World()
    bot = world.add_user(bot_name, bot=True, user_id=bot_user_id)
    owner = world.add_user("owner")
    guild = world.add_guild("Newsroom", owner=owner)
    admin_role = guild.add_role("admin", p.Perm.ADMINISTRATOR)
    manager_role = guild.add_role("manager", p.Perm.MANAGE_CHANNELS | p.Perm.MANAGE_MESSAGES)
    bot_role = guild.add_role(
        bot_name,
        p.Perm.VIEW_CHANNEL
        | p.Perm.SEND_MESSAGES
        | p.Perm.EMBED_LINKS
        | p.Perm.ATTACH_FILES
        | p.Perm.READ_MESSAGE_HISTORY
        | p.Perm.CREATE_PUBLIC_THREADS
        | p.Perm.SEND_MESSAGES_IN_THREADS
        | p.Perm.MANAGE_WEBHOOKS
        | p.Perm.ADD_REACTIONS
        | p.Perm.MANAGE_THREADS,
        managed=True,
    )
    general = guild.add_text_channel("general")
    news = guild.add_text_channel("news")
    locked = guild.add_text_channel("locked")
    guild.set_overwrite(locked, bot_role, deny=p.Perm.SEND_MESSAGES)
    bot_member = guild.add_member(bot, [bot_role])
    admin = guild.add_member(world.add_user("alice-admin"), [admin_role])
    manager = guild.add_member(world.add_user("mona-manager"), [manager_role])
    member = guild.add_member(world.add_user("pat-member"))
    return DefaultWorld(
        world,
        bot,
        owner,
        guild,
        admin_role,
        manager_role,
        bot_role,
        general,
        news,
        locked,
        admin,
        manager,
        member,
        bot_member,
    )
