"""Pebble (Let's Encrypt's ACME test server, Debian package `pebble`) in a process of its own,
for the tests of the ACME certificate authority (adapters/acme_authority.py).

Debian's package ships the binary without the test CA (`pebble.minica.pem`) its examples
point at, so the listener's TLS certificate is made here: a CA of the run (`ca.pem`, what
CERTS_ACME_CA_BUNDLE names) and a `localhost`/127.0.0.1 certificate under it. Pebble's own
issuing root changes on every start; `issuing_root()` reads it from the management API
(`/roots/0`).

Each Pebble listens on free loopback ports, validates dns-01 through the tests' DNS server
(`-dnsserver`) and http-01 on `http_port` (the tests' file site), without its random sleeps
(PEBBLE_VA_NOSLEEP) and without rejecting good nonces (PEBBLE_WFE_NONCEREJECT=0).
Authorizations are always reused (PEBBLE_AUTHZREUSE=100), as Let's Encrypt reuses an account's
valid authorizations."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import time
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.processes import terminate

PEBBLE = os.environ.get("CERTS_PEBBLE", "/usr/bin/pebble")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def require_pebble() -> None:
    """Skips where Pebble is not installed, except in CI, where that fails the test."""
    if os.access(PEBBLE, os.X_OK):
        return
    message = f"{PEBBLE} is missing (make install runs `apt-get install -y pebble` when run as root)"
    if in_ci():
        pytest.fail(f"the ACME tests cannot run in CI: {message}", pytrace=False)
    pytest.skip(f"no Pebble here (CI would fail): {message}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """(ca.pem, cert.pem, key.pem): a CA of the run and Pebble's listener certificate."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name("certreissue tests Pebble TLS CA")).issuer_name(
            _name("certreissue tests Pebble TLS CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


class Pebble:
    def __init__(
        self, directory: Path, *, dns_port: int, http_port: int, eab_keys: dict[str, str] | None = None,
        blocked: list[str] | None = None, validity_days: int | None = None,
    ):
        """`blocked`: domains Pebble refuses (rejectedIdentifier); `validity_days`: its
        certificates' validity (Pebble's default is 5 years; Let's Encrypt's is 90 days)."""
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_bundle, cert, key = make_tls(directory)
        self.port, self.management_port = _free_port(), _free_port()
        self.dns_port = dns_port
        self.config = directory / "pebble-config.json"
        self.config.write_text(json.dumps({"pebble": {
            "listenAddress": f"127.0.0.1:{self.port}",
            "managementListenAddress": f"127.0.0.1:{self.management_port}",
            "certificate": str(cert),
            "privateKey": str(key),
            "httpPort": http_port,
            "tlsPort": _free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": bool(eab_keys),
            **({"externalAccountMACKeys": eab_keys} if eab_keys else {}),
            **({"domainBlocklist": blocked} if blocked else {}),
            **({"certificateValidityPeriod": validity_days * 86400} if validity_days else {}),
        }}))
        self.log_path = directory / "pebble.log"
        self.process: subprocess.Popen | None = None

    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    def env(self) -> dict[str, str]:
        """The service's settings for this Pebble."""
        return {"CERTS_CA": "acme", "CERTS_ACME_DIRECTORY": self.directory_url,
                "CERTS_ACME_CA_BUNDLE": str(self.ca_bundle)}

    def start(self) -> Pebble:
        environment = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0",
                       "PEBBLE_AUTHZREUSE": "100"}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [PEBBLE, "-config", str(self.config), "-dnsserver", f"127.0.0.1:{self.dns_port}"],
                env=environment, stdout=log, stderr=subprocess.STDOUT, cwd=self.directory,
            )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"pebble exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.directory_url, verify=ssl.create_default_context(cafile=str(self.ca_bundle)), timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"pebble did not answer within 30 s:\n{self.log()}")
            time.sleep(0.1)

    def stop(self) -> None:
        terminate(self.process, within=15)

    def restart(self) -> Pebble:
        """Stopped and started again on the same ports: Pebble keeps nothing (accounts,
        orders, its issuing root) across a restart."""
        self.stop()
        return self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def issuing_root(self) -> x509.Certificate:
        """Pebble's issuing root of this run (management API)."""
        text = httpx.get(f"https://127.0.0.1:{self.management_port}/roots/0", verify=ssl.create_default_context(cafile=str(self.ca_bundle)), timeout=5).text
        return x509.load_pem_x509_certificate(text.encode())

