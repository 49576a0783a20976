"""Configuration: file discovery, environment overrides, validation errors naming the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_without_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.database.url == "sqlite+aiosqlite:///./data/newsdesk.db"
    assert settings.discord.api_base == "https://discord.com/api/v10"
    assert settings.fetch.max_bytes == 5_000_000
    assert settings.fetch.allow_private_networks is False
    assert settings.extract.workers >= 1


def test_file_then_environment_wins(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[fetch]\ntimeout_s = 7\nuser_agent = "from-file"\n[discord]\ntoken = "file-token"\n')
    settings = load_settings(
        config, environ={"NEWSDESK_FETCH__TIMEOUT_S": "9.5", "NEWSDESK_DISCORD__TOKEN": "env-token"}
    )
    assert settings.fetch.timeout_s == 9.5
    assert settings.fetch.user_agent == "from-file"
    assert settings.discord.token.get_secret_value() == "env-token"


def test_config_path_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "other.toml"
    config.write_text("[fetch]\nmax_redirects = 2\n")
    assert load_settings(environ={"NEWSDESK_CONFIG": str(config)}).fetch.max_redirects == 2


def test_discord_token_alias_and_precedence() -> None:
    assert load_settings(environ={"DISCORD_TOKEN": "a"}).discord.token.get_secret_value() == "a"
    both = {"DISCORD_TOKEN": "a", "NEWSDESK_DISCORD__TOKEN": "b"}
    assert load_settings(environ=both).discord.token.get_secret_value() == "b"


def test_list_from_environment_as_json() -> None:
    settings = load_settings(environ={"NEWSDESK_DISCORD__COMMAND_GUILD_IDS": "[1, 2]"})
    assert settings.discord.command_guild_ids == [1, 2]


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"NEWSDESK_FETCH__MAX_BYTES": "-5"}, "fetch.max_bytes"),
        ({"NEWSDESK_FETCH__TIMEOUT_S": "soon"}, "fetch.timeout_s"),
        ({"NEWSDESK_DATABASE__URL": "mysql://x"}, "database.url"),
        ({"NEWSDESK_DISCORD__API_BASE": "discord.com"}, "discord.api_base"),
        ({"NEWSDESK_FETCH__NO_SUCH_THING": "1"}, "fetch.no_such_thing"),
        ({"NEWSDESK_LOG__LEVEL": "chatty"}, "log.level"),
    ],
)
def test_bad_value_names_the_key(environ: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ=environ)
    assert info.value.key == key
    message = str(info.value)
    assert key in message and "\n" not in message


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[fetch\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(config, environ={})


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_example_file_is_valid_and_documents_every_setting() -> None:
    example = ROOT / "config.example.toml"
    settings = load_settings(example, environ={})
    assert settings.database.url == Settings().database.url
    text = example.read_text()
    for section_name in Settings.model_fields:
        assert f"[{section_name}]" in text, section_name
        for key in type(getattr(Settings(), section_name)).model_fields:
            assert re.search(rf"^#? ?{key} =", text, re.M), f"{section_name}.{key} missing"
