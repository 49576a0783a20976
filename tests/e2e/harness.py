"""The end-to-end harness: the emulator plus ``newsdesk run`` as a subprocess.

The bot runs the way users run it (``python -m bot.cli run --config PATH``) with
a temporary SQLite database; the harness waits for READY and the command sync,
drives it through the emulator and stops it with SIGTERM (then SIGKILL).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests import logcheck
from tests.emulator import Emulator, Injection, InteractionResult, Member
from tests.emulator.world import Channel, Guild

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 45.0
STOP_TIMEOUT_S = 10.0


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")


def to_toml(config: Mapping[str, Mapping[str, Any]]) -> str:
    lines: list[str] = []
    for section, values in config.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
        lines.append("")
    return "\n".join(lines)


def merge(
    base: dict[str, dict[str, Any]], overrides: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    merged = {section: dict(values) for section, values in base.items()}
    for section, values in overrides.items():
        merged.setdefault(section, {}).update(values)
    return merged


def bot_environment() -> dict[str, str]:
    """The environment of a ``newsdesk`` subprocess: this one's, without newsdesk settings (the
    config file alone configures it), running this checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_") and k != "DISCORD_TOKEN"}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


class BotStartError(AssertionError):
    """The bot did not come up; the message carries its log and what the emulator saw."""


@dataclass
class Harness:
    emu: Emulator
    workdir: Path
    overrides: Mapping[str, Mapping[str, Any]]
    process: asyncio.subprocess.Process | None = None
    starts: int = 0

    def __post_init__(self) -> None:
        # An ERROR in the bot's log fails the test (tests/conftest.py), as in-process ones do.
        logcheck.watch_process_log(self.log_path)

    # -- the default server's parts, for short tests ----------------------------------------------

    @property
    def guild(self) -> Guild:
        return self.emu.default.guild

    @property
    def general(self) -> Channel:
        return self.emu.default.general

    @property
    def admin(self) -> Member:
        return self.emu.default.admin

    @property
    def manager(self) -> Member:
        return self.emu.default.manager

    @property
    def member(self) -> Member:
        return self.emu.default.member

    # -- configuration -------------------------------------------------------------------------

    @property
    def database_path(self) -> Path:
        return self.workdir / "newsdesk.db"

    @property
    def config_path(self) -> Path:
        return self.workdir / "newsdesk.toml"

    @property
    def log_path(self) -> Path:
        return self.workdir / "bot.log"

    def config(self) -> dict[str, dict[str, Any]]:
        base: dict[str, dict[str, Any]] = {
            "discord": {
                "token": self.emu.token,
                "api_base": self.emu.api_base,
                "gateway_url": self.emu.gateway_url,
            },
            "database": {"url": f"sqlite+aiosqlite:///{self.database_path}"},
            "fetch": {"allow_private_networks": True},
            "commands": {"fetch_cooldown_per_s": 0},
            "log": {"level": "INFO"},
        }
        return merge(base, self.overrides)

    # -- process control -----------------------------------------------------------------------

    async def start_bot(
        self, *, timeout_s: float = START_TIMEOUT_S, ready: Callable[[], bool] | None = None
    ) -> None:
        """Start ``newsdesk run``; return once it is READY and has synced its commands.

        ``ready``: when this holds instead (for bots started together, whose IDENTIFYs and
        command syncs the emulator counts together).
        """
        if self.process is not None and self.process.returncode is None:
            raise RuntimeError("the bot is already running")
        self.config_path.write_text(to_toml(self.config()), encoding="utf-8")
        identifies, syncs = self.emu.gateway.identifies, self.emu.command_syncs
        env = bot_environment()
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start {self.starts} =====\n".encode())
            log.flush()
            self.process = await asyncio.create_subprocess_exec(
                # The global option goes before the subcommand: bot.cli parses --config at the top level.
                sys.executable,
                "-m",
                "bot.cli",
                "--config",
                str(self.config_path),
                "run",
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL,
            )
        wants_sync = bool(self.config()["discord"].get("sync_commands", True))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.returncode is not None:
                raise BotStartError(
                    self._why(f"the bot exited with code {self.process.returncode} during start")
                )
            if ready is not None:
                if ready():
                    return
                await asyncio.sleep(0.05)
                continue
            identified = self.emu.gateway.identifies > identifies or (
                self.starts > 1 and self._resumed_since(deadline)
            )
            synced = self.emu.command_syncs > syncs or not wants_sync
            if identified and synced:
                return
            await asyncio.sleep(0.05)
        missing = ["the ready condition never held"] if ready is not None else []
        if self.emu.gateway.identifies <= identifies:
            missing.append("no IDENTIFY on the gateway")
        if wants_sync and self.emu.command_syncs <= syncs:
            missing.append("no command sync (PUT .../commands)")
        raise BotStartError(self._why(f"the bot was not ready within {timeout_s} s: {', '.join(missing)}"))

    def _resumed_since(self, _deadline: float) -> bool:
        return False  # a fresh process always identifies; RESUME is for dropped connections

    async def stop_bot(self, *, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout_s``; the exit code."""
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), timeout_s)
        except TimeoutError:
            process.kill()
            return await process.wait()

    async def kill_bot(self) -> int | None:
        """SIGKILL: a crash, no cleanup."""
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return None
        process.kill()
        return await process.wait()

    async def restart_bot(self) -> None:
        await self.stop_bot()
        await self.start_bot()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    # -- driving -------------------------------------------------------------------------------

    async def invoke(
        self,
        command: str,
        options: dict[str, Any] | None = None,
        *,
        user: Member | None = None,
        channel: Channel | None = None,
        timeout_s: float = 15.0,
        settle: float = 0.3,
    ) -> InteractionResult:
        """Run ``/command`` (``"feed add"`` for a subcommand) as ``user`` (default: a plain member)."""
        return await self.emu.invoke(
            command, options, user=user, channel=channel, timeout_s=timeout_s, settle=settle
        )

    async def click(
        self,
        message: dict[str, Any],
        custom_id: str,
        *,
        user: Member | None = None,
        values: list[str] | None = None,
        timeout_s: float = 15.0,
    ) -> InteractionResult:
        return await self.emu.click(message, custom_id, user=user, values=values, timeout_s=timeout_s)

    async def autocomplete(
        self, command: str, options: dict[str, Any], focused: str, *, user: Member | None = None
    ) -> InteractionResult:
        return await self.emu.autocomplete(command, options, focused, user=user)

    def messages(self, channel: Channel | int) -> list[dict[str, Any]]:
        """A channel's messages, oldest first."""
        return self.emu.channel_messages(channel)

    async def drop_gateway(self, *, abrupt: bool = True) -> None:
        await self.emu.drop_gateway(abrupt=abrupt)

    def inject(
        self, route_pattern: str, status: int = 429, count: int = 1, *, retry_after: float = 0.5
    ) -> Injection:
        return self.emu.inject(route_pattern, status, count, retry_after=retry_after)

    # -- reporting -----------------------------------------------------------------------------

    def log_tail(self, lines: int = 80) -> str:
        if not self.log_path.exists():
            return "(no bot log)"
        text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        # Debug lines carry whole payloads; the start of each line is what a reader needs.
        return "\n".join(line if len(line) <= 400 else line[:400] + " …" for line in text[-lines:])

    def failure_report(self) -> str:
        return "\n".join(
            [self.emu.failure_report(), f"--- bot log tail ({self.log_path}) ---", self.log_tail()]
        )

    def _why(self, headline: str) -> str:
        return f"{headline}\n{self.failure_report()}"


@contextlib.asynccontextmanager
async def harness(
    workdir: Path, overrides: Mapping[str, Mapping[str, Any]] | None = None, emulator: Emulator | None = None
) -> Any:
    """An emulator and a running bot; both stopped on exit."""
    async with emulator or Emulator() as emu:
        h = Harness(emu, workdir, overrides or {})
        try:
            await h.start_bot()
            yield h
        finally:
            await h.stop_bot()
