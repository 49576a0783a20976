"""Logging setup: readable text for a terminal, or one JSON object per line for log shippers.

Context goes in ``key=value`` pairs in the message (``feed=``, ``guild=``,
``channel=``), so both formats keep it searchable.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from bot.config import LogSettings


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(settings: LogSettings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)
    # discord.py's per-request debug lines drown everything else below WARNING.
    logging.getLogger("discord.http").setLevel(max(logging.INFO, root.level))
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    # Migrations report themselves (bot.storage.migrate); alembic's own lines are noise.
    logging.getLogger("alembic").setLevel(logging.WARNING)
