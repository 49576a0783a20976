"""Worker processes for CPU-bound work, driven from the event loop without helper threads."""

from bot.workers.pool import ProcessPool

__all__ = ["ProcessPool"]
