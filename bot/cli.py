"""The ``newsdesk`` command line.

Every subcommand goes through the same services as the Discord bot. A failure
prints one line to stderr and exits non-zero; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import logging
import os
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from bot.config import LogSettings, Settings, find_config_file, load_settings, parse_roles
from bot.errors import ConfigError, NewsdeskError
from bot.logs import setup_logging

log = logging.getLogger("newsdesk")

EXIT_ERROR = 1
EXIT_USAGE = 2
FORMATS = ("text", "markdown", "json")
HEALTH_CHECKS = ("readyz", "healthz", "heartbeat")

Handler = Callable[[argparse.Namespace, Settings], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        settings = load_settings(getattr(args, "config", None))
        setup_logging(_log_settings(settings, args))
        return args.handler(args, settings) or 0
    except NewsdeskError as e:
        print(f"newsdesk: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if getattr(args, "verbose", False):
            raise
        print(
            f"newsdesk: unexpected error: {type(e).__name__}: {e} (run with -v for details)", file=sys.stderr
        )
        return EXIT_ERROR


def _common_options() -> argparse.ArgumentParser:
    # Accepted before or after the command: `newsdesk --config X run` and `newsdesk run --config X`.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="TOML config file (default: $NEWSDESK_CONFIG, else ./config.toml if present)",
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log debug messages"
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = argparse.ArgumentParser(prog="newsdesk", description="A Discord news bot.", parents=[common])
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(group: Any, name: str, help: str, handler: Handler | None = None) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(name, help=help, parents=[common])
        if handler is not None:
            sub.set_defaults(handler=handler)
        return sub

    def group(name: str, help: str) -> Any:
        return command(commands, name, help).add_subparsers(title="commands", metavar="COMMAND")

    run = command(commands, "run", "run the bot", cmd_run)
    run.add_argument(
        "--role",
        metavar="ROLES",
        help="what this process does: all (default), gateway, worker or gateway,worker (overrides run.roles)",
    )

    fetch = command(commands, "fetch", "fetch a URL and print the article (the code of /fetch)", cmd_fetch)
    fetch.add_argument("url")
    fetch.add_argument("--format", choices=FORMATS, default="text")

    extract = command(commands, "extract", "extract the article from HTML on stdin (no network)", cmd_extract)
    extract.add_argument("--url", help="the page's URL, to resolve relative links")
    extract.add_argument("--format", choices=FORMATS, default="text")

    command(group("db", "database maintenance"), "upgrade", "apply the database migrations", cmd_db_upgrade)
    command(group("config", "configuration"), "check", "validate the configuration", cmd_config_check)

    invite = command(commands, "invite", "print the URL that adds the bot to a server", cmd_invite)
    invite.add_argument("--guild-id", type=int, help="preselect this server")

    health = command(
        commands, "health", "exit 0 if the running bot is healthy (Docker HEALTHCHECK)", cmd_health
    )
    health.add_argument(
        "--check",
        choices=HEALTH_CHECKS,
        help="readyz or healthz: ask the listener on metrics.port; heartbeat: the heartbeat file's age "
        "(default: readyz when metrics.port is set, else heartbeat)",
    )
    from bot.ops.cli import add_operator_commands

    add_operator_commands(commands, common)
    stories_group = command(
        group("stories", "story grouping"),
        "group",
        "group JSON lines of items from stdin into stories (the bot's code path)",
        cmd_stories_group,
    )
    stories_group.add_argument(
        "--embeddings", action="store_true", help="use sentence embeddings (needs the embeddings extra)"
    )
    return parser


def _log_settings(settings: Settings, args: argparse.Namespace) -> LogSettings:
    if getattr(args, "verbose", False):
        return settings.log.model_copy(update={"level": "DEBUG"})
    if args.handler is not cmd_run and settings.log.level in ("DEBUG", "INFO"):
        # One-shot commands print their result; only problems belong on stderr.
        return settings.log.model_copy(update={"level": "WARNING"})
    return settings.log


def _run_async(factory: Callable[[], Coroutine[Any, Any, int | None]]) -> int:
    return asyncio.run(factory()) or 0


# --- commands ---------------------------------------------------------------


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.tuning import run_event_loop
    from cogs.runner import run_bot

    if args.role is not None:
        settings = with_roles(settings, args.role)
    return run_event_loop(run_bot(settings)) or 0


def with_roles(settings: Settings, roles: str) -> Settings:
    """``settings`` with ``run.roles`` set from ``--role``. Raises ConfigError."""
    try:
        parsed = parse_roles(roles)
    except ValueError as e:
        raise ConfigError(f"invalid --role: {e}", key="run.roles") from None
    return settings.model_copy(update={"run": settings.run.model_copy(update={"roles": parsed})})


def cmd_fetch(args: argparse.Namespace, settings: Settings) -> int:
    from bot.core import Newsdesk
    from bot.render import render

    async def fetch() -> int:
        async with Newsdesk(settings) as core:
            article = await core.articles.get(args.url)
        sys.stdout.write(render(article, args.format))
        return 0

    return _run_async(fetch)


def cmd_extract(args: argparse.Namespace, settings: Settings) -> int:
    from bot.extract import extract
    from bot.render import render

    html = sys.stdin.buffer.read().decode("utf-8", errors="replace")
    if not html.strip():
        raise NewsdeskError("no HTML on standard input (try: newsdesk extract < page.html)")
    sys.stdout.write(render(extract(html, args.url), args.format))
    return 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from bot.storage import Database

    async def upgrade() -> int:
        db = Database(settings.database.url, echo=settings.database.echo)
        try:
            await db.upgrade()
            revision = await db.current_revision()
        finally:
            await db.close()
        print(f"database is at revision {revision} ({_redact(settings.database.url)})")
        return 0

    return _run_async(upgrade)


def cmd_config_check(args: argparse.Namespace, settings: Settings) -> int:
    source = find_config_file(getattr(args, "config", None), os.environ)
    print(f"configuration is valid (file: {source or 'none, defaults and environment'})")
    print(f"  database: {_redact(settings.database.url)}")
    print(f"  discord api: {settings.discord.api_base}")
    print(f"  discord token: {'set' if settings.discord.token.get_secret_value() else 'NOT SET'}")
    if not settings.discord.token.get_secret_value():
        print("  note: `newsdesk run` needs discord.token (or NEWSDESK_DISCORD__TOKEN / DISCORD_TOKEN)")
    return 0


def cmd_invite(args: argparse.Namespace, settings: Settings) -> int:
    from cogs.invite import invite_url

    print(invite_url(application_id(settings), guild_id=args.guild_id))
    return 0


def cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    check = args.check or ("readyz" if settings.metrics.port is not None else "heartbeat")
    if check != "heartbeat":
        from bot.ops.probe import probe

        print(probe(settings.metrics, check))
        return 0
    path = Path(settings.health.heartbeat_file)
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        raise NewsdeskError(f"no heartbeat at {path}: the bot is not connected") from None
    if age > settings.health.max_age_s:
        raise NewsdeskError(f"heartbeat is {age:.0f} s old (limit {settings.health.max_age_s} s)")
    print(f"healthy: heartbeat {age:.0f} s ago")
    return 0


def cmd_stories_group(args: argparse.Namespace, settings: Settings) -> int:
    from bot.stories.cli import group_stream

    if not args.embeddings:
        return group_stream(sys.stdin, sys.stdout)
    from bot.stories.embeddings import MiniLMEncoder

    return group_stream(sys.stdin, sys.stdout, embedder=MiniLMEncoder())


# --- helpers ----------------------------------------------------------------


def application_id(settings: Settings) -> int:
    """``discord.application_id``, else the bot's id encoded in the token's first part."""
    if settings.discord.application_id:
        return settings.discord.application_id
    token = settings.discord.token.get_secret_value()
    if not token:
        raise ConfigError("set discord.token or discord.application_id first", key="discord.token")
    first = token.split(".", 1)[0]
    try:
        return int(base64.b64decode(first + "=" * (-len(first) % 4), validate=False))
    except (ValueError, binascii.Error):
        raise ConfigError(
            "discord.token does not look like a bot token; set discord.application_id", key="discord.token"
        ) from None


def _redact(url: str) -> str:
    """The database URL without its password."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest and ":" in rest.split("@", 1)[0]:
        user = rest.split("@", 1)[0].split(":", 1)[0]
        rest = f"{user}:***@" + rest.split("@", 1)[1]
    return scheme + sep + rest


if __name__ == "__main__":
    sys.exit(main())
