"""User-facing errors: every failure becomes one short, ephemeral, specific reply.

``NewsdeskTree.on_error`` is the single place app-command errors end up. It
copes with interactions that were already deferred or answered, and with
interactions that expired before we could answer.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot.errors import NewsdeskError, StorageError

log = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong on our side. The error was logged; please try again later."


def user_message(error: BaseException) -> str | None:
    """What to tell the user about ``error``; None when it is unexpected (a bug to log)."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, StorageError):
        # Its message names the database; users get the apology, the log gets the details.
        return None
    if isinstance(error, NewsdeskError):
        return str(error)
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.MissingPermissions):
        needed = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
        return f"You need the {needed} permission to do that."
    if isinstance(error, app_commands.BotMissingPermissions):
        needed = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
        return f"I need the {needed} permission in this channel to do that."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command only works in a server."
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or "You are not allowed to use this command here."
    if isinstance(error, app_commands.TransformerError):
        return f"That value is not valid: {error.value!r}."
    return None


async def send_error(interaction: discord.Interaction, message: str) -> None:
    """Tell the user ``message`` privately, however far the interaction got."""
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(message, ephemeral=True)
            return
        if interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
            # A public "thinking..." placeholder: the first follow-up would replace it
            # publicly, so remove it and answer privately instead.
            await interaction.delete_original_response()
        await interaction.followup.send(message, ephemeral=True)
    except discord.NotFound:
        log.info("interaction expired before the error could be shown id=%s", interaction.id)
    except discord.HTTPException as e:
        log.warning("could not send error message id=%s: %s", interaction.id, e)


async def handle_error(interaction: discord.Interaction, error: BaseException) -> None:
    """Answer ``error`` to the user, logging it with context when it is unexpected."""
    message = user_message(error)
    if message is None:
        command = interaction.command.qualified_name if interaction.command else None
        log.error(
            "unexpected error command=%s guild=%s channel=%s user=%s",
            command,
            interaction.guild_id,
            interaction.channel_id,
            interaction.user.id,
            exc_info=error,
        )
        message = APOLOGY
    await send_error(interaction, message)


class NewsdeskTree(app_commands.CommandTree):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await handle_error(interaction, error)
