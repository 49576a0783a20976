"""The emulator's pure rules: limits, permissions, rate limits, option building, tokens."""

from __future__ import annotations

import pytest

from tests.emulator import default_world
from tests.emulator.ids import make_token, user_id_from_token
from tests.emulator.interactions import command_options
from tests.emulator.limits import validate_message
from tests.emulator.permissions import Perm
from tests.emulator.ratelimit import Injection, RateLimitConfig, RateLimiter, compile_route_pattern

pytestmark = pytest.mark.e2e


def test_token_names_the_user() -> None:
    assert user_id_from_token(make_token(1234567890123)) == 1234567890123
    assert user_id_from_token("not-a-token") is None


@pytest.mark.parametrize(
    ("payload", "path", "code"),
    [
        ({"content": "x" * 2001}, ["content"], "BASE_TYPE_MAX_LENGTH"),
        ({"embeds": [{"title": "t" * 257}]}, ["embeds", "0", "title"], "BASE_TYPE_MAX_LENGTH"),
        ({"embeds": [{"description": "d" * 4097}]}, ["embeds", "0", "description"], "BASE_TYPE_MAX_LENGTH"),
        (
            {"embeds": [{"fields": [{"name": "n" * 257, "value": "v"}]}]},
            ["embeds", "0", "fields", "0", "name"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {"embeds": [{"fields": [{"name": "n", "value": "v" * 1025}]}]},
            ["embeds", "0", "fields", "0", "value"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]},
            ["embeds", "0", "fields"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {"embeds": [{"footer": {"text": "f" * 2049}}]},
            ["embeds", "0", "footer", "text"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {"embeds": [{"author": {"name": "a" * 257}}]},
            ["embeds", "0", "author", "name"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {"embeds": [{"description": "d" * 3001}, {"description": "d" * 3000}]},
            ["embeds"],
            "MAX_EMBED_SIZE_EXCEEDED",
        ),
        ({"embeds": [{"title": "t"}] * 11}, ["embeds"], "BASE_TYPE_MAX_LENGTH"),
        ({"components": [{"type": 1, "components": []}] * 6}, ["components"], "BASE_TYPE_BAD_LENGTH"),
        (
            {
                "components": [
                    {"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "c", "label": "l" * 81}]}
                ]
            },
            ["components", "0", "components", "0", "label"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {"components": [{"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "c" * 101}]}]},
            ["components", "0", "components", "0", "custom_id"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {
                "components": [
                    {"type": 1, "components": [{"type": 3, "custom_id": "s", "options": [{}] * 26}]}
                ]
            },
            ["components", "0", "components", "0", "options"],
            "BASE_TYPE_MAX_LENGTH",
        ),
    ],
)
def test_limits(payload: dict, path: list[str], code: str) -> None:
    node = validate_message(payload)
    for key in path:
        node = node[key]
    assert node["_errors"][0]["code"] == code


def test_limits_at_the_edge_are_valid() -> None:
    embed = {
        "title": "t" * 256,
        "description": "d" * 1000,
        "footer": {"text": "f" * 100},
        "fields": [{"name": "n" * 10, "value": "v" * 100}] * 25,
    }
    assert validate_message({"content": "x" * 2000, "embeds": [embed]}) == {}
    assert sum([256, 1000, 100, 25 * 110]) <= 6000


def test_permissions_from_roles_and_overwrites() -> None:
    d = default_world()
    guild = d.guild
    assert guild.permissions_in(d.general, d.bot.id) & Perm.SEND_MESSAGES
    assert not guild.permissions_in(d.locked, d.bot.id) & Perm.SEND_MESSAGES
    assert guild.permissions_in(d.locked, d.bot.id) & Perm.VIEW_CHANNEL
    assert guild.permissions_in(d.locked, d.admin.user.id) & Perm.SEND_MESSAGES  # administrator
    assert not guild.permissions_in(d.general, d.member.user.id) & Perm.MANAGE_CHANNELS
    assert guild.permissions_in(d.general, d.manager.user.id) & Perm.MANAGE_CHANNELS
    # A member overwrite beats a role allow; hiding the channel removes everything.
    guild.set_overwrite(d.general, d.manager, deny=Perm.MANAGE_CHANNELS)
    assert not guild.permissions_in(d.general, d.manager.user.id) & Perm.MANAGE_CHANNELS
    guild.set_overwrite(d.news, guild.everyone, deny=Perm.VIEW_CHANNEL)
    assert guild.permissions_in(d.news, d.member.user.id) == 0
    thread = guild.add_thread(d.locked, "t", owner_id=d.bot.id)
    assert (
        not guild.permissions_in(thread, d.bot.id) & Perm.SEND_MESSAGES
    )  # threads use the parent's overwrites


def test_route_buckets_and_global_limit() -> None:
    limiter = RateLimiter(RateLimitConfig(default_limit=2, default_window_s=1.0, global_limit=4, rules=()))
    first = limiter.hit("GET", "/a", "", now=0.0, wall=100.0)
    assert (first.allowed, first.remaining, first.limit) == (True, 1, 2)
    assert limiter.hit("GET", "/a", "", now=0.1, wall=100.1).allowed
    refused = limiter.hit("GET", "/a", "", now=0.2, wall=100.2)
    assert not refused.allowed and refused.scope == "user" and refused.reset_after == pytest.approx(0.8)
    assert limiter.hit("GET", "/a", "other-channel", now=0.3, wall=100.3).allowed  # per major parameter
    over = limiter.hit("GET", "/b", "", now=0.4, wall=100.4)
    assert not over.allowed and over.is_global  # 5th request in the second (refused ones count too)
    assert limiter.hit("GET", "/a", "", now=1.05, wall=101.05).allowed  # both windows rolled over


def test_route_patterns() -> None:
    method, regex = compile_route_pattern("POST /channels/*/messages")
    assert (
        method == "POST"
        and regex.match("/channels/123/messages")
        and not regex.match("/channels/1/2/messages")
    )
    method, regex = compile_route_pattern("/webhooks/{id}/**")
    assert method is None and regex.match("/webhooks/1/tok/messages/@original")
    injection = Injection("PATCH /webhooks/*/*/messages/@original", 500, 1)
    assert injection.matches("PATCH", "/webhooks/1/abc/messages/@original")
    assert not injection.matches("GET", "/webhooks/1/abc/messages/@original")


def test_options_for_subcommand_groups_and_resolved_members() -> None:
    d = default_world()
    schema = {
        "name": "admin",
        "options": [
            {
                "name": "feeds",
                "type": 2,
                "options": [
                    {
                        "name": "move",
                        "type": 1,
                        "options": [
                            {"name": "to", "type": 7, "required": True},
                            {"name": "owner", "type": 6},
                            {"name": "limit", "type": 4},
                        ],
                    }
                ],
            }
        ],
    }
    resolved: dict = {}
    options = command_options(
        schema,
        ["feeds", "move"],
        {"to": d.news, "owner": d.manager, "limit": "5"},
        guild=d.guild,
        resolve=resolved,
        user_id=d.admin.user.id,
    )
    group = options[0]
    assert (group["name"], group["type"]) == ("feeds", 2)
    leaf = group["options"][0]["options"]
    assert [(o["name"], o["value"]) for o in leaf] == [
        ("to", str(d.news.id)),
        ("owner", str(d.manager.user.id)),
        ("limit", 5),
    ]
    assert set(resolved) == {"channels", "users", "members"}
    assert int(resolved["channels"][str(d.news.id)]["permissions"]) & Perm.ADMINISTRATOR
    with pytest.raises(ValueError, match="needs option"):
        command_options(schema, ["feeds", "move"], {}, guild=d.guild, resolve={})
    with pytest.raises(ValueError, match="no subcommand"):
        command_options(schema, ["feeds", "copy"], {}, guild=d.guild, resolve={})
