"""The emulator itself, driven by a plain in-process discord.py ``commands.Bot``."""

from __future__ import annotations

import asyncio

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.e2e.inprocess import running
from tests.emulator import Emulator

pytestmark = pytest.mark.e2e


def make_bot(emu: Emulator) -> commands.Bot:
    intents = discord.Intents.default()
    bot = commands.Bot(command_prefix="!", intents=intents)

    @bot.tree.command(description="Answer after a deferral")
    async def ping(interaction: discord.Interaction, text: str = "pong") -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send(f"echo {text}", ephemeral=True)

    async def setup_hook() -> None:
        await bot.tree.sync()

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


async def test_connect_ready_and_command_roundtrip() -> None:
    async with Emulator() as emu:
        bot = make_bot(emu)
        async with running(bot, emu):
            assert bot.user is not None and bot.user.id == emu.bot_user_id
            guild = bot.get_guild(emu.default.guild.id)
            assert guild is not None and guild.get_channel(emu.default.general.id) is not None
            await emu.wait_for_commands()
            result = await emu.invoke("ping", {"text": "hi"})
            assert result.callback_type == 5
            assert result.content == "echo hi"
            assert result.ephemeral
            assert result.ack_ms is not None and result.ack_ms < 3000
        print(emu.recorder.dump())
