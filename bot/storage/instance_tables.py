"""The ``instances`` table (migration 0007): one row per running newsdesk process.

Each process registers under its instance id (``run.instance_id``) and keeps ``expires_at``
ahead of the clock with a heartbeat (:mod:`bot.storage.instances`). A row whose ``expires_at``
has passed is a dead process: its leases are free for the others (:mod:`bot.storage.leases`).
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, Table, Text

from bot.storage.schema import UTCDateTime, metadata

instances = Table(
    "instances",
    metadata,
    # The owner name of this process's leases (feeds, outbox rows, service_leases).
    Column("id", Text, primary_key=True),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    # Comma-separated roles ("gateway,worker"), for status views and the logs.
    Column("roles", Text, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    # Dead from this time on unless a beat moves it forward (heartbeat + run.takeover_s).
    Column("expires_at", UTCDateTime, nullable=False),
)
