"""File validation against hostile sites, with a real DNS server (dnslib) and real HTTP
servers on loopback: whatever a site answers (a redirect no parser agrees on, a host that
embeds a loopback IPv4 in an IPv6 address, a body sent one byte at a time), the check ends
in a diagnosis a person can act on, never an exception."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
import uuid

import pytest

from adapters.validation import LiveDomainChecker
from domain.reissues import FILE_CHALLENGE_PATH


@pytest.fixture
def checker(dns_server, file_site):
    return LiveDomainChecker((f"127.0.0.1:{dns_server.port}",), file_site.port, timeout=1.0, allow_private=True)


@pytest.fixture
def host(dns_server):
    name = f"www.h{uuid.uuid4().hex[:8]}.com"
    dns_server.resolver.set(name, "A", ["127.0.0.1"])
    return name


# -- redirects no parser agrees on -----------------------------------------------------------

UNPARSABLE_LOCATIONS = {
    "backslashes": "http:\\\\127.0.0.1/x",
    "backslashes with port": "http:\\\\127.0.0.1:8080/.well-known/pki-validation/fileauth.txt",
    "one backslash": "http:\\127.0.0.1/x",
    "backslash in the path": "/\\\\127.0.0.1/x",
    "slash and backslash": "http:/\\127.0.0.1/x",
    "unclosed ipv6 literal": "http://[::1/x",
    "port out of range": "http://www.example.com:99999/x",
    "port not a number": "http://www.example.com:xx/x",
    "space in the host": "http://exa mple.com/x",
    "empty label": "http://a..example.com/x",
    "label too long": "http://" + "a" * 64 + ".example.com/x",
    "no host": "http:///x",
    "tab": "http://www.example.com/\tx",
    "empty": "",
}


@pytest.mark.parametrize("location", [pytest.param(v, id=k) for k, v in UNPARSABLE_LOCATIONS.items()])
async def test_a_redirect_to_an_unparsable_location_is_a_diagnosis(checker, file_site, host, location):
    file_site.serve(host, FILE_CHALLENGE_PATH, "", status=302, headers={"Location": location})
    outcome = await checker.check_file(host, FILE_CHALLENGE_PATH, "tok")
    assert not outcome.ok
    assert outcome.diagnosis.startswith("redirect:"), outcome.diagnosis
    assert "is not a valid http:// URL" in outcome.diagnosis, outcome.diagnosis
    assert f"http://{host}{FILE_CHALLENGE_PATH}" in outcome.diagnosis  # where it came from


@pytest.mark.parametrize("location", ["https://www.example.com/x", "ftp://www.example.com/x", "javascript:alert(1)"])
async def test_a_redirect_to_another_scheme_says_only_http_is_followed(checker, file_site, host, location):
    file_site.serve(host, FILE_CHALLENGE_PATH, "", status=301, headers={"Location": location})
    outcome = await checker.check_file(host, FILE_CHALLENGE_PATH, "tok")
    assert not outcome.ok and "only http:// redirects are followed" in outcome.diagnosis, outcome.diagnosis


async def test_a_redirect_to_a_port_nobody_listens_on_is_a_diagnosis(checker, file_site, host):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    file_site.serve(host, FILE_CHALLENGE_PATH, "", status=302, headers={"Location": f"http://127.0.0.1:{closed_port}/x"})
    outcome = await checker.check_file(host, FILE_CHALLENGE_PATH, "tok")
    assert not outcome.ok and outcome.diagnosis.startswith("connection failed"), outcome.diagnosis


async def test_a_redirect_to_an_ipv6_literal_sends_a_bracketed_host(checker, file_site, host):
    """http://[::1]:port/ is a valid URL: it is fetched (nothing listens on ::1 here, or the
    site answers 404), not refused as unparsable."""
    file_site.serve(host, FILE_CHALLENGE_PATH, "", status=302, headers={"Location": f"http://[::1]:{file_site.port}/x"})
    outcome = await checker.check_file(host, FILE_CHALLENGE_PATH, "tok")
    assert not outcome.ok and "is not a valid" not in outcome.diagnosis, outcome.diagnosis


# -- IPv6 addresses that embed a non-public IPv4 ---------------------------------------------


@pytest.mark.parametrize(
    "aaaa",
    [
        pytest.param("::7f00:1", id="v4-compatible"),
        pytest.param("::ffff:0:7f00:1", id="v4-translated"),
        pytest.param("64:ff9b::7f00:1", id="nat64"),
        pytest.param("64:ff9b:1::a00:1", id="local-nat64"),
        pytest.param("2002:7f00:1::", id="6to4"),
        pytest.param("2001:0:4136:e378:8000:63bf:80ff:fffe", id="teredo-loopback-client"),
    ],
)
async def test_a_host_whose_aaaa_embeds_a_non_public_ipv4_is_refused(dns_server, file_site, aaaa):
    name = f"v6.h{uuid.uuid4().hex[:8]}.com"
    dns_server.resolver.set(name, "AAAA", [aaaa])  # no A record: the checker uses this one
    strict = LiveDomainChecker((f"127.0.0.1:{dns_server.port}",), file_site.port, timeout=1.0)
    outcome = await strict.check_file(name, FILE_CHALLENGE_PATH, "tok")
    assert not outcome.ok
    prefix, suffix = f"refused: {name} resolves to ", ", which is not a public address"
    assert outcome.diagnosis.startswith(prefix) and outcome.diagnosis.endswith(suffix), outcome.diagnosis
    shown = outcome.diagnosis[len(prefix) : -len(suffix)]
    assert ipaddress.ip_address(shown) == ipaddress.ip_address(aaaa)  # "::127.0.0.1" for ::7f00:1


# -- a site that answers one byte at a time --------------------------------------------------


class DrippingSite:
    """Answers 200 with a long body, one byte every 0.1 s."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed by stop()
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                while not self.stopped.wait(0.1):
                    conn.sendall(b"x")
            except OSError:
                pass

    def stop(self) -> None:
        self.stopped.set()
        self.listener.close()


async def test_a_site_sending_its_answer_one_byte_at_a_time_is_a_timeout(dns_server):
    site = DrippingSite()
    try:
        name = f"slow.h{uuid.uuid4().hex[:8]}.com"
        dns_server.resolver.set(name, "A", ["127.0.0.1"])
        checker = LiveDomainChecker((f"127.0.0.1:{dns_server.port}",), site.port, timeout=1.0, allow_private=True)
        # Without a deadline on the whole answer this takes 100000 x 0.1 s; the bound is generous.
        outcome = await asyncio.wait_for(checker.check_file(name, FILE_CHALLENGE_PATH, "tok"), 10)
    finally:
        site.stop()
    assert not outcome.ok and outcome.diagnosis.startswith("timeout:"), outcome.diagnosis
