"""`newsdesk run`: start the bot, stop it cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import aiohttp
import discord

from bot.config import Settings
from bot.errors import ConfigError, NewsdeskError
from bot.tuning import tune_gc
from cogs.client import NewsdeskBot, point_at

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

    bot = NewsdeskBot(settings)
    tune_gc()
    try:
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
