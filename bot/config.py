"""Configuration: one typed, validated object, loaded once and passed down.

Sources, lowest priority first: defaults, the TOML file, environment variables
named ``NEWSDESK_<SECTION>__<KEY>`` (``DISCORD_TOKEN`` is accepted for the token).
No other module reads the environment.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.errors import ConfigError

ENV_PREFIX = "NEWSDESK_"
DEFAULT_CONFIG_FILE = Path("config.toml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: Discord's own API hosts: a REST proxy is anything else.
_DISCORD_HOSTS = ("discord.com", "discordapp.com")


class DiscordSettings(_Section):
    token: SecretStr = SecretStr("")
    """The bot token from the Discord developer portal."""
    application_id: int | None = None
    """The application's id; derived from the token when not set."""
    api_base: str = "https://discord.com/api/v10"
    """Base of the REST API: a REST proxy (nirn-proxy) or, in tests, the emulator."""
    gateway_url: str | None = None
    """Gateway websocket to connect to instead of Discord's (a gateway proxy or the emulator)."""
    sync_commands: bool = True
    """Register the slash commands with Discord at start."""
    command_guild_ids: list[int] = Field(default_factory=list)
    """Register commands to these guilds only (instant, for development); empty = global."""

    shard_count: int | None = Field(None, ge=1)
    """Shards of the whole bot; unset = the count Discord recommends (one gateway process)."""
    shard_ids: list[int] | None = None
    """The shards this gateway process runs (needs shard_count); unset = all of them."""

    # Rate limits across processes (issue 12, cogs/ratelimits.py).
    rest_proxy: bool = False
    """api_base is a REST proxy shared by all the bot's processes (nirn-proxy) that keeps them
    within Discord's global and per-route limits; no process then limits itself."""
    global_rate_limit: int = Field(50, ge=1)
    """Requests per second Discord allows the whole bot (50 unless Discord raised it); without
    rest_proxy, each of the N live processes keeps to 1/N of it."""

    @model_validator(mode="after")
    def _shards_within_count(self) -> DiscordSettings:
        if self.shard_ids is None:
            return self
        if self.shard_count is None:
            raise ValueError("shard_ids needs shard_count (the bot's total number of shards)")
        if not self.shard_ids:
            raise ValueError("shard_ids is empty: list at least one shard, or leave it unset")
        bad = [i for i in self.shard_ids if not 0 <= i < self.shard_count]
        if bad:
            raise ValueError(
                f"shard id {bad[0]} is not between 0 and shard_count - 1 ({self.shard_count - 1})"
            )
        if len(set(self.shard_ids)) != len(self.shard_ids):
            raise ValueError("shard_ids lists a shard twice")
        return self

    @model_validator(mode="after")
    def _proxy_is_not_discord(self) -> DiscordSettings:
        host = self.api_base.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
        if self.rest_proxy and (
            host in _DISCORD_HOSTS or host.endswith(tuple("." + h for h in _DISCORD_HOSTS))
        ):
            raise ValueError(
                "rest_proxy is set but api_base is Discord itself: point api_base at the proxy, "
                'e.g. "http://nirn-proxy:8080/api/v10"'
            )
        return self

    @field_validator("api_base")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("gateway_url")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("ws://", "wss://")):
            raise ValueError("must be a ws(s) URL")
        return value or None


class DatabaseSettings(_Section):
    url: str = "sqlite+aiosqlite:///./data/newsdesk.db"
    """SQLAlchemy URL: sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db."""
    echo: bool = False
    """Log every SQL statement (debugging)."""

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value


class HostLimit(_Section):
    concurrency: int | None = Field(None, ge=1)
    """Requests in flight to this host at a time (default: fetch.per_host_concurrency)."""
    min_interval_s: float = Field(0.0, ge=0)
    """Seconds between the starts of two requests to this host."""


class FetchSettings(_Section):
    user_agent: str = "newsdesk/0.1 (+https://github.com/newsdesk/newsdesk)"
    """User-Agent sent with every request."""
    timeout_s: float = Field(20.0, gt=0)
    """Total time allowed for one fetch, redirects included."""
    connect_timeout_s: float = Field(5.0, gt=0)
    """Time allowed to connect to a host."""
    max_bytes: int = Field(5_000_000, gt=0)
    """Largest body read; a longer one is refused."""
    max_redirects: int = Field(5, ge=0)
    """Redirects followed, each hop checked again."""
    per_host_concurrency: int = Field(4, ge=1)
    """Requests in flight to one host at a time."""
    host_limits: dict[str, HostLimit] = Field(default_factory=dict)
    """Per-host overrides (a host and its subdomains): ``"reddit.com" = {concurrency = 1,
    min_interval_s = 2.0}``."""
    allow_private_networks: bool = False
    """Allow loopback/private/link-local addresses (tests and intranets only)."""

    @field_validator("host_limits")
    @classmethod
    def _host_names(cls, value: dict[str, HostLimit]) -> dict[str, HostLimit]:
        hosts = {host.strip().strip(".").lower(): limit for host, limit in value.items()}
        bad = [host for host in hosts if not host or any(c in host for c in "/:@ ")]
        if bad:
            raise ValueError(f'{bad[0]!r} is not a host name (write e.g. "reddit.com")')
        return hosts


class ExtractSettings(_Section):
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    """Processes extracting pages in parallel."""
    timeout_s: float = Field(15.0, gt=0)
    """Time limit for extracting one page."""
    max_queue: int = Field(16, ge=0)
    """Pages that may wait for a free extraction worker; beyond them a request is refused
    as busy ("try again in a moment") instead of waiting without end."""


class CacheSettings(_Section):
    article_ttl_s: int = Field(6 * 3600, ge=0)
    """How long an extracted article is reused before the page is fetched again (0 = never)."""


class CommandSettings(_Section):
    fetch_cooldown_rate: int = Field(3, ge=1)
    """/fetch uses allowed per member ..."""
    fetch_cooldown_per_s: float = Field(30.0, ge=0)
    """... within this many seconds (0 disables the cooldown)."""
    button_cooldown_rate: int = Field(5, ge=1)
    """Clicks on an article's Full text, Previous and Next buttons allowed per member ..."""
    button_cooldown_per_s: float = Field(10.0, ge=0)
    """... within this many seconds (0 disables the cooldown)."""
    manager_role: str | None = None
    """Name of a role whose members may manage subscriptions besides Manage Channels; the default
    for servers that set no role (by id) with /newsdesk manager-role."""


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Log level."""
    format: Literal["text", "json"] = "text"
    """Log format: human-readable text or one JSON object per line."""

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class FeedSettings(_Section):
    interval_s: int = Field(600, ge=1)
    """How often a feed is checked when it gives no other hint."""
    min_interval_s: int = Field(60, ge=1)
    """Never check one feed more often than this (tests may set 1)."""
    max_interval_s: int = Field(86400, ge=1)
    """Always check a feed at least this often, whatever its hints say."""
    max_hint_interval_s: int = Field(900, ge=0)
    """Caching hints (<ttl>, sy:updatePeriod, Cache-Control, Expires) lengthen the interval up
    to this at most; Retry-After is honoured in full."""
    max_failures: int = Field(10, ge=1)
    """Consecutive failures after which a feed is paused and its channels told."""
    first_post_count: int = Field(1, ge=0)
    """Items posted when a feed is first added (the rest are remembered, not posted)."""
    poll_concurrency: int = Field(32, ge=1)
    """Feeds fetched at the same time."""
    per_host_spacing_s: float | None = Field(None, ge=0)
    """Deprecated and ignored (a warning is logged): see fetch.per_host_concurrency and
    [fetch.host_limits]."""
    max_subscriptions_per_guild: int = Field(200, ge=1)
    """Subscriptions one server may have."""


class StorySettings(_Section):
    batch_size: int = Field(500, ge=1)
    """New items grouped into stories per batch."""
    idle_s: float = Field(10.0, gt=0)
    """Seconds between looks for new items when nothing woke the grouper."""


class DigestSettings(_Section):
    tick_s: float = Field(30.0, gt=0)
    """Seconds between two looks for due digests."""
    grace_s: int = Field(3600, ge=0)
    """A digest that fell due while the bot was down is still posted this many seconds late."""


class AlertConfig(_Section):
    max_keywords: int = Field(25, ge=1)
    """Topic keywords one channel may set."""


class TestingSettings(_Section):
    clock_file: str | None = None
    """For end-to-end tests only: read the current time from this file (ISO 8601)."""


class HealthSettings(_Section):
    heartbeat_file: str = "./data/heartbeat"
    """File the running bot touches every 30 s while connected; `newsdesk health` checks it."""
    max_age_s: int = Field(120, ge=1)
    """`newsdesk health` fails when the heartbeat is older than this."""


class MetricsSettings(_Section):
    host: str = "127.0.0.1"
    """Address of the operator's HTTP listener (/metrics, /healthz, /readyz); 0.0.0.0 in a
    container whose port is scraped from outside it."""
    port: int | None = Field(None, ge=0, le=65535)
    """Its port; unset = no listener (0 = any free port, for tests)."""


Role = Literal["gateway", "worker"]
ROLES: tuple[Role, ...] = ("gateway", "worker")


class RunSettings(_Section):
    roles: tuple[Role, ...] = ROLES
    """What this process does: "all" (the default: everything), "gateway" (the Discord gateway:
    commands, buttons, autocomplete), "worker" (polling, grouping, alerts, digests, delivery),
    or "gateway,worker". ``newsdesk run --role`` overrides it."""
    instance_id: str | None = None
    """This process's name in heartbeats and leases; default: host, pid and start time."""
    takeover_s: float = Field(30.0, ge=3)
    """A process silent this long is dead: the others take over its feeds, outbox rows and
    singleton duties."""

    @field_validator("roles", mode="before")
    @classmethod
    def _parse_roles(cls, value: Any) -> Any:
        return parse_roles(value)

    @field_validator("instance_id")
    @classmethod
    def _printable_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value or len(value) > 100 or not value.isprintable():
            raise ValueError("must be 1 to 100 printable characters")
        return value


def parse_roles(value: Any) -> Any:
    """``"all"``, ``"gateway,worker"`` or a list of role names as the sorted tuple of roles;
    anything else is returned for pydantic to refuse.
    """
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list | tuple):
        return value
    wanted = {str(name).strip().lower() for name in names} - {""}
    if "all" in wanted:
        wanted = (wanted - {"all"}) | set(ROLES)
    unknown = wanted - set(ROLES)
    if unknown or not wanted:
        raise ValueError(f"roles are all, gateway, worker or gateway,worker (got {value!r})")
    return tuple(role for role in ROLES if role in wanted)


class Settings(_Section):
    """Every newsdesk setting; config.example.toml documents each one."""

    discord: DiscordSettings = DiscordSettings()
    database: DatabaseSettings = DatabaseSettings()
    fetch: FetchSettings = FetchSettings()
    extract: ExtractSettings = ExtractSettings()
    cache: CacheSettings = CacheSettings()
    commands: CommandSettings = CommandSettings()
    feeds: FeedSettings = FeedSettings()
    stories: StorySettings = StorySettings()
    digests: DigestSettings = DigestSettings()
    alerts: AlertConfig = AlertConfig()
    log: LogSettings = LogSettings()
    health: HealthSettings = HealthSettings()
    metrics: MetricsSettings = MetricsSettings()
    run: RunSettings = RunSettings()
    testing: TestingSettings = TestingSettings()


def find_config_file(path: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path | None:
    """``--config PATH``, else ``NEWSDESK_CONFIG``, else ``./config.toml`` if present."""
    if path:
        return Path(path)
    if environ.get("NEWSDESK_CONFIG"):
        return Path(environ["NEWSDESK_CONFIG"])
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Load and validate the configuration, or raise :class:`ConfigError` naming the bad key."""
    environ = os.environ if environ is None else environ
    config_file = find_config_file(path, environ)
    data: dict[str, Any] = {}
    if config_file is not None:
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {config_file}") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read config file {config_file}: {e}") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"invalid TOML in {config_file}: {e}") from e

    _merge_environment(data, environ)
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_describe(e), key=_first_key(e)) from None


def _merge_environment(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    """Overlay ``NEWSDESK_<SECTION>__<KEY>`` variables (and ``DISCORD_TOKEN``) on ``data``."""
    if environ.get("DISCORD_TOKEN"):
        # The name most hosting guides use; the namespaced variable below wins.
        data.setdefault("discord", {})["token"] = environ["DISCORD_TOKEN"]
    for name, raw in environ.items():
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or "__" not in upper or upper == "NEWSDESK_CONFIG":
            continue
        section, _, key = upper[len(ENV_PREFIX) :].lower().partition("__")
        target = data.setdefault(section, {})
        if not isinstance(target, dict):
            raise ConfigError(f"invalid setting {section}: must be a table", key=section)
        target[key] = _env_value(raw)


def _env_value(raw: str) -> Any:
    # Lists and tables come as JSON ("[1, 2]"); scalars stay strings for pydantic to coerce.
    stripped = raw.strip()
    if stripped.startswith(("[", "{")):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return raw
    return raw


def _first_key(error: ValidationError) -> str:
    first = error.errors()[0]
    return ".".join(str(part) for part in first["loc"])


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    key = _first_key(error)
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown setting"
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"invalid setting {key}: {message}{suffix}"
