"""Debian's Knot DNS as a zone's authoritative server for tests: a configuration, a zone file
and a TSIG key of its own in a temporary directory, on a loopback port, accepting RFC 2136
updates signed with that key (as a customer's primary server would).

`make install` installs it (scripts/install-knot.sh, when run as root). Without it the tests
that need it are skipped on a developer's machine and fail in CI (CI set to anything but
empty, 0 or false), as the nginx test does."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from tests.support.processes import terminate

KNOTD = Path(os.environ.get("CERTS_KNOTD", "/usr/sbin/knotd"))


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def require_knotd() -> Path:
    if os.access(KNOTD, os.X_OK):
        return KNOTD
    message = f"{KNOTD} is missing (make install runs `apt-get install -y knot` when run as root)"
    if in_ci():
        pytest.fail(f"the Knot DNS tests cannot run in CI: {message}", pytrace=False)
    pytest.skip(f"no Knot DNS here (CI would fail): {message}")


CONFIG = """
server:
    rundir: "{dir}"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: info
database:
    storage: "{dir}/db"
key:
  - id: {key_name}
    algorithm: {algorithm}
    secret: {secret}
acl:
  - id: updates
    key: {key_name}
    action: update
    update-type: [TXT]
  - id: transfers
    address: 127.0.0.1
    action: transfer
template:
  - id: default
    storage: "{dir}"
    file: "%s.zone"
    zonefile-sync: 0
zone:
  - domain: {zone}
    acl: [updates, transfers]
"""

ZONE = """$ORIGIN {zone}.
$TTL 60
@   SOA ns1 hostmaster 1 3600 600 86400 60
@   NS  ns1
ns1 A   127.0.0.1
"""


class Knot:
    """One knotd serving `zone`; `stop()` then `start()` again keeps its port and records."""

    def __init__(self, directory: Path, zone: str, port: int, *, algorithm: str = "hmac-sha256") -> None:
        self.dir = directory
        self.zone = zone
        self.port = port
        self.key_name = "certreissue-test"
        self.algorithm = algorithm
        self.secret = base64.b64encode(secrets.token_bytes(32)).decode()
        self.process: subprocess.Popen | None = None
        (directory / "db").mkdir(parents=True, exist_ok=True)
        (directory / "knot.conf").write_text(CONFIG.format(
            dir=directory, port=port, key_name=self.key_name, algorithm=algorithm, secret=self.secret, zone=zone,
        ))
        (directory / f"{zone}.zone").write_text(ZONE.format(zone=zone))

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Knot:
        binary = require_knotd()
        log = open(self.dir / "knotd.log", "ab")
        self.process = subprocess.Popen([str(binary), "-c", str(self.dir / "knot.conf")], stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"knotd exited: {(self.dir / 'knotd.log').read_text()[-2000:]}")
            try:
                if self.soa_ok():
                    return self
            except (OSError, dns.exception.DNSException):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"knotd did not answer: {(self.dir / 'knotd.log').read_text()[-2000:]}")
            time.sleep(0.05)

    def soa_ok(self) -> bool:
        answer = dns.query.udp(dns.message.make_query(self.zone, "SOA"), "127.0.0.1", port=self.port, timeout=1)
        return answer.rcode() == dns.rcode.NOERROR and bool(answer.answer)

    def stop(self) -> None:
        terminate(self.process)
        self.process = None

    def txt(self, name: str) -> list[str]:
        """The TXT values the server holds for `name` (asked directly, not through a resolver)."""
        answer = dns.query.tcp(dns.message.make_query(name, "TXT"), "127.0.0.1", port=self.port, timeout=5)
        values = []
        for rrset in answer.answer:
            if rrset.rdtype == dns.rdatatype.TXT:
                values.extend(b"".join(r.strings).decode() for r in rrset)
        return values

    def txt_names(self) -> list[str]:
        """Every owner name holding a TXT record in the zone, by a zone transfer."""
        import dns.zone

        zone = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", self.zone, port=self.port, timeout=5))
        return sorted(
            f"{name}.{self.zone}" for name, node in zone.nodes.items()
            if node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.TXT) is not None
        )
