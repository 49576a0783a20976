"""The ``newsdesk`` command line, run as a user runs it: a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.loopback import serve

REPO_ROOT = Path(__file__).resolve().parent.parent

PAGE = """<!doctype html><html lang="en"><head><title>Tram extension approved</title>
<meta property="og:site_name" content="City Post"></head><body><nav>Home World</nav><article>
<h1>Tram extension approved</h1>
<p>The city council voted on Tuesday to expand the tram network to the northern districts, a project
debated for more than a decade by residents and planners alike.</p>
<p>Construction is expected to begin next spring and to last four years, the mayor's office said in a
statement published after the vote on Tuesday evening.</p>
</article></body></html>"""


def run_cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, cwd: Path
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSDESK_", "DISCORD_"))}
    # The checkout itself, whether or not it is pip-installed.
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), environ.get("PYTHONPATH")]))
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd,
        timeout=120,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
async def page_server() -> AsyncIterator[str]:
    async def article(_: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/article", article)
    async with serve(app) as base:
        yield base


def test_bad_setting_stops_with_one_line_naming_the_key(tmp_path: Path) -> None:
    result = run_cli("config", "check", env={"NEWSDESK_FETCH__MAX_REDIRECTS": "many"}, cwd=tmp_path)
    assert_one_line_error(result, "fetch.max_redirects")


def test_config_flag_before_or_after_the_command(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[fetch]\nmax_redirects = 3\n")
    for args in (("--config", str(config), "config", "check"), ("config", "check", "--config", str(config))):
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert str(config) in result.stdout


def test_run_without_token_explains_what_to_set(tmp_path: Path) -> None:
    result = run_cli("run", cwd=tmp_path)
    assert_one_line_error(result, "discord.token")


def test_invite_url_has_scopes_and_minimal_permissions(tmp_path: Path) -> None:
    result = run_cli("invite", env={"NEWSDESK_DISCORD__APPLICATION_ID": "123456789012345678"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip()
    assert "client_id=123456789012345678" in url
    assert "scope=bot+applications.commands" in url
    # View Channel, Send Messages (and in Threads), Embed Links, Attach Files, Read Message History.
    assert "permissions=274878024704" in url


def test_extract_reads_stdin_without_network(tmp_path: Path) -> None:
    result = run_cli(
        "extract", "--url", "https://city.example/tram", "--format", "json", stdin=PAGE, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["title"] == "Tram extension approved"
    assert data["site_name"] == "City Post"
    assert "northern districts" in data["text"] and "Home World" not in data["text"]


def test_extract_with_empty_input_is_an_error(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("extract", stdin="", cwd=tmp_path), "no HTML")


async def test_fetch_prints_markdown(tmp_path: Path, page_server: str) -> None:
    env = {
        "NEWSDESK_FETCH__ALLOW_PRIVATE_NETWORKS": "true",
        "NEWSDESK_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path}/nd.db",
    }
    result = await asyncio.to_thread(
        run_cli, "fetch", f"{page_server}/article", "--format", "markdown", env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# Tram extension approved")
    assert "next spring" in result.stdout


async def test_fetch_of_a_private_address_is_refused_by_default(tmp_path: Path, page_server: str) -> None:
    env = {"NEWSDESK_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path}/nd.db"}
    result = await asyncio.to_thread(run_cli, "fetch", f"{page_server}/article", env=env, cwd=tmp_path)
    assert_one_line_error(result, "newsdesk: error:")


def test_db_upgrade_reports_the_revision(tmp_path: Path) -> None:
    env = {"NEWSDESK_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path}/sub/nd.db"}
    result = run_cli("db", "upgrade", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "revision" in result.stdout
    assert (tmp_path / "sub" / "nd.db").exists()


def test_health_fails_without_a_fresh_heartbeat(tmp_path: Path) -> None:
    env = {"NEWSDESK_HEALTH__HEARTBEAT_FILE": str(tmp_path / "hb")}
    assert_one_line_error(run_cli("health", env=env, cwd=tmp_path), "heartbeat")
    (tmp_path / "hb").write_text("1")
    assert run_cli("health", env=env, cwd=tmp_path).returncode == 0


def test_stories_group_reads_json_lines(tmp_path: Path) -> None:
    items = [
        {"id": "1", "title": "Fed raises interest rates by a quarter point", "source": "a"},
        {"id": "2", "title": "Federal Reserve raises interest rates a quarter point", "source": "b"},
        {"id": "3", "title": "Apple unveils a new iPhone at its autumn event", "source": "c"},
    ]
    stdin = "".join(json.dumps(i) + "\n" for i in items)
    result = run_cli("stories", "group", stdin=stdin, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    stories = {row["id"]: row["story"] for row in map(json.loads, result.stdout.splitlines())}
    assert stories["1"] == stories["2"] != stories["3"]


def test_stories_group_reports_bad_lines(tmp_path: Path) -> None:
    result = run_cli("stories", "group", stdin='{"id": "1", "title": "ok"}\nnot json\n', cwd=tmp_path)
    assert result.returncode == 1
    assert "line 2" in result.stderr
    assert json.loads(result.stdout.splitlines()[0])["id"] == "1"
