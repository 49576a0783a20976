"""newsdesk core: fetching, extraction, storage and the services the Discord cogs call.

Nothing here needs Discord: the CLI, the tests and a notebook use the same code.
"""

from bot.errors import NewsdeskError
from bot.types import Article

__all__ = ["Article", "NewsdeskError"]
__version__ = "0.1.0"
