"""A local Discord API emulator that the unmodified discord.py client connects to.

async with Emulator() as emu:
    Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = emu.api_base, yarl.URL(emu.gateway_url)
    ... run a client with emu.token ...
    result = await emu.invoke("feed add", {"url": "..."}, user=emu.default.admin)
"""

from tests.emulator.errors import ApiError
from tests.emulator.gateway import IdentifyRecord, SessionStartLimit, shard_of
from tests.emulator.ids import snowflake_on_shard
from tests.emulator.interactions import CallError, InteractionRecord, InteractionResult
from tests.emulator.permissions import Overwrite, Perm
from tests.emulator.ratelimit import BucketRule, Injection, RateLimitConfig
from tests.emulator.recorder import GatewayRecord, Recorder, RequestRecord
from tests.emulator.server import Emulator, InteractionTimeout
from tests.emulator.world import Channel, DefaultWorld, Guild, Member, Role, User, World, default_world

__all__ = [
    "ApiError",
    "BucketRule",
    "CallError",
    "Channel",
    "DefaultWorld",
    "Emulator",
    "GatewayRecord",
    "Guild",
    "IdentifyRecord",
    "Injection",
    "InteractionRecord",
    "InteractionResult",
    "InteractionTimeout",
    "Member",
    "Overwrite",
    "Perm",
    "RateLimitConfig",
    "Recorder",
    "RequestRecord",
    "Role",
    "SessionStartLimit",
    "User",
    "World",
    "default_world",
    "shard_of",
    "snowflake_on_shard",
]
