"""`newsdesk run`: start this process's roles, stop cleanly on SIGINT/SIGTERM.

With the ``gateway`` role the process connects to Discord's gateway (commands, buttons,
autocomplete) and, with ``worker`` too (the default, ``all``), runs the background work beside
it. A ``worker``-only process never opens the gateway: it logs in to the REST API to post, and
runs polling, grouping, alerts, digests and delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

import aiohttp
import discord

from bot.config import Settings
from bot.core import Newsdesk
from bot.errors import ConfigError, NewsdeskError
from bot.tuning import tune_gc
from cogs.client import NewsdeskBot, point_at
from cogs.publisher import DiscordPublisher
from cogs.ratelimits import DiscordRateLimits

log = logging.getLogger(__name__)


async def run_bot(settings: Settings) -> int:
    token = settings.discord.token.get_secret_value()
    if not token:
        raise ConfigError(
            "discord.token is not set: put it in config.toml or set NEWSDESK_DISCORD__TOKEN",
            key="discord.token",
        )
    point_at(settings.discord)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tune_gc()
    roles = settings.run.roles
    log.info("starting roles=%s", ",".join(roles))
    run: Callable[[Settings, str, asyncio.Event], Awaitable[None]]
    run = _run_gateway if "gateway" in roles else _run_worker
    try:
        await run(settings, token, stop)
    except discord.LoginFailure:
        raise NewsdeskError(
            "Discord rejected the token (discord.token): check it in the developer portal"
        ) from None
    except discord.PrivilegedIntentsRequired as e:
        raise NewsdeskError(f"Discord refused a privileged intent: {e}") from None
    except (aiohttp.ClientConnectorError, OSError) as e:
        raise NewsdeskError(f"cannot reach Discord at {settings.discord.api_base}: {e}") from None
    except discord.HTTPException as e:
        raise NewsdeskError(f"Discord answered {e.status}: {e.text or e}") from None
    log.info("stopped")
    return 0


async def _run_gateway(settings: Settings, token: str, stop: asyncio.Event) -> None:
    bot = NewsdeskBot(settings)
    async with bot:
        runner = asyncio.create_task(bot.start(token), name="discord-client")
        stopper = asyncio.create_task(stop.wait(), name="signal-wait")
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stopper in done:
            log.info("stopping on signal")
            await bot.close()
        stopper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


async def _run_worker(settings: Settings, token: str, stop: asyncio.Event) -> None:
    # REST only: login() checks the token and learns the bot's user (history lookups need it).
    rate_limits = DiscordRateLimits(settings.discord)
    client = discord.Client(
        intents=discord.Intents.none(),
        allowed_mentions=discord.AllowedMentions.none(),
        # This process's share of Discord's global limit; 429s counted (cogs/ratelimits.py).
        http_trace=rate_limits.trace_config(),
    )
    async with client:
        await client.login(token)
        async with Newsdesk(settings, publisher_for=lambda db: DiscordPublisher(client, db)) as core:
            rate_limits.share_with(core.processes)
            await core.start_duties()
            await stop.wait()
            log.info("stopping on signal")
