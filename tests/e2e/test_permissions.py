"""Who may manage a server's news, end to end, with channel overwrites: only server-level
permissions (or the server's manager role, by id) make a manager, a manager sees and changes
only what is in channels they can see, and the bot refuses a target it cannot post in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.harness import Harness, harness
from tests.emulator import Emulator, InteractionResult, Member, Perm, Role
from tests.emulator.world import Channel, DefaultWorld, default_world
from tests.feedserver import FeedServer, item

pytestmark = pytest.mark.e2e

NOT_A_MANAGER = "You need the Manage Channels permission (server-wide)"
UNKNOWN_SUBSCRIPTION = "There is no subscription #"


@dataclass
class Newsroom:
    """The default server plus a private channel and the members these tests need."""

    world: DefaultWorld
    secret: Channel
    """Hidden from @everyone; the bot (and admins) see it, the manager does not."""
    channel_mod: Member
    """A plain member with Manage Channels on #general only (a channel overwrite)."""
    server_admin: Member
    """Manage Server only: may set the manager role (and manage news)."""
    editors: Role
    editor: Member
    impostors: Role
    """Another role named like ``editors``."""
    impostor: Member
    private: Channel
    """A private thread of #news that the manager opened: members and Manage Threads see it."""
    thread_mod: Member
    """Manage Channels and Manage Threads (server-wide), not in the private thread."""


def newsroom() -> Newsroom:
    world = default_world()
    guild, users = world.guild, world.world
    secret = guild.add_text_channel("secret")
    guild.set_overwrite(secret, guild.everyone, deny=Perm.VIEW_CHANNEL)
    guild.set_overwrite(secret, world.bot_role, allow=Perm.VIEW_CHANNEL)
    channel_mod = guild.add_member(users.add_user("cora-channel-mod"))
    guild.set_overwrite(world.general, channel_mod, allow=Perm.MANAGE_CHANNELS | Perm.MANAGE_GUILD)
    server_admin = guild.add_member(
        users.add_user("sam-server-admin"), [guild.add_role("server admins", Perm.MANAGE_GUILD)]
    )
    editors, impostors = guild.add_role("editors", 0), guild.add_role("editors", 0)
    editor = guild.add_member(users.add_user("eddie-editor"), [editors])
    impostor = guild.add_member(users.add_user("ivan-impostor"), [impostors])
    private = guild.add_thread(world.news, "private desk", owner_id=world.manager.user.id, private=True)
    thread_mod = guild.add_member(
        users.add_user("tess-thread-mod"),
        [guild.add_role("thread mods", Perm.MANAGE_CHANNELS | Perm.MANAGE_THREADS)],
    )
    return Newsroom(
        world, secret, channel_mod, server_admin, editors, editor, impostors, impostor, private, thread_mod
    )


@pytest.fixture
def room() -> Newsroom:
    return newsroom()


@pytest.fixture
async def newsdesk(
    tmp_path: Path, room: Newsroom, bot_config: dict[str, dict[str, Any]]
) -> AsyncIterator[Harness]:
    async with harness(tmp_path, bot_config, Emulator(world=room.world)) as h:
        yield h


async def subscribe(newsdesk: Harness, url: str, channel: Channel) -> None:
    added = await newsdesk.invoke(
        "feed add", {"url": url, "channel": channel}, user=newsdesk.admin, timeout_s=30
    )
    assert added.errors == [] and "now follows" in added.text, added.text


async def choices(newsdesk: Harness, user: Member, command: str = "feed remove") -> list[str]:
    result = await newsdesk.autocomplete(command, {"subscription": ""}, "subscription", user=user)
    assert result.errors == [] and result.choices is not None, result
    return [c["name"] for c in result.choices]


async def subscription_id(newsdesk: Harness, title: str) -> str:
    result = await newsdesk.autocomplete(
        "feed remove", {"subscription": title}, "subscription", user=newsdesk.admin
    )
    found = [c["value"] for c in result.choices or [] if c["name"].startswith(title)]
    assert len(found) == 1, result.choices
    return str(found[0])


async def exported(newsdesk: Harness, user: Member) -> str:
    result = await newsdesk.invoke("feed export", {}, user=user)
    assert result.attachments, result.text
    async with aiohttp.ClientSession() as session, session.get(result.attachments[0]["url"]) as response:
        return await response.text()


def refused(result: InteractionResult, says: str) -> None:
    assert result.errors == [] and result.ephemeral, result
    assert says in result.text, result.text


async def test_manage_channels_on_one_channel_does_not_make_a_manager(
    newsdesk: Harness, room: Newsroom, feeds: FeedServer
) -> None:
    feeds.add_feed("/public.xml", title="Public Wire", items=[item(1)])
    feeds.add_feed("/new.xml", title="New Feed", items=[item(1)])
    await subscribe(newsdesk, feeds.url("/public.xml"), room.world.news)
    public = await subscription_id(newsdesk, "Public Wire")
    mod, general = room.channel_mod, room.world.general

    # Manage Channels (and Manage Server) in #general only, used in #general.
    for command, options in (
        ("feed list", {}),
        ("feed export", {}),
        ("feed add", {"url": feeds.url("/new.xml")}),
        ("feed remove", {"subscription": public}),
        ("feed filter", {"subscription": public, "include": "nothing"}),
        ("digest schedule", {"frequency": "daily", "time": "08:00"}),
        ("alerts breaking", {"state": "on", "role": room.world.admin_role}),
        ("alerts keywords add", {"keyword": "earthquake"}),
    ):
        result = await newsdesk.invoke(command, options, user=mod, channel=general)
        refused(result, NOT_A_MANAGER)
        assert "Public Wire" not in result.text
    assert await choices(newsdesk, mod) == []
    setting = await newsdesk.invoke(
        "newsdesk manager-role set", {"role": room.editors}, user=mod, channel=general
    )
    refused(setting, "Manage Server")
    assert feeds.hits["/new.xml"] == 0
    assert [c[:11] for c in await choices(newsdesk, newsdesk.admin)] == ["Public Wire"]

    # Manage Channels or Manage Server at the server level does make a manager.
    for manager in (newsdesk.manager, room.server_admin):
        listing = await newsdesk.invoke("feed list", {}, user=manager)
        assert "Public Wire" in listing.text, listing.text


async def test_a_manager_sees_and_changes_only_channels_they_can_see(
    newsdesk: Harness, room: Newsroom, feeds: FeedServer
) -> None:
    secret, news = room.secret, room.world.news
    feeds.add_feed("/public.xml", title="Public Wire", items=[item(1)])
    feeds.add_feed("/secret.xml", title="Secret Plans", items=[item(2)])
    feeds.add_feed("/new.xml", title="New Feed", items=[item(3)])
    await subscribe(newsdesk, feeds.url("/public.xml"), news)
    await subscribe(newsdesk, feeds.url("/secret.xml"), secret)
    hidden = await subscription_id(newsdesk, "Secret Plans")
    admin, manager = newsdesk.admin, newsdesk.manager
    for command, options, says in (
        ("alerts keywords add", {"keyword": "merger", "channel": secret}, "Added “merger”"),
        ("digest schedule", {"frequency": "daily", "time": "08:00", "channel": secret}, "Digest scheduled"),
    ):
        done = await newsdesk.invoke(command, options, user=admin)
        assert done.errors == [] and says in done.text, done.text

    # Lists, exports and autocomplete leave the hidden channel out.
    listing = await newsdesk.invoke("feed list", {}, user=manager)
    assert "Public Wire" in listing.text and "Secret Plans" not in listing.text, listing.text
    assert f"<#{secret.id}>" not in listing.text and "Feeds (1)" in listing.text
    opml = await exported(newsdesk, manager)
    assert feeds.url("/public.xml") in opml and "secret" not in opml.lower(), opml
    for command in ("feed remove", "feed filter", "feed resume"):
        assert [c[:11] for c in await choices(newsdesk, manager, command)] == ["Public Wire"]

    # Naming the hidden channel or its subscription is refused, revealing nothing.
    for command, options in (
        ("feed list", {"channel": secret}),
        ("feed export", {"channel": secret}),
        ("feed add", {"url": feeds.url("/new.xml"), "channel": secret}),
        ("alerts keywords list", {"channel": secret}),
        ("alerts keywords add", {"keyword": "leak", "channel": secret}),
        ("alerts keywords remove", {"keyword": "merger", "channel": secret}),
        ("alerts breaking", {"state": "on", "channel": secret}),
        ("digest show", {"channel": secret}),
        ("digest preview", {"channel": secret}),
        ("digest schedule", {"frequency": "hours", "hours": 2, "channel": secret}),
        ("digest off", {"channel": secret}),
    ):
        result = await newsdesk.invoke(command, options, user=manager)
        refused(result, f"You can't see <#{secret.id}>: you need the View Channel permission there.")
        assert not [word for word in ("merger", "Secret", "every day") if word in result.text], result.text
    for command, options in (
        ("feed remove", {"subscription": hidden}),
        ("feed filter", {"subscription": hidden, "include": "nothing"}),
        ("feed resume", {"subscription": hidden}),
    ):
        result = await newsdesk.invoke(command, options, user=manager)
        refused(result, UNKNOWN_SUBSCRIPTION)
        assert "Secret Plans" not in result.text
    assert feeds.hits["/new.xml"] == 0

    # The admin sees everything, unchanged.
    listing = await newsdesk.invoke("feed list", {}, user=admin)
    assert "Secret Plans" in listing.text and "filter:" not in listing.text, listing.text
    assert "merger" in (await newsdesk.invoke("alerts keywords list", {"channel": secret}, user=admin)).text
    assert "every day" in (await newsdesk.invoke("digest show", {"channel": secret}, user=admin)).text
    assert feeds.url("/secret.xml") in await exported(newsdesk, admin)


@pytest.mark.bot_config({"commands": {"manager_role": "editors"}})
async def test_the_server_manager_role_is_set_by_an_admin_and_matched_by_id(
    newsdesk: Harness, room: Newsroom
) -> None:
    editor, impostor, guild = room.editor, room.impostor, room.world.guild

    async def may_manage(member: Member) -> bool:
        result = await newsdesk.invoke("feed list", {}, user=member)
        assert result.errors == [] and result.ephemeral
        return "No feeds yet" in result.text

    # No server role yet: the configured default applies, by name (both roles are "editors").
    assert await may_manage(editor) and await may_manage(impostor)
    shown = await newsdesk.invoke("newsdesk manager-role show", {}, user=room.server_admin)
    assert "No manager role is set" in shown.text and "“editors”" in shown.text, shown.text

    # Only Manage Server may set it; server-level Manage Channels is not enough.
    for member in (newsdesk.member, newsdesk.manager, editor):
        result = await newsdesk.invoke("newsdesk manager-role set", {"role": room.editors}, user=member)
        refused(result, "Manage Server")
    result = await newsdesk.invoke("newsdesk manager-role set", {"role": guild.everyone}, user=newsdesk.admin)
    refused(result, "@everyone")
    result = await newsdesk.invoke(
        "newsdesk manager-role set", {"role": room.editors}, user=room.server_admin
    )
    assert result.errors == [] and f"<@&{room.editors.id}>" in result.text, result.text

    # By id: the other role named "editors" grants nothing, renaming the real one keeps it.
    assert await may_manage(editor)
    refused(await newsdesk.invoke("feed list", {}, user=impostor), f"{NOT_A_MANAGER} or the editors role")
    room.editors.name = "News team"
    await newsdesk.emu.publish_role(guild.id, room.editors.id)
    assert await may_manage(editor) and not await may_manage(impostor)
    shown = await newsdesk.invoke("newsdesk manager-role show", {}, user=newsdesk.admin)
    assert f"<@&{room.editors.id}>" in shown.text, shown.text
    refused(await newsdesk.invoke("feed list", {}, user=impostor), "or the News team role")

    # Cleared: back to the configured name.
    cleared = await newsdesk.invoke("newsdesk manager-role clear", {}, user=room.server_admin)
    assert "No manager role is set" in cleared.text, cleared.text
    assert await may_manage(impostor) and not await may_manage(editor)


async def test_a_target_the_bot_cannot_post_in_is_refused(
    newsdesk: Harness, room: Newsroom, feeds: FeedServer
) -> None:
    locked, news, admin = room.world.locked, room.world.news, newsdesk.admin
    feeds.add_feed("/news.xml", title="Local News", items=[item(1)])
    # (Without Send Messages, discord.py also counts Embed Links as missing, as Discord does.)
    cannot_send = f"I can't post in <#{locked.id}>: I need Send Messages"
    for command, options in (
        ("feed add", {"url": feeds.url("/news.xml"), "channel": locked}),
        ("digest schedule", {"frequency": "daily", "time": "08:00", "channel": locked}),
        ("digest now", {"channel": locked}),
        ("alerts breaking", {"state": "on", "channel": locked}),
        ("alerts keywords add", {"keyword": "earthquake", "channel": locked}),
    ):
        refused(await newsdesk.invoke(command, options, user=admin), cannot_send)
    # Used in the locked channel itself, without a channel option: the same.
    refused(
        await newsdesk.invoke("alerts keywords add", {"keyword": "flood"}, user=admin, channel=locked),
        cannot_send,
    )
    # Nothing was stored.
    assert "has no digest" in (await newsdesk.invoke("digest show", {"channel": locked}, user=admin)).text
    assert (
        "No keywords" in (await newsdesk.invoke("alerts keywords list", {"channel": locked}, user=admin)).text
    )
    assert feeds.hits["/news.xml"] == 0

    await newsdesk.emu.set_overwrite(news, room.world.bot_role, deny=Perm.EMBED_LINKS)
    result = await newsdesk.invoke(
        "digest schedule", {"frequency": "daily", "time": "08:00", "channel": news}, user=admin
    )
    refused(result, f"I can't post in <#{news.id}>: I need Embed Links there.")


async def test_alert_role_pings_need_the_right_to_mention_the_role(newsdesk: Harness, room: Newsroom) -> None:
    news, guild = room.world.news, room.world.guild
    await newsdesk.emu.set_overwrite(news, guild.everyone, deny=Perm.MENTION_EVERYONE)

    def breaking(role: Role) -> dict[str, Any]:
        return {"state": "on", "role": role, "channel": news}

    # The editors role is not mentionable, and the manager may not mention @everyone in #news.
    result = await newsdesk.invoke("alerts breaking", breaking(room.editors), user=newsdesk.manager)
    refused(result, f"You can't mention <@&{room.editors.id}> in <#{news.id}>")
    assert "Mention @everyone" in result.text
    refused(
        await newsdesk.invoke("alerts breaking", breaking(guild.everyone), user=newsdesk.admin), "@everyone"
    )
    # Without a role the manager may; an admin (who may mention anyone) may name the role.
    alone = await newsdesk.invoke("alerts breaking", {"state": "on", "channel": news}, user=newsdesk.manager)
    assert alone.errors == [] and "will get an alert when" in alone.text, alone.text
    pinged = await newsdesk.invoke("alerts breaking", breaking(room.editors), user=newsdesk.admin)
    assert pinged.errors == [] and f"and mention <@&{room.editors.id}>" in pinged.text, pinged.text


async def test_a_private_thread_is_seen_by_its_owner_and_manage_threads_only(
    newsdesk: Harness, room: Newsroom, feeds: FeedServer
) -> None:
    # Discord shows a private thread to its members and to Manage Threads; discord.py's
    # permissions_for reads the parent's, which the server admin (Manage Server) can see.
    desk, owner, outsider = room.private, newsdesk.manager, room.server_admin
    feeds.add_feed("/desk.xml", title="Desk Wire", items=[item(1)])
    added = await newsdesk.invoke(
        "feed add", {"url": feeds.url("/desk.xml")}, user=owner, channel=desk, timeout_s=30
    )
    assert added.errors == [] and "now follows" in added.text, added.text
    hidden = await subscription_id(newsdesk, "Desk Wire")

    for member in (owner, room.thread_mod):
        assert "Desk Wire" in (await newsdesk.invoke("feed list", {}, user=member)).text
    listing = await newsdesk.invoke("feed list", {}, user=outsider)
    assert "Desk Wire" not in listing.text and "Feeds (0)" in listing.text, listing.text
    assert feeds.url("/desk.xml") not in await exported(newsdesk, outsider)
    assert await choices(newsdesk, outsider) == []
    refused(
        await newsdesk.invoke("feed remove", {"subscription": hidden}, user=outsider), UNKNOWN_SUBSCRIPTION
    )
    # Used in the thread itself, a command sees where it is used.
    inside = await newsdesk.invoke("feed list", {}, user=outsider, channel=desk)
    assert "Desk Wire" in inside.text, inside.text
