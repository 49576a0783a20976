"""Discord's rate limits for the whole bot (cogs/ratelimits.py, bot/ratelimit.py).

- a process keeps to its share of the global limit: two "processes" (two discord.py HTTP
  clients, each with its own limits) with a share of 2 together stay under the emulator's global
  limit, where the same two without a share overrun it;
- interaction responses (callback and follow-up) never wait behind a spent budget;
- 429s are counted per route template and scope, retries included;
- the budget's own arithmetic: rolling window, rounding, order, cancellation, a changing share.

Timing is asserted only as lower bounds (a start may be late on a loaded machine, never early)
or on the times the budget itself let requests through.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest
import yarl
from discord.ext import commands
from discord.http import Route
from multidict import CIMultiDict

from bot.config import DiscordSettings
from bot.ratelimit import ProcessCount, RequestBudget
from cogs.ratelimits import DiscordRateLimits, is_interaction_route, route_template, scope_of
from tests.e2e.inprocess import pointed_at, running
from tests.emulator import BucketRule, Emulator, RateLimitConfig

# --- pure: route templates, interaction routes, the budget's arithmetic ----------------------


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("POST", "/channels/1234567890/messages", "POST /channels/{channel_id}/messages"),
        (
            "patch",
            "/channels/12/messages/34",
            "PATCH /channels/{channel_id}/messages/{message_id}",
        ),
        ("GET", "/channels/12/messages", "GET /channels/{channel_id}/messages"),
        ("GET", "/users/@me", "GET /users/@me"),
        ("GET", "/guilds/5/members/6", "GET /guilds/{guild_id}/members/{user_id}"),
        (
            "POST",
            "/interactions/99/aW50ZXJhY3Rpb246OTk6c2VjcmV0LXRva2Vu/callback",
            "POST /interactions/{interaction_id}/{interaction_token}/callback",
        ),
        (
            "PATCH",
            "/webhooks/7/aW50ZXJhY3Rpb246OTk6c2VjcmV0LXRva2Vu/messages/@original",
            "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original",
        ),
        (
            "PUT",
            "/channels/1/messages/2/reactions/%F0%9F%91%8D/@me",
            "PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
        ),
        ("GET", "/channels/1/Strange_Segment-With-Caps", "GET /channels/{channel_id}/{param}"),
    ],
)
def test_route_templates_name_every_id_and_token(method: str, path: str, template: str) -> None:
    assert route_template(method, path) == template


def test_interaction_routes_are_the_token_routes() -> None:
    assert is_interaction_route("/interactions/1/tok/callback")
    assert is_interaction_route("/webhooks/1/tok")
    assert is_interaction_route("/webhooks/1/tok/messages/@original")
    assert not is_interaction_route("/webhooks/1")  # a webhook read with the bot's token
    assert not is_interaction_route("/channels/1/messages")
    assert not is_interaction_route("/channels/1/webhooks")


def test_only_api_urls_are_limited_however_the_base_is_spelt() -> None:
    limits = DiscordRateLimits(DiscordSettings())
    saved = Route.BASE
    Route.BASE = "HTTP://Nirn-Proxy:80/api/v10"  # aiohttp asks for http://nirn-proxy/api/v10/...
    try:
        api = yarl.URL("http://nirn-proxy/api/v10/channels/1/messages?limit=5")
        assert limits.api_path(api) == "/channels/1/messages"
        assert limits.api_path(yarl.URL("http://nirn-proxy/api/v100/users/@me")) is None
        assert limits.api_path(yarl.URL("https://cdn.discordapp.com/avatars/1/a.png")) is None
        assert limits.api_path(yarl.URL("wss://gateway.discord.gg/?v=10&encoding=json")) is None
    finally:
        Route.BASE = saved


def test_the_scope_of_a_429() -> None:
    def scope(**headers: str) -> str:
        return scope_of(CIMultiDict({k.replace("_", "-"): v for k, v in headers.items()}))

    assert scope(x_ratelimit_scope="User") == "user"
    assert scope(x_ratelimit_scope="shared") == "shared"
    assert scope(X_RateLimit_Global="true") == "global"
    assert scope(generated_by_proxy="true") == "proxy"
    assert scope(Via="1.1 google") == "unknown"


def test_a_share_is_rounded_down_and_never_nothing() -> None:
    n = [1]
    budget = RequestBudget(50)
    assert budget.allowance() == (50, 1.0)  # alone
    budget.share_with(lambda: n[0])
    expected = {1: (50, 1.0), 2: (25, 1.0), 3: (16, 1.0), 50: (1, 1.0), 100: (1, 2.0), 0: (50, 1.0)}
    for processes, allowance in expected.items():
        n[0] = processes
        assert budget.allowance() == allowance
        if 0 < processes <= 50:  # N processes together within the limit
            assert processes * allowance[0] <= 50


async def test_the_budget_lets_at_most_its_share_through_per_window_in_order() -> None:
    budget = RequestBudget(10, lambda: 2, window_s=0.2, slack_s=0.0)  # 1 per 0.2 s
    budget.log = []
    order: list[int] = []

    async def request(n: int) -> None:
        await budget.take()
        order.append(n)

    began = time.monotonic()  # the budget's clock, and the emulator's
    await asyncio.gather(*(request(n) for n in range(5)))
    assert order == [0, 1, 2, 3, 4]  # first come, first served
    assert all(at >= began + k * 0.2 - 0.001 for k, at in enumerate(budget.log)), budget.log
    assert budget.stats.taken == 5 and budget.stats.delayed == 4


async def test_a_cancelled_waiter_takes_no_place() -> None:
    budget = RequestBudget(5, window_s=0.2, slack_s=0.0)  # 1 per 0.2 s
    budget.log = []
    await budget.take()
    waiter = asyncio.create_task(budget.take())
    await asyncio.sleep(0.05)
    waiter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiter
    await budget.take()  # the next one gets the place the cancelled one never took
    assert len(budget.log) == 2 and budget.log[1] - budget.log[0] >= 0.2 - 0.001


async def test_process_count_is_cached_and_survives_a_failed_refresh() -> None:
    answers: list[int | Exception] = [3, 0, RuntimeError("database down")]
    asked = [0]

    async def live() -> int:
        answer = answers[asked[0]]
        asked[0] += 1
        if isinstance(answer, Exception):
            raise answer
        return answer

    count = ProcessCount(live)
    assert count() == 1 and asked[0] == 0  # nothing asked before a refresh
    await count.refresh()
    assert count() == count() == 3 and asked[0] == 1  # read without asking again
    await count.refresh()
    assert count() == 1  # none live (this one not yet counted): alone
    with pytest.raises(RuntimeError):
        await count.refresh()
    assert count() == 1


def test_rest_proxy_switches_the_budget_off_and_must_not_be_discord_itself() -> None:
    proxied = DiscordSettings(rest_proxy=True, api_base="http://nirn-proxy:8080/api/v10")
    assert DiscordRateLimits(proxied).budget is None
    assert DiscordRateLimits(DiscordSettings()).budget is not None
    with pytest.raises(ValueError, match="rest_proxy"):
        DiscordSettings(rest_proxy=True)
    with pytest.raises(ValueError, match="rest_proxy"):
        DiscordSettings(rest_proxy=True, api_base="https://canary.discord.com/api/v10")


# --- against the emulator ---------------------------------------------------------------------


@contextlib.asynccontextmanager
async def client(emu: Emulator, limits: DiscordRateLimits) -> AsyncIterator[discord.http.HTTPClient]:
    """A logged-in discord.py HTTP client with ``limits`` on its session: one process's REST."""
    http = discord.http.HTTPClient(asyncio.get_running_loop(), http_trace=limits.trace_config())
    try:
        await http.static_login(emu.token)
        yield http
    finally:
        await http.close()


async def post_edit_and_read(http: discord.http.HTTPClient, channel_id: int, n: int) -> None:
    """A post, an edit of it and a history lookup: what delivery does."""
    message = await http.request(
        Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id), json={"content": f"m{n}"}
    )
    edit = Route(
        "PATCH",
        "/channels/{channel_id}/messages/{message_id}",
        channel_id=channel_id,
        message_id=message["id"],
    )
    await http.request(edit, json={"content": f"m{n} edited"})
    await http.logs_from(channel_id, 10)


def most_in_any_window(times: list[float], window_s: float) -> int:
    times = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= window_s:
            first += 1
        most = max(most, last - first + 1)
    return most


GLOBAL = 6  # the emulator's global limit, and the bot's in these tests


def emulator_limits() -> RateLimitConfig:
    # Route buckets out of the way: these tests are about the global limit.
    return RateLimitConfig(rules=(), default_limit=1000, global_limit=GLOBAL)


async def test_two_processes_with_a_share_of_two_stay_under_the_global_limit_together() -> None:
    settings = DiscordSettings(global_rate_limit=GLOBAL)
    async with Emulator(rate_limits=emulator_limits()) as emu:
        limits = [DiscordRateLimits(settings, share=lambda: 2) for _ in range(2)]
        for each in limits:
            # A wider slack than in production: the emulator shares this test's event loop, so a
            # request may reach it much later than the budget let it go.
            each.budget = RequestBudget(GLOBAL, lambda: 2, slack_s=0.3)
            each.budget.log = []
        began = time.monotonic()  # the budget's clock, and the emulator's
        with pointed_at(emu):
            async with client(emu, limits[0]) as one, client(emu, limits[1]) as two:
                await asyncio.gather(
                    *(post_edit_and_read(one, emu.default.general.id, n) for n in range(2)),
                    *(post_edit_and_read(two, emu.default.news.id, n) for n in range(2)),
                )
        requests = emu.recorder.requests
    assert [r.status for r in requests] == [200] * 14  # 2 logins + 2 × 2 × (post, edit, history)
    assert sum(each.stats.total() for each in limits) == 0
    # Each let 3 through per window, so the two together at most GLOBAL in any second ...
    admitted = [at for each in limits for at in each.budget.log or []]
    assert len(admitted) == 14
    assert max(len(each.budget.log or []) for each in limits) == 7
    assert most_in_any_window(admitted, 1.0) <= GLOBAL
    # ... and each one's 7th request waited two windows (1.3 s each here) at least.
    assert max(r.at for r in requests) >= began + 2 * 1.3 - 0.01


async def test_without_a_share_two_processes_overrun_the_global_limit_and_count_the_429s() -> None:
    """The control: each process alone with the whole budget; the emulator refuses the excess,
    each refusal counted as global, and discord.py's retries still deliver every request."""
    settings = DiscordSettings(global_rate_limit=GLOBAL)
    async with Emulator(rate_limits=emulator_limits()) as emu:
        limits = [DiscordRateLimits(settings) for _ in range(2)]
        with pointed_at(emu):
            async with client(emu, limits[0]) as one, client(emu, limits[1]) as two:
                await asyncio.gather(
                    *(one.get_channel(emu.default.general.id) for _ in range(GLOBAL - 1)),
                    *(two.get_channel(emu.default.news.id) for _ in range(GLOBAL - 1)),
                )
        refused = [r for r in emu.recorder.requests if r.status == 429]
    counted: dict[tuple[str, str], int] = {}
    for each in limits:
        for key, n in each.stats.snapshot().items():
            counted[key] = counted.get(key, 0) + n
    assert refused, "two processes with the whole budget each never overran it"
    assert counted == {("GET /channels/{channel_id}", "global"): len(refused)}


@pytest.mark.parametrize("answer", ["send", "defer and follow up"])
async def test_interaction_responses_never_wait_behind_a_spent_budget(answer: str) -> None:
    processes = [1]
    limits = DiscordRateLimits(DiscordSettings(global_rate_limit=50), share=lambda: processes[0])
    bot = commands.Bot(
        command_prefix="!",
        intents=discord.Intents.default(),
        guild_ready_timeout=0.1,
        http_trace=limits.trace_config(),
    )

    @bot.tree.command(description="Answer")
    async def ping(interaction: discord.Interaction) -> None:
        if answer == "send":
            await interaction.response.send_message("pong", ephemeral=True)
        else:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await interaction.followup.send("pong", ephemeral=True)

    async def setup_hook() -> None:
        await bot.tree.sync()

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    async with Emulator() as emu, running(bot, emu):
        await emu.wait_for_commands()
        processes[0] = 100  # now one request per 2 s for this process
        before = len(emu.recorder.requests)
        # Six different buckets: discord.py sends them at once (one bucket would send one at a
        # time), so all six wait in the budget together.
        channels = (emu.default.general.id, emu.default.news.id, emu.default.locked.id)
        flood = [asyncio.create_task(bot.http.get_channel(c)) for c in channels]
        flood += [asyncio.create_task(bot.http.logs_from(c, 1)) for c in channels]
        try:
            result = await emu.invoke("ping")
            waiting = sum(not task.done() for task in flood)
        finally:
            for task in flood:  # the rest would take seconds more: not this test's business
                task.cancel()
            await asyncio.gather(*flood, return_exceptions=True)
        requests = emu.recorder.requests[before:]
    assert result.content == "pong" and not result.errors
    assert result.ack_ms is not None and result.ack_ms < 3000
    # The answer's requests reached Discord while most of the flood still waited its turn.
    answers = [k for k, r in enumerate(requests) if is_interaction_route(r.path)]
    assert len(answers) == (1 if answer == "send" else 2)
    flood_before_answer = [r for r in requests[: max(answers)] if r.method == "GET"]
    assert len(flood_before_answer) < len(flood) and waiting > 0


async def test_429s_are_counted_per_route_and_scope_retries_included() -> None:
    rules = (BucketRule("GET /channels/{channel_id}/messages", 1, 30.0),)
    async with Emulator(rate_limits=RateLimitConfig(rules=rules)) as emu:
        limits = DiscordRateLimits(DiscordSettings())
        general, news = emu.default.general.id, emu.default.news.id
        emu.inject("POST /channels/*/messages", 429, count=2, retry_after=0.05)  # scope "shared"
        emu.inject("GET /channels/*", 429, count=1, retry_after=0.05, is_global=True)
        with pointed_at(emu):
            async with client(emu, limits) as http:
                post = Route("POST", "/channels/{channel_id}/messages", channel_id=general)
                await http.request(post, json={"content": "hello"})  # two 429s, then sent
                await http.get_channel(news)  # one global 429, then read
            # A route's own bucket (1 per 30 s): the second read is refused, scope "user".
            # discord.py would wait rather than ask again, so this one asks with aiohttp itself.
            headers = {"Authorization": f"Bot {emu.token}"}
            async with aiohttp.ClientSession(trace_configs=[limits.trace_config()]) as session:
                for _ in range(2):
                    async with session.get(f"{emu.api_base}/channels/{news}/messages", headers=headers):
                        pass
    assert limits.stats.snapshot() == {
        ("POST /channels/{channel_id}/messages", "shared"): 2,
        ("GET /channels/{channel_id}", "global"): 1,
        ("GET /channels/{channel_id}/messages", "user"): 1,
    }
    assert limits.stats.total() == 4 and limits.stats.total("global") == 1
