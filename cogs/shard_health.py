"""Which of this gateway process's shards hold a live session, for ``/readyz`` (bot/ops/health.py).

A shard is up from its READY (discord.py's ``shard_connect``) or RESUMED until it disconnects. An
open websocket alone is not enough: a shard whose IDENTIFY Discord refuses keeps its socket open
and receives no events.
"""

from __future__ import annotations

from discord.ext import commands


class ShardHealth:
    def __init__(self, client: commands.AutoShardedBot) -> None:
        self._client = client
        self._up: set[int] = set()
        client.add_listener(self._up_again, "on_shard_connect")
        client.add_listener(self._up_again, "on_shard_resumed")
        client.add_listener(self._down, "on_shard_disconnect")

    def states(self) -> dict[int, bool]:
        """Each shard this process runs (once launched): connected."""
        return {
            shard_id: shard_id in self._up and not info.is_closed()
            for shard_id, info in self._client.shards.items()
        }

    async def _up_again(self, shard_id: int) -> None:
        self._up.add(shard_id)

    async def _down(self, shard_id: int) -> None:
        self._up.discard(shard_id)
