"""Pure classification of IP addresses and host spellings (SSRF protection).

Everything here is a pure function: no DNS, no sockets. The fetcher and the
guarded resolver ask two questions, "is this host an IP address in any
spelling?" and "may we connect to this address?".

We allow-list rather than block-list IPv6: only global unicast (2000::/3) is
public, minus the special ranges inside it, so a new special-purpose range
outside 2000::/3 is refused by default. Addresses that embed an IPv4 address
(IPv4-mapped, IPv4-compatible, 6to4, NAT64) are judged by the embedded one.
"""

from __future__ import annotations

import enum
import ipaddress
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network


class AddressKind(enum.StrEnum):
    """Why an address is (or is not) fetchable."""

    PUBLIC = "public"
    UNSPECIFIED = "unspecified"
    LOOPBACK = "loopback"
    PRIVATE = "private"
    SHARED = "shared"  # carrier-grade NAT, 100.64.0.0/10
    LINK_LOCAL = "link-local"  # includes cloud metadata, 169.254.169.254
    MULTICAST = "multicast"
    RESERVED = "reserved"  # documentation, benchmarking, broadcast, future use


def _nets(kind: AddressKind, *cidrs: str) -> list[tuple[IPNetwork, AddressKind]]:
    return [(ipaddress.ip_network(cidr), kind) for cidr in cidrs]


# IANA IPv4 special-purpose registry, written out so the answer does not depend
# on the Python version's idea of ``is_private`` (it changed in 3.11.10).
_IPV4_SPECIAL: list[tuple[IPNetwork, AddressKind]] = [
    *_nets(AddressKind.UNSPECIFIED, "0.0.0.0/8"),
    *_nets(AddressKind.LOOPBACK, "127.0.0.0/8"),
    *_nets(AddressKind.PRIVATE, "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"),
    *_nets(AddressKind.SHARED, "100.64.0.0/10"),
    *_nets(AddressKind.LINK_LOCAL, "169.254.0.0/16"),
    *_nets(AddressKind.MULTICAST, "224.0.0.0/4"),
    *_nets(
        AddressKind.RESERVED,
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # TEST-NET-1
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # TEST-NET-2
        "203.0.113.0/24",  # TEST-NET-3
        "240.0.0.0/4",  # future use, and 255.255.255.255
    ),
]

_IPV6_GLOBAL_UNICAST = IPv6Network("2000::/3")
_IPV6_SPECIAL: list[tuple[IPNetwork, AddressKind]] = [
    *_nets(AddressKind.UNSPECIFIED, "::/128"),
    *_nets(AddressKind.LOOPBACK, "::1/128"),
    *_nets(AddressKind.PRIVATE, "fc00::/7", "fec0::/10", "64:ff9b:1::/48"),
    *_nets(AddressKind.LINK_LOCAL, "fe80::/10"),
    *_nets(AddressKind.MULTICAST, "ff00::/8"),
    *_nets(
        AddressKind.RESERVED,
        "2001::/23",  # IETF protocol assignments, Teredo among them
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # SRv6 SIDs
        "100::/64",  # discard-only
    ),
]
_IPV4_MAPPED = IPv6Network("::ffff:0:0/96")
_IPV4_COMPATIBLE = IPv6Network("::/96")
_NAT64 = IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = IPv6Network("2002::/16")


def embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, NAT64, 6to4), if any."""
    if address in _IPV4_MAPPED or address in _IPV4_COMPATIBLE or address in _NAT64:
        if address in _IPV4_COMPATIBLE and int(address) <= 1:
            return None  # :: and ::1 are themselves, not 0.0.0.0 and 0.0.0.1
        return IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return IPv4Address((int(address) >> 80) & 0xFFFFFFFF)
    return None


def classify(address: IPAddress) -> AddressKind:
    """What kind of address this is; only :attr:`AddressKind.PUBLIC` may be fetched."""
    if isinstance(address, IPv4Address):
        for network, kind in _IPV4_SPECIAL:
            if address in network:
                return kind
        return AddressKind.PUBLIC
    if address.scope_id:
        address = IPv6Address(address.compressed.partition("%")[0])
    for network, kind in _IPV6_SPECIAL:
        if address in network:
            return kind
    inner = embedded_ipv4(address)
    if inner is not None:
        inner_kind = classify(inner)
        # IPv4-compatible addresses are deprecated: nothing public lives there.
        if inner_kind is AddressKind.PUBLIC and address in _IPV4_COMPATIBLE:
            return AddressKind.RESERVED
        return inner_kind
    if address not in _IPV6_GLOBAL_UNICAST:
        return AddressKind.RESERVED
    return AddressKind.PUBLIC


def is_allowed(
    address: IPAddress,
    *,
    allow_private: bool = False,
    allowed_networks: tuple[IPNetwork, ...] = (),
) -> bool:
    """May we connect to ``address``? Public ones always; others only if allowed."""
    if allow_private or classify(address) is AddressKind.PUBLIC:
        return True
    if address.version == 6 and address.scope_id:
        address = IPv6Address(address.compressed.partition("%")[0])
    return any(address.version == net.version and address in net for net in allowed_networks)


def parse_ip(host: str) -> IPAddress | None:
    """The address ``host`` spells, or None when it is a host name.

    Accepts every spelling a resolver or ``inet_aton`` would turn into an
    address, so that ``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``127.1`` and
    ``[::ffff:127.0.0.1]`` cannot slip past a check that only knows dotted quads.
    """
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        # A zone id ("fe80::1%eth0", URL-encoded as %25) says which interface, not which address.
        literal = host.replace("%25", "%").partition("%")[0]
        try:
            return IPv6Address(literal)
        except ValueError:
            return None
    return _parse_ipv4_loose(host)


def _parse_ipv4_loose(host: str) -> IPv4Address | None:
    # inet_aton rules (also the WHATWG URL standard's): 1 to 4 parts, each
    # decimal, octal (leading 0) or hex (0x); the last part fills the rest.
    if host.endswith("."):
        host = host[:-1]
    parts = host.split(".")
    if not host or len(parts) > 4:
        return None
    numbers: list[int] = []
    for part in parts:
        number = _parse_ipv4_part(part)
        if number is None:
            return None
        numbers.append(number)
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return IPv4Address(value)


def _parse_ipv4_part(part: str) -> int | None:
    if not part.isascii() or not part:
        return None
    lowered = part.lower()
    try:
        if lowered.startswith("0x"):
            return int(lowered[2:] or "0", 16)
        if len(lowered) > 1 and lowered.startswith("0"):
            return int(lowered[1:], 8)
        if lowered.isdigit():
            return int(lowered, 10)
    except ValueError:
        return None
    return None


def is_local_hostname(host: str) -> bool:
    """Names that always mean this machine (RFC 6761), refused without asking DNS."""
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")
