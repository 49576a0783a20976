"""What the emulator saw: every request with its response, every gateway frame.

Tests assert on it (``unknown_requests``), and a failing test prints it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RequestRecord:
    at: float
    """Monotonic time the request arrived."""
    method: str
    path: str
    """Relative to /api/v10, without the query."""
    query: dict[str, str]
    body: Any
    status: int
    response: Any
    route: str | None
    """The matched route template, None for an endpoint the emulator does not know."""
    duration_ms: float


@dataclass(frozen=True)
class GatewayRecord:
    at: float
    direction: str
    """"send" (emulator → client) or "recv"."""
    op: int | None
    event: str | None
    seq: int | None
    data: Any


def _short(value: Any, limit: int = 400) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


def _redacted(data: Any) -> Any:
    # IDENTIFY and RESUME carry the bot token; a log has no use for it.
    if isinstance(data, dict) and "token" in data:
        return {**data, "token": "<redacted>"}
    return data


@dataclass
class Recorder:
    requests: list[RequestRecord] = field(default_factory=list)
    gateway: list[GatewayRecord] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @property
    def unknown_requests(self) -> list[RequestRecord]:
        return [r for r in self.requests if r.route is None]

    def calls(self, method: str | None = None, path_prefix: str = "") -> list[RequestRecord]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and r.path.startswith(path_prefix)
        ]

    def events(self, name: str | None = None, *, direction: str = "send") -> list[GatewayRecord]:
        return [g for g in self.gateway if g.direction == direction and (name is None or g.event == name)]

    def dump(self, *, last: int = 60) -> str:
        """A readable report of the last ``last`` requests and gateway frames."""
        lines = [f"--- emulator: {len(self.requests)} requests, {len(self.gateway)} gateway frames ---"]
        for r in self.requests[-last:]:
            mark = "" if r.route else "  [UNKNOWN ENDPOINT]"
            at = r.at - self.started
            lines.append(f"+{at:8.3f}s {r.method:6} {r.path} -> {r.status} ({r.duration_ms:.0f} ms){mark}")
            if r.body not in (None, "", b""):
                lines.append(f"           body: {_short(r.body)}")
            if r.status >= 300 and r.response is not None:
                lines.append(f"           resp: {_short(r.response)}")
        lines.append("--- gateway ---")
        for g in self.gateway[-last:]:
            what = g.event or f"op {g.op}"
            data = "" if g.event in {"GUILD_CREATE", "READY"} else _short(_redacted(g.data), 200)
            lines.append(f"+{g.at - self.started:8.3f}s {g.direction:4} s={g.seq} {what} {data}")
        return "\n".join(lines)
