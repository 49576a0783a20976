"""The emulator itself, driven by a plain in-process discord.py ``commands.Bot``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import discord
import pytest
from discord.ext import commands

from tests.e2e.inprocess import running
from tests.emulator import BucketRule, Emulator, Perm, RateLimitConfig

pytestmark = pytest.mark.e2e


@dataclass
class Seen:
    """What the in-process bot observed."""

    errors: list[discord.HTTPException] = field(default_factory=list)
    messages: list[discord.Message] = field(default_factory=list)
    resumed: int = 0


def make_bot(seen: Seen, guild_id: int) -> commands.Bot:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.1)
    feed = discord.app_commands.Group(name="feed", description="Feeds")

    @bot.tree.command(description="Answer after a deferral")
    async def ping(interaction: discord.Interaction, text: str = "pong") -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send(f"echo {text}", ephemeral=True)

    @bot.tree.command(description="Answer too late")
    async def slow(interaction: discord.Interaction) -> None:
        await asyncio.sleep(3.3)
        try:
            await interaction.response.send_message("late")
        except discord.HTTPException as e:
            seen.errors.append(e)

    @bot.tree.command(description="Acknowledge twice")
    async def twice(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("first")
        interaction.response._response_type = None  # what a second, unaware handler would do
        try:
            await interaction.response.send_message("second")
        except discord.HTTPException as e:
            seen.errors.append(e)

    @feed.command(name="add", description="Add a feed")
    async def feed_add(interaction: discord.Interaction, url: str, channel: discord.TextChannel) -> None:
        view = discord.ui.View()
        view.add_item(discord.ui.Button(label="Confirm", custom_id="confirm"))
        await interaction.response.send_message(f"add {url} to {channel.name}?", view=view)

    @feed_add.autocomplete("url")
    async def url_choices(
        interaction: discord.Interaction, current: str
    ) -> list[discord.app_commands.Choice[str]]:
        return [discord.app_commands.Choice(name=f"{current}-{n}", value=f"{current}-{n}") for n in range(3)]

    bot.tree.add_command(feed)

    class Rename(discord.ui.Modal, title="Rename"):
        name = discord.ui.TextInput(label="New name", custom_id="name")

        async def on_submit(self, interaction: discord.Interaction) -> None:
            await interaction.response.send_message(f"renamed to {self.name.value}", ephemeral=True)

    @bot.tree.command(description="Open a modal")
    async def rename(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Rename())

    @bot.tree.command(description="Deferred, then the original edited twice")
    async def progress(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(content="50%")
        await interaction.edit_original_response(content="done", embed=discord.Embed(title="Report"))

    @bot.tree.command(description="Read an attached file")
    async def inspect(interaction: discord.Interaction, file: discord.Attachment) -> None:
        data = await file.read()
        await interaction.response.send_message(f"{file.filename}: {len(data)} bytes", ephemeral=True)

    @bot.tree.command(description="What may I do here?")
    async def whoami(interaction: discord.Interaction) -> None:
        can = interaction.permissions.manage_channels
        await interaction.response.send_message(f"manage_channels={can}", ephemeral=True)

    @bot.tree.command(description="Public deferral, then a private error")
    async def oops(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("would be public", ephemeral=True)

    @bot.tree.command(description="Public deferral removed before a private error")
    async def oops_fixed(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.delete_original_response()
        await interaction.followup.send("private", ephemeral=True)

    @bot.tree.command(description="Only in the test guild")
    @discord.app_commands.guilds(guild_id)
    async def local(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("guild only")

    @bot.listen()
    async def on_interaction(interaction: discord.Interaction) -> None:
        if (
            interaction.type is discord.InteractionType.component
            and interaction.data.get("custom_id") == "confirm"
        ):
            await interaction.response.edit_message(content="confirmed", view=None)

    @bot.listen()
    async def on_message(message: discord.Message) -> None:
        seen.messages.append(message)

    @bot.listen()
    async def on_resumed() -> None:
        seen.resumed += 1

    async def setup_hook() -> None:
        await bot.tree.sync()
        await bot.tree.sync(guild=discord.Object(guild_id))

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


@dataclass
class Env:
    emu: Emulator
    bot: commands.Bot
    seen: Seen

    def failure_report(self) -> str:
        return self.emu.failure_report()


@pytest.fixture
def rate_limits() -> RateLimitConfig | None:
    return None


@pytest.fixture
async def env(rate_limits: RateLimitConfig | None) -> AsyncIterator[Env]:
    async with Emulator(rate_limits=rate_limits) as emu:
        seen = Seen()
        bot = make_bot(seen, emu.default.guild.id)
        async with running(bot, emu):
            await emu.wait_for_commands()
            yield Env(emu, bot, seen)


def channel(env: Env, name: str) -> discord.TextChannel:
    found = env.bot.get_channel(getattr(env.emu.default, name).id)
    assert isinstance(found, discord.TextChannel)
    return found


async def test_ready_and_guild_create(env: Env) -> None:
    emu, bot = env.emu, env.bot
    assert bot.user is not None and bot.user.id == emu.bot_user_id
    assert bot.application_id == emu.application_id
    assert [e.event for e in emu.recorder.events() if e.event][:2] == ["READY", "GUILD_CREATE"]
    guild = bot.get_guild(emu.default.guild.id)
    assert guild is not None
    assert {c.name for c in guild.text_channels} == {"general", "news", "locked"}
    assert {r.name for r in guild.roles} >= {"@everyone", "admin", "manager"}
    assert guild.me is not None and guild.me.id == emu.bot_user_id
    # Computed from roles and overwrites: the bot may not send in #locked.
    assert not channel(env, "locked").permissions_for(guild.me).send_messages
    assert channel(env, "general").permissions_for(guild.me).send_messages


async def test_commands_registered_with_schema(env: Env) -> None:
    registered = env.emu.commands()
    assert set(registered) == {
        "ping",
        "slow",
        "twice",
        "feed",
        "rename",
        "progress",
        "inspect",
        "whoami",
        "oops",
        "oops_fixed",
    }
    assert set(env.emu.commands(env.emu.default.guild.id)) == {"local"}
    add = registered["feed"]["options"][0]
    assert (add["name"], add["type"]) == ("add", 1)
    assert [(o["name"], o["type"], o.get("required")) for o in add["options"]] == [
        ("url", 3, True),
        ("channel", 7, True),
    ]


async def test_defer_then_followup_fills_the_deferral(env: Env) -> None:
    result = await env.emu.invoke("ping", {"text": "hi"})
    assert result.callback_type == 5
    assert result.content == "echo hi"
    assert result.ephemeral
    assert result.ack_ms is not None and result.ack_ms < 3000
    # The follow-up replaced the "thinking" message instead of adding one.
    assert result.original is not None and result.followups[0]["id"] == result.original["id"]
    assert env.emu.channel_messages(env.emu.default.general) == []  # ephemeral: not in the channel


async def test_subcommand_with_channel_option_and_button_click(env: Env) -> None:
    emu = env.emu
    result = await emu.invoke(
        "feed add", {"url": "https://x.test/rss", "channel": emu.default.news}, user=emu.default.admin
    )
    assert result.callback_type == 4 and not result.ephemeral
    assert result.content == "add https://x.test/rss to news?"
    button = result.components[0]["components"][0]
    assert (button["label"], button["custom_id"]) == ("Confirm", "confirm")
    assert result.message is not None
    clicked = await emu.click(result.message, "confirm", user=emu.default.admin)
    assert clicked.callback_type == 7
    assert clicked.content == "confirmed" and clicked.components == []
    assert emu.channel_messages(emu.default.general)[-1]["content"] == "confirmed"


async def test_autocomplete(env: Env) -> None:
    result = await env.emu.autocomplete("feed add", {"url": "ab"}, focused="url")
    assert result.callback_type == 8
    assert [c["value"] for c in result.choices or []] == ["ab-0", "ab-1", "ab-2"]


async def test_unknown_option_is_a_test_error(env: Env) -> None:
    with pytest.raises(ValueError, match="no option"):
        await env.emu.invoke("feed add", {"link": "x"})


async def test_response_after_three_seconds_is_10062(env: Env) -> None:
    result = await env.emu.invoke("slow", timeout_s=6)
    assert result.callback_type is None
    assert [err.code for err in result.errors] == [10062]
    assert [err.code for err in env.seen.errors] == [10062]
    assert isinstance(env.seen.errors[0], discord.NotFound)


async def test_second_acknowledgement_is_40060(env: Env) -> None:
    result = await env.emu.invoke("twice")
    assert result.content == "first"
    assert [err.code for err in result.errors] == [40060]
    assert [(err.status, err.code) for err in env.seen.errors] == [(400, 40060)]


async def test_2001_characters_is_50035(env: Env) -> None:
    with pytest.raises(discord.HTTPException) as info:
        await channel(env, "general").send("x" * 2001)
    assert (info.value.status, info.value.code) == (400, 50035)
    last = env.emu.recorder.requests[-1]
    assert last.response["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    await channel(env, "general").send("x" * 2000)
    assert len(env.emu.channel_messages(env.emu.default.general)[-1]["content"]) == 2000


async def test_embed_limits(env: Env) -> None:
    general = channel(env, "general")
    with pytest.raises(discord.HTTPException) as info:
        await general.send(embed=discord.Embed(title="t" * 257))
    assert info.value.code == 50035
    too_much = [discord.Embed(description="d" * 4000) for _ in range(2)]
    with pytest.raises(discord.HTTPException):
        await general.send(embeds=too_much)  # 8000 characters across embeds > 6000
    assert env.emu.recorder.requests[-1].response["errors"]["embeds"]["_errors"][0]["code"] == (
        "MAX_EMBED_SIZE_EXCEEDED"
    )
    embed = discord.Embed(title="ok")
    for n in range(26):
        embed.add_field(name=f"f{n}", value="v")
    with pytest.raises(discord.HTTPException):
        await general.send(embed=embed)


async def test_missing_permission_is_50013(env: Env) -> None:
    with pytest.raises(discord.Forbidden) as info:
        await channel(env, "locked").send("hello")
    assert info.value.code == 50013
    # Tests can change permissions: allow the bot role, and it may send.
    emu = env.emu
    emu.default.guild.set_overwrite(emu.default.locked, emu.default.bot_role, allow=Perm.SEND_MESSAGES)
    await channel(env, "locked").send("now allowed")
    assert emu.channel_messages(emu.default.locked)[-1]["content"] == "now allowed"


@pytest.mark.parametrize(
    "rate_limits", [RateLimitConfig(rules=(BucketRule("POST /channels/{channel_id}/messages", 3, 1.0),))]
)
async def test_429_burst_is_honoured_without_loss_or_duplicates(env: Env) -> None:
    emu = env.emu
    emu.inject("POST /channels/*/messages", 429, count=2, retry_after=0.3)
    general = channel(env, "general")
    await asyncio.gather(*(general.send(f"m{n}") for n in range(8)))
    contents = [m["content"] for m in emu.channel_messages(emu.default.general)]
    assert sorted(contents) == sorted(f"m{n}" for n in range(8))
    statuses = [r.status for r in emu.recorder.calls("POST", f"/channels/{emu.default.general.id}/messages")]
    assert statuses.count(429) >= 2
    assert statuses.count(200) == 8


async def test_rate_limit_headers_and_429_shape(env: Env) -> None:
    emu = env.emu
    emu.inject("GET /users/@me", 429, count=1, retry_after=2.5)
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bot {emu.token}"}
        async with session.get(emu.api_base + "/users/@me", headers=headers) as limited:
            assert limited.status == 429
            assert limited.headers["Via"] == "1.1 google"
            assert limited.headers["Retry-After"] == "3"
            assert limited.headers["X-RateLimit-Scope"] == "shared"
            assert (await limited.json())["retry_after"] == 2.5
        async with session.get(emu.api_base + "/users/@me", headers=headers) as ok:
            assert ok.status == 200
            assert ok.headers["Content-Type"] == "application/json"
            for name in ("Limit", "Remaining", "Reset", "Reset-After", "Bucket"):
                assert f"X-RateLimit-{name}" in ok.headers
        async with session.get(emu.api_base + "/users/@me") as anonymous:
            assert anonymous.status == 401


async def test_gateway_drop_resumes_and_replays_missed_events(env: Env) -> None:
    emu = env.emu
    await emu.drop_gateway()
    # Sent while the bot is disconnected: must arrive through the RESUME replay.
    await emu.post_user_message(emu.default.general, emu.default.member, "while you were away")
    await emu.gateway.wait_for(lambda: env.seen.resumed == 1, timeout_s=10)
    resume = emu.recorder.events(direction="recv")
    assert any(g.op == 6 for g in resume)
    assert emu.gateway.identifies == 1
    assert [c.split("?")[0] for c in emu.gateway.connections] == ["/gateway", "/gateway/resume"]
    await emu.gateway.wait_for(lambda: len(env.seen.messages) == 1, 5)
    # Without the MESSAGE_CONTENT intent a user's message arrives with its content blanked.
    assert env.seen.messages[0].author.id == emu.default.member.user.id
    assert env.seen.messages[0].content == ""
    # And the resumed session works: a command still round-trips.
    assert (await emu.invoke("ping")).content == "echo pong"


async def test_invalid_session_makes_the_client_identify_again(env: Env) -> None:
    emu = env.emu
    await emu.gateway.invalidate_sessions()
    await emu.drop_gateway()
    await emu.gateway.wait_for(lambda: emu.gateway.identifies == 2, timeout_s=15)
    assert any(g.op == 9 for g in emu.recorder.events())
    assert (await emu.invoke("ping")).content == "echo pong"


async def test_unknown_endpoint_is_recorded(env: Env) -> None:
    route = discord.http.Route("GET", "/guilds/{guild_id}/audit-logs", guild_id=env.emu.default.guild.id)
    with pytest.raises(discord.NotFound):
        await env.bot.http.request(route)
    unknown = env.emu.recorder.unknown_requests
    assert [(r.method, r.path) for r in unknown] == [
        ("GET", f"/guilds/{env.emu.default.guild.id}/audit-logs")
    ]
    assert unknown[0].response == {"code": 0, "message": "404: Not Found"}


async def test_nonce_is_enforced(env: Env) -> None:
    general = channel(env, "general")
    first = await general.send("once", nonce=12345)
    second = await general.send("once", nonce=12345)
    assert first.id == second.id
    assert [m["content"] for m in env.emu.channel_messages(env.emu.default.general)] == ["once"]


async def test_attachments_threads_and_webhooks(env: Env) -> None:
    import io

    emu = env.emu
    general = channel(env, "general")
    sent = await general.send("file", file=discord.File(io.BytesIO(b"hello"), filename="a.txt"))
    assert [a.filename for a in sent.attachments] == ["a.txt"]
    assert await sent.attachments[0].read() == b"hello"
    thread = await sent.create_thread(name="discussion")
    assert thread.id == sent.id
    await thread.send("in thread")
    assert [m["content"] for m in emu.channel_messages(thread.id)] == ["in thread"]
    webhook = await general.create_webhook(name="news hook")
    hooked = await webhook.send("via webhook", username="Wire", wait=True)
    assert hooked.webhook_id == webhook.id and hooked.author.name == "Wire"
    history = [m.content async for m in general.history(limit=10)]
    assert history == ["via webhook", "file"]


async def test_guild_command(env: Env) -> None:
    result = await env.emu.invoke("local", guild_id=env.emu.default.guild.id)
    assert result.content == "guild only"


async def test_modal_round_trip(env: Env) -> None:
    opened = await env.emu.invoke("rename")
    assert opened.callback_type == 9
    assert opened.modal is not None and opened.modal["title"] == "Rename"
    submitted = await env.emu.submit_modal(opened, {"name": "Morning brief"})
    assert submitted.content == "renamed to Morning brief" and submitted.ephemeral


async def test_deferred_then_original_edited(env: Env) -> None:
    result = await env.emu.invoke("progress", settle=0.5)
    assert result.callback_type == 5 and not result.ephemeral
    assert result.content == "done" and result.embeds[0]["title"] == "Report"
    assert result.followups == []
    public = env.emu.channel_messages(env.emu.default.general)
    assert [m["content"] for m in public] == ["done"]  # one message, edited in place
    assert public[0]["flags"] & 128 == 0  # no longer "thinking"


@pytest.mark.parametrize("rate_limits", [RateLimitConfig(rules=())])  # no 5-per-5-s send limit
async def test_history_paging(env: Env) -> None:
    general = channel(env, "general")
    sent = [await general.send(f"n{n}") for n in range(5)]
    newest_first = [m.content async for m in general.history(limit=3)]
    assert newest_first == ["n4", "n3", "n2"]
    after = [m.content async for m in general.history(after=sent[1], oldest_first=True)]
    assert after == ["n2", "n3", "n4"]
    before = [m.content async for m in general.history(before=sent[2])]
    assert before == ["n1", "n0"]


async def test_attachment_option_is_resolved_and_downloadable(env: Env) -> None:
    upload = env.emu.upload("report.csv", b"a,b\n1,2\n", "text/csv")
    result = await env.emu.invoke("inspect", {"file": upload})
    assert result.content == "report.csv: 8 bytes"


async def test_member_permissions_are_computed_per_channel(env: Env) -> None:
    emu = env.emu
    editor = await emu.add_member("eddie", permissions=Perm.MANAGE_CHANNELS)
    assert (await emu.invoke("whoami", user=editor)).content == "manage_channels=True"
    assert (await emu.invoke("whoami", user=emu.default.member)).content == "manage_channels=False"
    await emu.set_overwrite(emu.default.news, editor, deny=Perm.MANAGE_CHANNELS)
    denied = await emu.invoke("whoami", user=editor, channel=emu.default.news)
    assert denied.content == "manage_channels=False"
    # The CHANNEL_UPDATE reached the bot's cache too.
    news = env.bot.get_channel(emu.default.news.id)
    assert isinstance(news, discord.TextChannel) and news.overwrites


async def test_injected_500_is_retried(env: Env) -> None:
    emu = env.emu
    emu.inject("POST /channels/*/messages", 500, count=1)
    await channel(env, "general").send("after a 500")
    statuses = [r.status for r in emu.recorder.calls("POST", f"/channels/{emu.default.general.id}/messages")]
    assert statuses == [500, 200]
    assert [m["content"] for m in emu.channel_messages(emu.default.general)] == ["after a 500"]


@pytest.mark.parametrize("rate_limits", [RateLimitConfig(rules=(), global_limit=4)])
async def test_global_limit_is_honoured(env: Env) -> None:
    emu = env.emu
    users = await asyncio.gather(*(env.bot.fetch_user(emu.default.member.user.id) for _ in range(10)))
    assert {u.name for u in users} == {"pat-member"}
    refused = [r for r in emu.recorder.calls("GET", "/users/") if r.status == 429]
    assert refused and all(r.response["global"] for r in refused)


@pytest.mark.parametrize("compress", ["zlib-stream", None])
async def test_gateway_compression_and_heartbeat(compress: str | None) -> None:
    import json
    import zlib

    async with Emulator() as emu, aiohttp.ClientSession() as session:
        query = "v=10&encoding=json" + (f"&compress={compress}" if compress else "")
        async with session.ws_connect(f"{emu.gateway_url}?{query}") as ws:
            inflate = zlib.decompressobj()

            async def receive() -> dict:
                message = await ws.receive(timeout=5)
                if compress:
                    assert message.type is aiohttp.WSMsgType.BINARY
                    assert message.data.endswith(b"\x00\x00\xff\xff")  # Z_SYNC_FLUSH after each payload
                    return json.loads(inflate.decompress(message.data))  # one context for the whole stream
                return json.loads(message.data)

            hello = await receive()
            assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
            await ws.send_json({"op": 1, "d": None})
            assert (await receive())["op"] == 11
            await ws.send_json({"op": 2, "d": {"token": emu.token, "intents": 1, "properties": {}}})
            ready = await receive()
            assert ready["t"] == "READY" and ready["s"] == 1
            assert ready["d"]["resume_gateway_url"].startswith(emu.gateway_url)
            guild = await receive()
            assert guild["t"] == "GUILD_CREATE" and guild["s"] == 2
            # Without the GUILD_MEMBERS intent only the bot's own member comes with the guild.
            assert [m["user"]["id"] for m in guild["d"]["members"]] == [str(emu.bot_user_id)]


async def test_gateway_refuses_a_bad_token() -> None:
    async with (
        Emulator() as emu,
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{emu.gateway_url}?v=10&encoding=json") as ws,
    ):
        await ws.receive(timeout=5)
        await ws.send_json({"op": 2, "d": {"token": "bad", "intents": 1, "properties": {}}})
        closing = await ws.receive(timeout=5)
        assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4004


async def test_first_followup_after_public_deferral_is_public(env: Env) -> None:
    emu = env.emu
    # Discord ignores the ephemeral flag here: the follow-up fills the public "thinking" message.
    leaked = await emu.invoke("oops")
    assert not leaked.ephemeral and leaked.content == "would be public"
    assert [m["content"] for m in emu.channel_messages(emu.default.general)] == ["would be public"]
    fixed = await emu.invoke("oops_fixed")
    assert fixed.ephemeral and fixed.content == "private"
    assert [m["content"] for m in emu.channel_messages(emu.default.general)] == ["would be public"]


async def test_message_content_intent_shows_content() -> None:
    intents = discord.Intents.default()
    intents.message_content = True
    bot = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.1)
    seen: list[str] = []

    async def on_message(message: discord.Message) -> None:
        seen.append(message.content)

    bot.add_listener(on_message)
    async with Emulator() as emu, running(bot, emu):
        await emu.post_user_message(emu.default.general, emu.default.member, "https://x.test/story")
        await emu.gateway.wait_for(lambda: bool(seen), timeout_s=5)
    assert seen == ["https://x.test/story"]
