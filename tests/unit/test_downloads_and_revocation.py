"""The pure parts of downloads and revocation: settings, file names, what is logged of a
download URL, and the built-in CA revoking only what it issued, into its issuer's CRL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from adapters.authority import BuiltInAuthority
from certreissue.app import logged_path
from certreissue.settings import Settings
from domain.downloads import DownloadFormat, file_name_for
from domain.model import Brand, RevocationReason, ValidationLevel
from domain.ports import Revocation
from tests import certs
from tests.unit.factories import make_certificate

NOW = datetime.now(UTC).replace(microsecond=0)


def test_superseded_versions_are_revoked_after_72_hours_unless_configured():
    assert Settings.from_env({}).revoke_superseded_after == timedelta(hours=72)
    assert Settings.from_env({"CERTS_REVOKE_SUPERSEDED_AFTER": "never"}).revoke_superseded_after is None
    assert Settings.from_env({"CERTS_REVOKE_SUPERSEDED_AFTER": "10s"}).revoke_superseded_after == timedelta(seconds=10)
    assert Settings.from_env({"CERTS_REVOKE_SUPERSEDED_AFTER": "2w"}).revoke_superseded_after == timedelta(weeks=2)


@pytest.mark.parametrize("value", ["3 days", "72", "-1h", "soon", ""])
def test_a_bad_revocation_delay_is_refused_naming_the_variable(value):
    with pytest.raises(ValueError, match="CERTS_REVOKE_SUPERSEDED_AFTER"):
        Settings.from_env({"CERTS_REVOKE_SUPERSEDED_AFTER": value})


@pytest.mark.parametrize("value", ["example.com", "ftp://x", "https://x/?a=1", "https://x/#f"])
def test_a_public_url_must_be_a_plain_http_url(value):
    with pytest.raises(ValueError, match="CERTS_PUBLIC_URL"):
        Settings.from_env({"CERTS_PUBLIC_URL": value})
    assert Settings.from_env({"CERTS_PUBLIC_URL": "https://certs.example.com/api/"}).public_url == \
        "https://certs.example.com/api"


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("www.example.com", "www.example.com-v3-nginx.zip"),
        ("*.example.com", "wildcard.example.com-v3-nginx.zip"),
        ('../../etc/passwd"\r\nX: y', "etc_passwd_x_y-v3-nginx.zip"),
        ("", "certificate-v3-nginx.zip"),
    ],
)
def test_a_download_file_name_keeps_only_safe_characters(domain, expected):
    name = file_name_for(make_certificate(domain=domain), 3, DownloadFormat.NGINX)
    assert name == expected


def test_a_download_urls_token_is_never_logged():
    assert logged_path("/downloads/dl1_secret") == "/downloads/<token>"
    assert logged_path("/graphql") == "/graphql"


class MemoryRevocations:
    def __init__(self) -> None:
        self.rows: dict[str, tuple] = {}

    async def add(self, issuer, serial, reason, now):
        row = self.rows.setdefault(f"{issuer}:{serial:X}", (issuer, serial, now, reason))
        return Revocation(row[2], row[3])

    async def of_issuer(self, issuer):
        return sorted((s, at, r) for i, s, at, r in self.rows.values() if i == issuer)


def test_the_built_in_ca_revokes_what_it_issued_once_and_lists_it_in_that_issuers_crl(tmp_path):
    revocations = MemoryRevocations()
    authority = BuiltInAuthority(tmp_path, revocations)
    csr_pem = certs.issue("www.example.com").csr_pem
    issued = asyncio.run(authority.sign(
        csr_pem, "www.example.com", NOW + timedelta(days=30), NOW,
        brand=Brand.TRUSTASIA, level=ValidationLevel.DV,
    ))
    first = asyncio.run(authority.revoke(issued.certificate_pem, RevocationReason.SUPERSEDED, NOW))
    again = asyncio.run(authority.revoke(issued.certificate_pem, RevocationReason.SUPERSEDED, NOW + timedelta(hours=1)))
    assert first == again == Revocation(NOW, RevocationReason.SUPERSEDED)
    serial = x509.load_pem_x509_certificate(issued.certificate_pem.encode()).serial_number
    crl = x509.load_der_x509_crl(asyncio.run(authority.crl(Brand.TRUSTASIA, NOW)))
    assert crl.is_signature_valid(authority.issuer(Brand.TRUSTASIA).public_key())
    assert [r.serial_number for r in crl] == [serial]
    assert crl.next_update_utc == NOW + timedelta(hours=24)
    assert list(x509.load_der_x509_crl(asyncio.run(authority.crl(Brand.DIGICERT, NOW)))) == []


def test_a_crl_is_signed_again_after_a_minute_and_then_lists_new_revocations(tmp_path):
    authority = BuiltInAuthority(tmp_path, MemoryRevocations())
    before = asyncio.run(authority.crl(Brand.OTHER, NOW))
    csr_pem = certs.issue("www.example.com").csr_pem
    issued = asyncio.run(authority.sign(csr_pem, "www.example.com", NOW + timedelta(days=30), NOW,
                                        brand=Brand.OTHER, level=ValidationLevel.DV))
    asyncio.run(authority.revoke(issued.certificate_pem, RevocationReason.SUPERSEDED, NOW))
    assert asyncio.run(authority.crl(Brand.OTHER, NOW + timedelta(seconds=59))) == before
    later = x509.load_der_x509_crl(asyncio.run(authority.crl(Brand.OTHER, NOW + timedelta(seconds=60))))
    assert len(list(later)) == 1 and later.last_update_utc == NOW + timedelta(seconds=60)


def test_the_built_in_ca_does_not_revoke_a_certificate_issued_elsewhere(tmp_path):
    revocations = MemoryRevocations()
    authority = BuiltInAuthority(tmp_path, revocations)
    elsewhere = certs.issue("www.example.com")
    assert asyncio.run(authority.revoke(elsewhere.leaf_pem, RevocationReason.SUPERSEDED, NOW)) is None
    assert asyncio.run(authority.revoke("not a certificate", RevocationReason.SUPERSEDED, NOW)) is None
    assert revocations.rows == {}
