"""What ships: the dependency lock, the Docker image and compose.yaml (no Docker engine needed)."""

from __future__ import annotations

import inspect
import json
import re
import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from sqlalchemy.engine import make_url

from bot.cli import build_parser, cmd_health, cmd_run, with_roles
from bot.config import Settings, load_settings
from bot.delivery.dispatcher import OutboxDispatcher
from bot.ops.probe import PROBE_TIMEOUT_S
from bot.workers import pool

ROOT = Path(__file__).resolve().parent.parent
LOCK = "requirements.lock"
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|us|m|s)")
_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 0.000001}
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}: what compose.yaml uses.
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
BOT_SERVICES = ("gateway", "worker")


def compose_duration_s(text: str) -> float:
    """A compose duration ("1m30s", "90s") in seconds."""
    parts = _DURATION_PART.findall(text)
    assert parts and "".join(number + unit for number, unit in parts) == text, text
    return sum(float(number) * _SECONDS[unit] for number, unit in parts)


def shutdown_budget_s() -> float:
    """The longest a clean stop takes by design: the sends in flight get their grace, then the
    feed-parser and extraction pools each give their workers time to exit, one after the other."""
    delivery_grace = inspect.signature(OutboxDispatcher.stop).parameters["grace_s"].default
    return float(delivery_grace) + 2 * pool._EXIT_GRACE_S


def interpolate(text: str, environ: Mapping[str, str]) -> str:
    """``text`` with its ``${...}`` variables replaced as Compose replaces them from ``environ``."""

    def value(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        present = environ.get(name) if operator and operator.startswith(":") else None
        given = environ.get(name)
        if operator in (":-", ":?"):
            given = present or None
        if given is not None:
            return given
        if operator and operator.endswith("?"):
            raise LookupError(argument or f"{name} is required")
        return argument if operator else ""

    return _VARIABLE.sub(value, text.replace("$$", "\0")).replace("\0", "$")


def compose_file() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return compose


def service_environment(service: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """A service's environment as its container gets it."""
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {name: interpolate(str(value), environ) for name, value in environment.items()}


def bot_settings(service: dict[str, Any], environ: Mapping[str, str], tmp_path: Path) -> Settings:
    """The settings a bot service's process starts with (no config.toml: an empty one)."""
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    return load_settings(environ={**service_environment(service, environ), "NEWSDESK_CONFIG": str(empty)})


def image_entrypoint() -> list[str]:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    entrypoints = [line.removeprefix("ENTRYPOINT ") for line in lines if line.startswith("ENTRYPOINT ")]
    assert len(entrypoints) == 1, entrypoints
    entrypoint: list[str] = json.loads(entrypoints[0])
    return entrypoint


def role_of(command: list[str]) -> tuple[str, ...]:
    """The roles a bot service's command gives its process, read by newsdesk's own parser."""
    args = build_parser().parse_args(command)
    assert args.handler is cmd_run, command
    assert args.role is not None, f"{command}: a service of a scaled-out bot names its role"
    return with_roles(Settings(), args.role).run.roles


def locked_versions() -> dict[str, list[Requirement]]:
    pins: dict[str, list[Requirement]] = {}
    for line in (ROOT / LOCK).read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            requirement = Requirement(line)
            pins.setdefault(canonicalize_name(requirement.name), []).append(requirement)
    return pins


def test_compose_gives_the_bot_longer_than_its_shutdown_to_stop() -> None:
    services = compose_file()["services"]
    # Docker's default (10 s) is shorter than the delivery grace alone.
    assert shutdown_budget_s() > 10
    for name in BOT_SERVICES:
        service = services[name]
        # Twice the budget: leases to free, the gateway and the database to close.
        assert compose_duration_s(service["stop_grace_period"]) >= 2 * shutdown_budget_s(), name
        assert service.get("stop_signal", "SIGTERM") == "SIGTERM", name


def test_compose_runs_postgresql_one_gateway_and_workers_that_scale() -> None:
    compose = compose_file()
    services = compose["services"]
    assert {"postgres", "gateway", "worker"} <= set(services)
    # The image's entrypoint is `newsdesk`: a command is newsdesk's arguments.
    assert image_entrypoint() == ["newsdesk"]
    assert role_of(services["gateway"]["command"]) == ("gateway",)
    assert role_of(services["worker"]["command"]) == ("worker",)
    worker = services["worker"]
    # `docker compose up --scale worker=N`: no fixed name, no host port two replicas would share.
    assert "container_name" not in worker
    assert not worker.get("ports")
    assert worker.get("deploy", {}).get("replicas", 1) == 2
    assert services["gateway"].get("deploy", {}).get("replicas", 1) == 1
    for name in BOT_SERVICES:
        assert "build" in services[name] and services[name]["image"] == "newsdesk", name
        assert services[name]["restart"] in ("always", "unless-stopped", "on-failure"), name
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy", name
    # PostgreSQL keeps its data in a named volume the file declares, and is not on the host.
    postgres = services["postgres"]
    assert postgres["image"].split(":")[0] == "postgres"
    mounts = [volume.split(":") for volume in postgres["volumes"]]
    assert any(
        target == "/var/lib/postgresql/data" and source in compose["volumes"] for source, target, *_ in mounts
    )
    assert not postgres.get("ports")


def test_compose_services_report_their_health(tmp_path: Path) -> None:
    services = compose_file()["services"]
    dockerfile = (ROOT / "Dockerfile").read_text().splitlines()
    # The image alone (one process on SQLite): `newsdesk health` reads the heartbeat file, or
    # asks /readyz once NEWSDESK_METRICS__PORT is set; the listener would answer outside loopback.
    assert any(
        line.startswith("HEALTHCHECK ") and line.endswith('CMD ["newsdesk", "health"]') for line in dockerfile
    )
    image_env = " ".join(line for line in dockerfile if "NEWSDESK_" in line and not line.startswith("#"))
    assert "NEWSDESK_HEALTH__HEARTBEAT_FILE=/data/heartbeat" in image_env
    assert "NEWSDESK_METRICS__HOST=0.0.0.0" in image_env and "NEWSDESK_METRICS__PORT" not in image_env
    for name in BOT_SERVICES:
        service = services[name]
        healthcheck = service["healthcheck"]
        test = healthcheck["test"]
        assert test[:2] == ["CMD", "newsdesk"], name
        args = build_parser().parse_args(test[2:])
        assert args.handler is cmd_health and args.check == "readyz", name
        # The listener is on, on every address of the container, on the port it exposes (for
        # Prometheus on the project's network; no host port two replicas would share).
        settings = bot_settings(service, {"DISCORD_TOKEN": "t"}, tmp_path)
        assert settings.metrics.port is not None and settings.metrics.host == "0.0.0.0", name
        assert str(settings.metrics.port) in [str(port) for port in service.get("expose", [])], name
        assert not service.get("ports"), name
        # A probe answers within the check's timeout.
        assert compose_duration_s(healthcheck["timeout"]) > PROBE_TIMEOUT_S, name
        assert compose_duration_s(healthcheck["interval"]) <= 60, name
        # Each container's own heartbeat file: nothing shared mounted where it lies (/data).
        targets = [str(volume).split(":")[1] for volume in service.get("volumes", []) if ":" in str(volume)]
        assert not [target for target in targets if target.rstrip("/") in ("/data", "")], name
    test = services["postgres"]["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL") and "pg_isready" in " ".join(test[1:])
    environment = services["postgres"]["environment"]
    assert test[test.index("-U") + 1] == environment["POSTGRES_USER"]
    assert test[test.index("-d") + 1] == environment["POSTGRES_DB"]


def test_compose_points_every_bot_process_at_the_postgres_service(tmp_path: Path) -> None:
    services = compose_file()["services"]
    environ = {"DISCORD_TOKEN": "token-from-dotenv"}
    postgres = service_environment(services["postgres"], environ)
    for name in BOT_SERVICES:
        settings = bot_settings(services[name], environ, tmp_path)
        url = make_url(settings.database.url)
        assert url.drivername == "postgresql+asyncpg", name
        assert (url.host, url.port or 5432) == ("postgres", 5432), name
        assert (url.username, url.password, url.database) == (
            postgres["POSTGRES_USER"],
            postgres["POSTGRES_PASSWORD"],
            postgres["POSTGRES_DB"],
        ), name
        assert settings.discord.token.get_secret_value() == "token-from-dotenv", name
        assert settings.discord.api_base == "https://discord.com/api/v10", name
        assert settings.run.takeover_s <= 30, name
    # One password, set once, reaches both sides.
    environ["POSTGRES_PASSWORD"] = "s3cret"
    assert service_environment(services["postgres"], environ)["POSTGRES_PASSWORD"] == "s3cret"
    for name in BOT_SERVICES:
        assert make_url(bot_settings(services[name], environ, tmp_path).database.url).password == "s3cret"


def test_compose_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    services = compose_file()["services"]
    for name in BOT_SERVICES:
        with pytest.raises(LookupError, match="DISCORD_TOKEN"):
            service_environment(services[name], {})


def test_compose_offers_nirn_proxy_as_an_option(tmp_path: Path) -> None:
    services = compose_file()["services"]
    proxy = services["nirn-proxy"]
    assert proxy["image"].startswith("ghcr.io/germanoeich/nirn-proxy:")
    assert proxy["profiles"] == ["proxy"]
    port = service_environment(proxy, {}).get("PORT", "8080")
    assert not proxy.get("ports")
    # `NEWSDESK_DISCORD__API_BASE=http://nirn-proxy:<port>/api/v10`, as the file's comment says,
    # reaches every bot process.
    api_base = f"http://nirn-proxy:{port}/api/v10"
    assert f"NEWSDESK_DISCORD__API_BASE={api_base}" in (ROOT / "compose.yaml").read_text()
    assert "NEWSDESK_DISCORD__REST_PROXY=true" in (ROOT / "compose.yaml").read_text()
    environ = {
        "DISCORD_TOKEN": "t",
        "NEWSDESK_DISCORD__API_BASE": api_base,
        "NEWSDESK_DISCORD__REST_PROXY": "true",
    }
    for name in BOT_SERVICES:
        assert "nirn-proxy" not in services[name].get("depends_on", {}), "the proxy is optional"
        settings = bot_settings(services[name], environ, tmp_path)
        assert (settings.discord.api_base, settings.discord.rest_proxy) == (api_base, True), name
        # Without the proxy, each process keeps to its share of the global limit.
        assert not bot_settings(services[name], {"DISCORD_TOKEN": "t"}, tmp_path).discord.rest_proxy, name


def sharded_compose_example() -> dict[str, Any]:
    """compose.yaml with its commented sharding example in place of its gateway service."""
    lines = (ROOT / "compose.yaml").read_text().splitlines()
    start = lines.index("  #   gateway:")
    end = start
    while lines[end].startswith("  #   "):
        end += 1
    example = ["  " + line.removeprefix("  #   ") for line in lines[start:end]]
    assert lines[end : end + 3] == [
        "  gateway:",
        "    <<: *newsdesk",
        '    command: ["run", "--role", "gateway"]',
    ]
    compose: dict[str, Any] = yaml.safe_load("\n".join(lines[:start] + example + lines[end + 3 :]))
    return compose


def test_compose_sharding_example_runs_every_shard_once(tmp_path: Path) -> None:
    services = sharded_compose_example()["services"]
    gateways = [
        name
        for name, service in services.items()
        if service.get("image") == "newsdesk" and "gateway" in role_of(service["command"])
    ]
    assert len(gateways) >= 2
    counts, shards = set(), []
    for name in gateways:
        settings = bot_settings(services[name], {"DISCORD_TOKEN": "t"}, tmp_path)
        assert settings.discord.shard_ids, name
        counts.add(settings.discord.shard_count)
        shards += settings.discord.shard_ids
        # Otherwise as the gateway service is: the same database, health and shutdown.
        for key in ("image", "depends_on", "healthcheck", "stop_grace_period", "restart"):
            assert services[name][key] == compose_file()["services"]["gateway"][key], (name, key)
    assert len(counts) == 1, "every gateway process needs the same shard_count"
    assert sorted(shards) == list(range(counts.pop())), "each shard run by exactly one process"


def test_compose_interpolation_is_read_as_compose_reads_it() -> None:
    assert interpolate("${A:-x}/${B-y}/${C}", {"A": "", "B": ""}) == "x//"
    assert interpolate("${A:-x}", {"A": "1"}) == "1"
    assert interpolate("$${A}", {"A": "1"}) == "${A}"
    with pytest.raises(LookupError, match="set A"):
        interpolate("${A:?set A}", {"A": ""})
    assert interpolate("${A?set A}", {"A": ""}) == ""


def test_compose_durations_are_read_as_docker_reads_them() -> None:
    assert compose_duration_s("1m30s") == 90
    assert compose_duration_s("45s") == 45
    assert compose_duration_s("1h") == 3600


def test_the_image_installs_the_locked_versions_and_stops_on_sigterm() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    copies = [shlex.split(line)[1:-1] for line in lines if line.startswith("COPY ") and "--from" not in line]
    assert any(LOCK in sources for sources in copies)
    installs = [shlex.split(line.removeprefix("RUN ")) for line in lines if "pip install" in line]
    assert installs, "the image installs nothing with pip"
    for words in installs:
        assert LOCK in words and words[words.index(LOCK) - 1] in ("-c", "--constraint"), words
    assert "STOPSIGNAL SIGTERM" in lines


def test_the_lock_pins_every_dependency_within_the_declared_ranges() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [Requirement(text) for text in project["dependencies"]]
    declared += [Requirement(text) for extra in project["optional-dependencies"].values() for text in extra]
    pins = locked_versions()
    here = default_environment()
    for requirement in declared:
        if requirement.marker is not None and not requirement.marker.evaluate(here):
            continue
        candidates = pins.get(canonicalize_name(requirement.name), [])
        versions = [
            str(pin.specifier).removeprefix("==")
            for pin in candidates
            if pin.marker is None or pin.marker.evaluate(here)
        ]
        assert len(versions) == 1, f"{requirement.name}: {versions} in {LOCK}; refresh it (README)"
        assert requirement.specifier.contains(versions[0], prereleases=True), (
            f"{LOCK} pins {requirement.name}=={versions[0]}, outside {requirement}; refresh it (README)"
        )


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    command = "pip install -c requirements.lock -e '.[test]' && python -m pytest -q"
    assert f"```sh\n{command}\n```" in readme
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()
