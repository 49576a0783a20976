"""Per-subscription entry filters: keywords or ``/regex/flags``, include and exclude.

Users type these patterns, so regexes run under the ``regex`` module's timeout: a catastrophic
pattern costs at most ``timeout_s`` per entry and counts as no match. Matching releases the GIL
(``concurrent=True``), so a caller can run a filter holding user regexes in a thread
(:attr:`EntryFilter.has_regex`) without stalling the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import regex

from bot.errors import FilterError
from bot.feeds.types import FeedEntry

log = logging.getLogger(__name__)

MAX_PATTERNS = 50
MAX_PATTERN_LENGTH = 300
DEFAULT_TIMEOUT_S = 0.05
_FLAGS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL, "x": regex.VERBOSE}


@dataclass(frozen=True, slots=True)
class Pattern:
    """One compiled filter pattern."""

    #: What the user typed.
    source: str
    #: The compiled expression (keywords become a whole-word, case-insensitive regex).
    compiled: regex.Pattern[str] = field(repr=False, compare=False)
    #: A regex the user wrote (a keyword's is linear-time: cheap anywhere).
    is_regex: bool = False


@dataclass(frozen=True, slots=True)
class FilterResult:
    """The verdict on one entry."""

    #: Whether the entry passes the filter (should be posted).
    matched: bool
    #: Patterns that hit the time limit on this entry (each counted as no match).
    timed_out: tuple[str, ...]


def compile_pattern(source: str) -> Pattern:
    """A keyword (case-insensitive, whole word) or ``/regex/flags`` (flags: i, m, s, x).

    Raises :class:`FilterError` with a message fit for the user.
    """
    text = source.strip()
    if not text:
        raise FilterError("A filter pattern cannot be empty.")
    if len(text) > MAX_PATTERN_LENGTH:
        raise FilterError(f"A filter pattern can be at most {MAX_PATTERN_LENGTH} characters long.")
    if len(text) >= 2 and text.startswith("/") and "/" in text[1:]:
        body, _, flag_text = text[1:].rpartition("/")
        unknown = sorted(set(flag_text) - set(_FLAGS))
        if unknown:
            raise FilterError(
                f"Unknown regex flag(s) {''.join(unknown)!r} in {text!r}: use i, m, s or x "
                "(to match the text literally, leave out the slashes)."
            )
        if not body:
            raise FilterError(f"The regex in {text!r} is empty.")
        flags = 0
        for letter in flag_text:
            flags |= _FLAGS[letter]
        try:
            compiled = regex.compile(body, flags)
        except Exception as e:  # regex.error mostly, but odd inline flags raise other things
            raise FilterError(f"Invalid regex {text!r}: {e}.") from e
        return Pattern(source=text, compiled=compiled, is_regex=True)
    # Lookarounds rather than \b, so keywords that start or end with punctuation ("c++", ".NET")
    # still match as whole words.
    compiled = regex.compile(rf"(?<!\w){regex.escape(text)}(?!\w)", regex.IGNORECASE)
    return Pattern(source=text, compiled=compiled)


def _compile_all(sources: list[str] | tuple[str, ...], kind: str) -> tuple[Pattern, ...]:
    if len(sources) > MAX_PATTERNS:
        raise FilterError(f"At most {MAX_PATTERNS} {kind} patterns are allowed.")
    return tuple(compile_pattern(s) for s in sources)


@dataclass(frozen=True, slots=True, init=False)
class EntryFilter:
    """Passes entries matching any ``include`` pattern (or all, when there is none) and no
    ``exclude`` pattern, looking at title, summary and categories.
    """

    #: Patterns of which at least one must match (none: everything is included).
    include: tuple[Pattern, ...]
    #: Patterns none of which may match.
    exclude: tuple[Pattern, ...]
    #: Time limit for one pattern on one entry, in seconds.
    timeout_s: float

    def __init__(
        self,
        include: list[str] | tuple[str, ...] = (),
        exclude: list[str] | tuple[str, ...] = (),
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        object.__setattr__(self, "include", _compile_all(include, "include"))
        object.__setattr__(self, "exclude", _compile_all(exclude, "exclude"))
        object.__setattr__(self, "timeout_s", timeout_s)

    @property
    def has_regex(self) -> bool:
        """Whether a pattern is a user regex: one may take up to ``timeout_s`` per entry, so
        match in a thread (matching releases the GIL) rather than on the event loop.
        """
        return any(p.is_regex for p in (*self.include, *self.exclude))

    def evaluate(self, entry: FeedEntry) -> FilterResult:
        """The verdict on ``entry``, with the patterns that timed out."""
        text = "\n".join(part for part in (entry.title, entry.summary, *entry.categories) if part)
        timed_out: list[str] = []
        included = not self.include or any(self._search(p, text, timed_out) for p in self.include)
        excluded = included and any(self._search(p, text, timed_out) for p in self.exclude)
        return FilterResult(matched=included and not excluded, timed_out=tuple(timed_out))

    def matches(self, entry: FeedEntry) -> bool:
        """Whether ``entry`` passes; timeouts are logged and count as no match."""
        result = self.evaluate(entry)
        if result.timed_out:
            log.warning(
                "filter patterns timed out (counted as no match): %s entry=%s", result.timed_out, entry.link
            )
        return result.matched

    def passing(self, entries: Sequence[FeedEntry]) -> list[bool]:
        """:meth:`matches` for each of ``entries`` (one call for a thread to run)."""
        return [self.matches(entry) for entry in entries]

    def _search(self, pattern: Pattern, text: str, timed_out: list[str]) -> bool:
        try:
            return pattern.compiled.search(text, timeout=self.timeout_s, concurrent=True) is not None
        except TimeoutError:
            timed_out.append(pattern.source)
            return False
