"""What ships: the dependency lock, the Docker image and compose.yaml (no Docker engine needed)."""

from __future__ import annotations

import inspect
import re
import shlex
import tomllib
from pathlib import Path

import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.delivery.dispatcher import OutboxDispatcher
from bot.workers import pool

ROOT = Path(__file__).resolve().parent.parent
LOCK = "requirements.lock"
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|us|m|s)")
_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 0.000001}


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


def locked_versions() -> dict[str, list[Requirement]]:
    pins: dict[str, list[Requirement]] = {}
    for line in (ROOT / LOCK).read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            requirement = Requirement(line)
            pins.setdefault(canonicalize_name(requirement.name), []).append(requirement)
    return pins


def test_compose_gives_the_bot_longer_than_its_shutdown_to_stop() -> None:
    service = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["newsdesk"]
    # Docker's default (10 s) is shorter than the delivery grace alone.
    assert shutdown_budget_s() > 10
    # Twice the budget: leases to free, the gateway and the database to close.
    assert compose_duration_s(service["stop_grace_period"]) >= 2 * shutdown_budget_s()
    assert service.get("stop_signal", "SIGTERM") == "SIGTERM"
    assert service["healthcheck"]["test"] == ["CMD", "newsdesk", "health"]
    assert "newsdesk-data:/data" in service["volumes"]
    assert "NEWSDESK_DISCORD__TOKEN" in service["environment"]


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
