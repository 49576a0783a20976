"""The declared dependency ranges admit no version known to be unsafe or not to work.

CI and the image install the lock (tests/test_packaging.py), so the bomb tests only ever see the
locked versions; a floor lowered in pyproject.toml would let a plain ``pip install newsdesk``
pick a version that fails them. Issue 10, point 3.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent

#: Releases a range must exclude, and why.
KNOWN_BAD = [
    # No TCPConnector(socket_factory=...): every fetch fails.
    ("aiohttp", "3.9.5"),
    ("aiohttp", "3.11.18"),
    # CVE-2025-69223: a gzip or brotli body inflates past fetch.max_bytes (tests/test_fetch_bombs.py:
    # 132 MB and 2.15 GB peaks with 3.12.15).
    ("aiohttp", "3.12.15"),
    ("aiohttp", "3.13.2"),
    # CVE-2025-6176; with today's aiohttp every brotli response fails ("process() takes exactly 1
    # argument").
    ("brotli", "1.1.0"),
]


def declared() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(r.name): r for r in map(Requirement, project["dependencies"])}


@pytest.mark.parametrize(("name", "version"), KNOWN_BAD, ids=[f"{n}=={v}" for n, v in KNOWN_BAD])
def test_the_declared_range_excludes_a_known_bad_release(name: str, version: str) -> None:
    requirement = declared()[name]
    assert not requirement.specifier.contains(version, prereleases=True), (
        f"pyproject.toml allows {name}=={version} ({requirement}); see tests/test_dependency_floors.py"
    )
