"""SSRF protection, with the default settings (allow_private_networks = false).

Every refusal must happen before any connection: a "tripwire" TCP server on a
loopback address counts accepted connections, and must count zero. Each suite
also has a positive control showing the tripwire does catch a real fetch.
Nothing here sends traffic off this machine: private and metadata addresses are
refused before connecting, and DNS answers come from a static test resolver.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Address, ip_address

import pytest
from aiohttp import web
from yarl import URL

from bot.config import FetchSettings
from bot.errors import BlockedAddressError, InvalidURLError
from bot.fetch import Fetcher
from bot.fetch.addresses import AddressKind, classify, embedded_ipv4, is_allowed, parse_ip
from bot.fetch.resolver import AddressPolicy, BlockedConnectionError, GuardedResolver, guarded_socket_factory
from tests.loopback import StaticResolver, serve

DEFAULT = FetchSettings()
assert DEFAULT.allow_private_networks is False

# --- the pure classifier ------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),  # one decimal number
        ("017700000001", "127.0.0.1"),  # one octal number
        ("0x7f000001", "127.0.0.1"),  # one hex number
        ("0177.0.0.1", "127.0.0.1"),  # octal part
        ("0x7f.0.0.1", "127.0.0.1"),  # hex part
        ("0x7F.1", "127.0.0.1"),  # two parts, the last fills three bytes
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),  # trailing dot
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("10.1", "10.0.0.1"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("2852039166", "169.254.169.254"),
        ("[::1]", "::1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("[::ffff:7f00:1]", "::ffff:7f00:1"),
        ("fe80::1%25eth0", "fe80::1"),  # zone id, URL-encoded
        ("fe80::1%eth0", "fe80::1"),
        ("8.8.8.8", "8.8.8.8"),
    ],
)
def test_parse_ip_reads_every_spelling(host: str, expected: str) -> None:
    assert parse_ip(host) == ip_address(expected)


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "localhost",
        "1.2.3.4.example",
        "0x7g.1",
        "08.0.0.1",
        "256.1.1.1",
        "1.2.3.4.5",
        "4294967296",
        "",
        "[::1",
    ],
)
def test_parse_ip_leaves_names_alone(host: str) -> None:
    assert parse_ip(host) is None


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", AddressKind.LOOPBACK),
        ("127.255.255.254", AddressKind.LOOPBACK),
        ("10.0.0.1", AddressKind.PRIVATE),
        ("172.16.0.1", AddressKind.PRIVATE),
        ("172.31.255.255", AddressKind.PRIVATE),
        ("192.168.1.1", AddressKind.PRIVATE),
        ("169.254.169.254", AddressKind.LINK_LOCAL),
        ("100.64.0.1", AddressKind.SHARED),
        ("100.127.255.254", AddressKind.SHARED),
        ("0.0.0.0", AddressKind.UNSPECIFIED),
        ("0.1.2.3", AddressKind.UNSPECIFIED),
        ("224.0.0.1", AddressKind.MULTICAST),
        ("239.255.255.250", AddressKind.MULTICAST),
        ("255.255.255.255", AddressKind.RESERVED),
        ("240.0.0.1", AddressKind.RESERVED),
        ("192.0.2.1", AddressKind.RESERVED),
        ("198.18.0.1", AddressKind.RESERVED),
        ("::1", AddressKind.LOOPBACK),
        ("::", AddressKind.UNSPECIFIED),
        ("::ffff:127.0.0.1", AddressKind.LOOPBACK),  # IPv4-mapped
        ("::ffff:10.0.0.1", AddressKind.PRIVATE),
        ("::ffff:169.254.169.254", AddressKind.LINK_LOCAL),
        ("::127.0.0.1", AddressKind.LOOPBACK),  # IPv4-compatible
        ("::8.8.8.8", AddressKind.RESERVED),  # deprecated form, even for a public address
        ("2002:7f00:1::", AddressKind.LOOPBACK),  # 6to4 of 127.0.0.1
        ("2002:a00:1::1", AddressKind.PRIVATE),  # 6to4 of 10.0.0.1
        ("64:ff9b::7f00:1", AddressKind.LOOPBACK),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", AddressKind.LINK_LOCAL),  # NAT64 of the metadata address
        ("64:ff9b:1::1", AddressKind.PRIVATE),  # local-use NAT64
        ("fc00::1", AddressKind.PRIVATE),  # ULA
        ("fd12:3456::1", AddressKind.PRIVATE),
        ("fe80::1", AddressKind.LINK_LOCAL),
        ("fec0::1", AddressKind.PRIVATE),  # deprecated site-local
        ("ff02::1", AddressKind.MULTICAST),
        ("2001:db8::1", AddressKind.RESERVED),  # documentation
        ("2001::1", AddressKind.RESERVED),  # Teredo
        ("100::1", AddressKind.RESERVED),  # discard-only
        ("4000::1", AddressKind.RESERVED),  # outside global unicast
        ("8.8.8.8", AddressKind.PUBLIC),
        ("93.184.216.34", AddressKind.PUBLIC),
        ("100.63.255.255", AddressKind.PUBLIC),  # just below CGNAT
        ("172.32.0.1", AddressKind.PUBLIC),  # just past 172.16/12
        ("::ffff:8.8.8.8", AddressKind.PUBLIC),
        ("64:ff9b::808:808", AddressKind.PUBLIC),  # NAT64 of 8.8.8.8: how IPv6-only hosts reach it
        ("2002:808:808::1", AddressKind.PUBLIC),
        ("2606:4700:4700::1111", AddressKind.PUBLIC),
    ],
)
def test_classify(address: str, kind: AddressKind) -> None:
    assert classify(ip_address(address)) is kind


def test_classify_ignores_the_zone_id() -> None:
    assert classify(IPv6Address("fe80::1%eth0")) is AddressKind.LINK_LOCAL


def test_embedded_ipv4() -> None:
    assert embedded_ipv4(IPv6Address("::ffff:1.2.3.4")) == ip_address("1.2.3.4")
    assert embedded_ipv4(IPv6Address("2002:102:304::")) == ip_address("1.2.3.4")
    assert embedded_ipv4(IPv6Address("64:ff9b::102:304")) == ip_address("1.2.3.4")
    assert embedded_ipv4(IPv6Address("::1")) is None
    assert embedded_ipv4(IPv6Address("2606:4700::1")) is None


def test_is_allowed_switches() -> None:
    loopback = ip_address("127.0.0.1")
    assert not is_allowed(loopback)
    assert is_allowed(loopback, allow_private=True)
    assert is_allowed(loopback, allowed_networks=(IPv4Network("127.0.0.1/32"),))
    assert not is_allowed(ip_address("127.0.0.2"), allowed_networks=(IPv4Network("127.0.0.1/32"),))
    assert is_allowed(ip_address("8.8.8.8"))


# --- the resolver and socket guards, without any connection --------------------


async def test_guarded_resolver_keeps_only_public_answers() -> None:
    base = StaticResolver({"mixed.test": ["93.184.216.34", "127.0.0.1", "::1", "2606:4700::1"]})
    guarded = GuardedResolver(base, AddressPolicy(allow_private=False), owns_base=False)
    answers = await guarded.resolve("mixed.test", 80)
    assert [answer["host"] for answer in answers] == ["93.184.216.34", "2606:4700::1"]


@pytest.mark.parametrize("answers", [["127.0.0.1"], ["10.0.0.5", "169.254.169.254"], ["::1", "fd00::1"]])
async def test_guarded_resolver_refuses_wholly_private_answers(answers: list[str]) -> None:
    guarded = GuardedResolver(
        StaticResolver({"evil.test": answers}), AddressPolicy(allow_private=False), owns_base=False
    )
    with pytest.raises(BlockedAddressError):
        await guarded.resolve("evil.test", 80)
    permissive = GuardedResolver(
        StaticResolver({"evil.test": answers}), AddressPolicy(allow_private=True), owns_base=False
    )
    assert len(await permissive.resolve("evil.test", 80)) == len(answers)


async def test_guarded_resolver_refuses_localhost_without_asking_dns() -> None:
    base = StaticResolver({"localhost": ["93.184.216.34"]})
    guarded = GuardedResolver(base, AddressPolicy(allow_private=False), owns_base=False)
    for name in ("localhost", "LOCALHOST.", "api.localhost"):
        with pytest.raises(BlockedAddressError):
            await guarded.resolve(name, 80)
    assert base.queries == []


def test_socket_factory_refuses_disallowed_peers() -> None:
    make_socket = guarded_socket_factory(AddressPolicy(allow_private=False))
    for family, address in [(socket.AF_INET, ("127.0.0.1", 80)), (socket.AF_INET6, ("::1", 80, 0, 0))]:
        with pytest.raises(BlockedConnectionError):
            make_socket((family, socket.SOCK_STREAM, 6, "", address))
    sock = make_socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80)))
    sock.close()  # made, never connected


# --- end to end: refused before connecting ---------------------------------------


@dataclass
class Tripwire:
    port: int = 0
    connections: int = 0


@asynccontextmanager
async def tripwire(host: str) -> AsyncIterator[Tripwire]:
    """A TCP server counting every connection; it answers a tiny page so positive controls pass."""
    wire = Tripwire()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        wire.connections += 1
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n"
                b"Connection: close\r\n\r\nok"
            )
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, host, 0)
    wire.port = server.sockets[0].getsockname()[1]
    async with server:
        yield wire


BLOCKED_URLS = [
    "http://127.0.0.1:{v4}/",
    "http://localhost:{v4}/",
    "http://LocalHost.:{v4}/",
    "http://www.localhost:{v4}/",
    "http://[::1]:{v6}/",
    "http://[::ffff:127.0.0.1]:{v4}/",
    "http://[::ffff:7f00:1]:{v4}/",
    "http://[::127.0.0.1]:{v4}/",
    "http://[64:ff9b::7f00:1]:{v4}/",
    "http://[2002:7f00:1::]:{v4}/",
    "http://2130706433:{v4}/",
    "http://017700000001:{v4}/",
    "http://0x7f000001:{v4}/",
    "http://0177.0.0.1:{v4}/",
    "http://0x7f.0.0.1:{v4}/",
    "http://0x7f.1:{v4}/",
    "http://127.1:{v4}/",
    "http://127.0.0.1.:{v4}/",
    "http://0.0.0.0:{v4}/",  # Linux delivers this to the local host
    "http://0:{v4}/",
    "http://[::]:{v6}/",
    "https://127.0.0.1:{v4}/",
    "http://10.0.0.1/",
    "http://192.168.0.1:{v4}/",
    "http://172.16.5.4/",
    "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",  # AWS metadata over IPv6
    "http://[fe80::1%25lo]/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    # Public-looking names whose DNS answers private addresses (DNS rebinding).
    "http://news.example.com:{v4}/",
    "http://v6.example.com:{v6}/",
    "http://mapped.example.com:{v4}/",
    "http://metadata.example.com/latest/meta-data/",
]
REBINDING_DNS = {
    "news.example.com": ["127.0.0.1"],
    "v6.example.com": ["::1"],
    "mapped.example.com": ["::ffff:127.0.0.1"],
    "metadata.example.com": ["169.254.169.254"],
}


@pytest.mark.parametrize("template", BLOCKED_URLS)
async def test_blocked_before_connecting(template: str) -> None:
    async with tripwire("127.0.0.1") as v4, tripwire("::1") as v6:
        url = template.format(v4=v4.port, v6=v6.port)
        async with Fetcher(DEFAULT, resolver=StaticResolver(REBINDING_DNS)) as fetcher:
            with pytest.raises(BlockedAddressError) as info:
                await fetcher.fetch(url)
        assert (v4.connections, v6.connections) == (0, 0)
    message = str(info.value)
    assert "private" in message
    assert not any(part in message for part in ("127.", "::1", "169.254", str(v4.port), "10.0"))
    assert info.value.url is not None


async def test_tripwire_sees_an_allowed_fetch() -> None:
    """Positive control: the same URLs connect when private networks are allowed."""
    async with tripwire("127.0.0.1") as v4, tripwire("::1") as v6:
        settings = FetchSettings(allow_private_networks=True)
        async with Fetcher(settings, resolver=StaticResolver(REBINDING_DNS)) as fetcher:
            for url in (
                f"http://0x7f.1:{v4.port}/",
                f"http://news.example.com:{v4.port}/",
                f"http://[::1]:{v6.port}/",
            ):
                result = await fetcher.fetch(url)
                assert result.body == b"ok"
        assert (v4.connections, v6.connections) == (2, 1)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/",
        "gopher://127.0.0.1:70/",
        "http://user:pw@example.com/",
        "dict://x/",
    ],
)
async def test_other_schemes_and_credentials_are_refused(url: str) -> None:
    async with Fetcher(DEFAULT, resolver=StaticResolver({})) as fetcher:
        with pytest.raises(InvalidURLError):
            await fetcher.fetch(url)


# --- redirects: each hop is checked again ----------------------------------------
# The first hop must be allowed without opening loopback to everyone: the Fetcher's
# ``allowed_networks`` exempts 127.0.0.1/32 only, and the private targets are other
# addresses (127.0.0.2, where a tripwire listens, or never-contacted private ones).


REDIRECT_TARGETS = [
    "http://127.0.0.2:{port}/",
    "http://2130706434:{port}/",
    "http://0x7f.0.0.2:{port}/",
    "http://127.0.0.2.:{port}/",
    "http://[::ffff:127.0.0.2]:{port}/",
    "http://internal.example.com:{port}/",  # resolves to 127.0.0.2
    "http://localhost:{port}/",
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[fd00::1]/",
]


@asynccontextmanager
async def redirector() -> AsyncIterator[tuple[str, list[str]]]:
    """A server on 127.0.0.1 whose /go?to=URL redirects to URL; yields its base URL and request log."""
    seen: list[str] = []

    async def go(request: web.Request) -> web.Response:
        seen.append(request.path_qs)
        raise web.HTTPFound(request.query["to"])

    async def ok(request: web.Request) -> web.Response:
        seen.append(request.path_qs)
        return web.Response(text="<p>fine</p>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/go", go)
    app.router.add_get("/ok", ok)
    async with serve(app) as base:
        yield base, seen


def go_to(base: str, target: str) -> str:
    return str(URL(f"{base}/go").with_query(to=target))


@pytest.mark.parametrize("template", REDIRECT_TARGETS)
async def test_redirect_to_a_private_address_is_refused(template: str) -> None:
    resolver = StaticResolver({"internal.example.com": ["127.0.0.2"]})
    async with redirector() as (base, seen), tripwire("127.0.0.2") as wire:
        target = template.format(port=wire.port)
        async with Fetcher(
            DEFAULT, resolver=resolver, allowed_networks=[IPv4Network("127.0.0.1/32")]
        ) as fetcher:
            with pytest.raises(BlockedAddressError):
                await fetcher.fetch(go_to(base, target))
        assert len(seen) == 1  # the first hop was made...
        assert wire.connections == 0  # ...the second never connected


async def test_redirect_positive_controls() -> None:
    resolver = StaticResolver({"internal.example.com": ["127.0.0.2"]})
    async with redirector() as (base, seen), tripwire("127.0.0.2") as wire:
        only_first = [IPv4Network("127.0.0.1/32")]
        async with Fetcher(DEFAULT, resolver=resolver, allowed_networks=only_first) as fetcher:
            result = await fetcher.fetch(go_to(base, f"{base}/ok"))
            assert result.text() == "<p>fine</p>"
        both = [IPv4Network("127.0.0.1/32"), IPv4Network("127.0.0.2/32")]
        async with Fetcher(DEFAULT, resolver=resolver, allowed_networks=both) as fetcher:
            target = f"http://internal.example.com:{wire.port}/"
            result = await fetcher.fetch(go_to(base, target))
            assert result.body == b"ok"
        assert wire.connections == 1
        assert [path.partition("?")[0] for path in seen] == ["/go", "/ok", "/go"]
