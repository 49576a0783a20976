"""Article extraction: trafilatura behind a pure function and a process pool.

``extract`` is synchronous and pure (usable from a notebook or a test);
``ExtractorPool`` runs it in worker processes so the event loop never does.
"""

from bot.extract._core import extract
from bot.extract._pool import ExtractorPool
from bot.extract._summary import split_sentences, summarize
from bot.extract._text import reading_minutes, word_count

__all__ = ["ExtractorPool", "extract", "reading_minutes", "split_sentences", "summarize", "word_count"]
