"""`is_public_address`: what file validation may fetch from when private addresses are not
allowed. An IPv6 address that embeds an IPv4 one (IPv4-compatible, -mapped, -translated,
NAT64, 6to4, Teredo server and client) is public only if every IPv4 it embeds is public:
Python's `is_global` alone calls ::7f00:1 or 2002:7f00:1:: global."""

from __future__ import annotations

import ipaddress

import pytest

from adapters.validation import is_public_address


def teredo(server: str, client: str) -> str:
    """2001:0::/32, the server's IPv4, flags and port, then the client's IPv4 inverted."""
    s = int(ipaddress.IPv4Address(server))
    c = int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF
    return str(ipaddress.IPv6Address((0x20010000 << 96) | (s << 64) | (0x8000 << 48) | (0x63BF << 32) | c))


NOT_PUBLIC = {
    # plain
    "loopback v4": "127.0.0.1",
    "private v4": "10.0.0.1",
    "metadata v4": "169.254.169.254",
    "shared v4": "100.64.0.1",
    "this-network v4": "0.0.0.0",
    "multicast v4": "224.0.0.1",
    "loopback v6": "::1",
    "unspecified v6": "::",
    "link-local v6": "fe80::1",
    "scoped link-local v6": "fe80::1%eth0",
    "unique-local v6": "fd00::1",
    "documentation v6": "2001:db8::1",
    "multicast v6": "ff0e::1",
    # IPv4-compatible ::/96
    "v4-compatible loopback": "::7f00:1",
    "v4-compatible private": "::a00:1",
    "v4-compatible metadata": "::a9fe:a9fe",
    # IPv4-mapped ::ffff:0:0/96
    "v4-mapped loopback": "::ffff:127.0.0.1",
    "v4-mapped private": "::ffff:10.0.0.1",
    # IPv4-translated ::ffff:0:0:0/96
    "v4-translated loopback": "::ffff:0:7f00:1",
    "v4-translated private": "::ffff:0:c0a8:101",
    # NAT64 well-known prefix 64:ff9b::/96
    "nat64 loopback": "64:ff9b::7f00:1",
    "nat64 private": "64:ff9b::a00:1",
    "nat64 metadata": "64:ff9b::a9fe:a9fe",
    # NAT64 local-use 64:ff9b:1::/48: inside someone's network, whatever it embeds
    "local nat64 loopback": "64:ff9b:1::7f00:1",
    "local nat64 public": "64:ff9b:1::808:808",
    "local nat64 /96": "64:ff9b:1:abcd::808:808",
    # 6to4 2002::/16
    "6to4 loopback": "2002:7f00:1::",
    "6to4 private": "2002:a00:1::1",
    "6to4 metadata": "2002:a9fe:a9fe::1",
    # Teredo 2001:0::/32: the server's IPv4, and the client's (obfuscated)
    "teredo private client": teredo("65.54.227.120", "127.0.0.1"),
    "teredo private server": teredo("10.0.0.1", "8.8.8.8"),
    # not an address
    "garbage": "not-an-address",
    "empty": "",
}

PUBLIC = {
    "public v4": "8.8.8.8",
    "public v6": "2606:4700:4700::1111",
    "v4-mapped public": "::ffff:8.8.8.8",
    "nat64 public": "64:ff9b::808:808",
    "6to4 public": "2002:808:808::1",
}


@pytest.mark.parametrize("address", [pytest.param(a, id=n) for n, a in NOT_PUBLIC.items()])
def test_an_address_that_is_or_embeds_a_non_public_one_is_not_public(address):
    assert is_public_address(address) is False


@pytest.mark.parametrize("address", [pytest.param(a, id=n) for n, a in PUBLIC.items()])
def test_a_public_address_and_one_embedding_only_public_ipv4_is_public(address):
    assert is_public_address(address) is True


def test_the_teredo_helper_builds_what_python_reads_back():
    assert ipaddress.IPv6Address(teredo("65.54.227.120", "127.0.0.1")).teredo == (
        ipaddress.IPv4Address("65.54.227.120"),
        ipaddress.IPv4Address("127.0.0.1"),
    )

