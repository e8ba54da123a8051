"""Downloads for a server (R26): one-time URLs to a zip of a certificate version in the
format a server reads, with its private key only for the owner and only when the service
holds it. Calls ports only.

Nothing built is stored: a grant names the version and the format, and the key password
(when one is given) is kept sealed under the master key until the one fetch, which builds
the zip in memory and deletes the grant.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from domain import trust
from domain import x509 as pem
from domain.certificates import MAX_PASSWORD_LENGTH, CertificateService, require_role
from domain.errors import DomainError, ErrorCode, Forbidden, InvalidInput
from domain.model import Caller, Certificate, CertificateVersion, PrivateKeyStorage, Role
from domain.ports import BundleWriter, Clock, DownloadGrant, DownloadStore, KeySealer
from domain.text import has_control_characters

URL_LIFETIME = timedelta(minutes=5)
USE_RECORD_RETENTION = timedelta(hours=1)  # a used URL answers 410 (not 404) this long


class DownloadFormat(str, Enum):
    """What each zip holds (fixed file names, never taken from the certificate)."""

    PEM = "PEM"  # certificate.pem, chain.pem, fullchain.pem: no key
    NGINX = "NGINX"  # fullchain.pem, privkey.pem
    APACHE = "APACHE"  # certificate.pem, chain.pem, privkey.pem
    TOMCAT = "TOMCAT"  # keystore.p12 (PKCS#12) and keystore.jks (JKS): adapters/bundles.py
    IIS = "IIS"  # certificate.pfx (PKCS#12)


KEY_FORMATS = frozenset({DownloadFormat.NGINX, DownloadFormat.APACHE, DownloadFormat.TOMCAT, DownloadFormat.IIS})
STORE_FORMATS = frozenset({DownloadFormat.TOMCAT, DownloadFormat.IIS})


@dataclass(frozen=True)
class CreateDownload:
    certificate_id: str
    format: DownloadFormat
    version: int | None = None  # 1 is the first version; None the current one
    key_password: str | None = None


@dataclass(frozen=True)
class Download:
    token: str  # in the URL; returned once, never stored
    expires_at: datetime
    format: DownloadFormat
    file_name: str


@dataclass(frozen=True)
class Bundle:
    file_name: str
    content: bytes


class DownloadGone(Exception):
    """The URL was used, or it expired: 410."""


class DownloadNotFound(Exception):
    """No such URL (or its certificate is gone): 404."""


def version_number(certificate: Certificate, version: CertificateVersion) -> int:
    """Versions are numbered from 1, the first; the current one has the highest number."""
    return len(certificate.versions) - certificate.versions.index(version)


_UNSAFE = re.compile(r"[^a-z0-9.-]+")


def file_name_for(certificate: Certificate, number: int, format: DownloadFormat) -> str:
    """`www.example.com-v2-nginx.zip`; a wildcard's `*` becomes `wildcard`. Only
    [a-z0-9.-] survive: no path, no quote, no header injection."""
    name = certificate.domain.lower().replace("*", "wildcard")
    name = _UNSAFE.sub("_", name).strip("._-")[:100] or "certificate"
    return f"{name}-v{number}-{format.value.lower()}.zip"


def _field(name: str) -> list[str]:
    return ["input", name]


class DownloadService:
    def __init__(
        self,
        *,
        certificates: CertificateService,
        store: DownloadStore,
        writer: BundleWriter,
        sealer: KeySealer,
        clock: Clock,
    ) -> None:
        self._certificates = certificates
        self._store = store
        self._writer = writer
        self._sealer = sealer
        self._clock = clock

    async def create(self, caller: Caller, cmd: CreateDownload) -> Download:
        """R26: account tokens only (staff have no downloads); a viewer gets PEM, which
        holds no key; the key formats are the owner's."""
        if caller.is_staff or caller.account is None:
            raise Forbidden("downloads are for the certificate's account: a staff token reads a certificate "
                            "by its ID (certificatePem, chainPem) and never its key (R26)")
        if cmd.format in KEY_FORMATS:
            require_role(caller, Role.OWNER)
        password = cmd.key_password
        if password is not None and (not password or len(password) > MAX_PASSWORD_LENGTH
                                     or has_control_characters(password)):
            raise InvalidInput(
                f"keyPassword must be 1-{MAX_PASSWORD_LENGTH} characters without control characters",
                field=_field("keyPassword"),
            )
        if cmd.format == DownloadFormat.PEM and password is not None:
            raise InvalidInput("a PEM download holds no key: leave keyPassword out", field=_field("keyPassword"))
        if cmd.format in STORE_FORMATS and password is None:
            raise InvalidInput(
                f"a {cmd.format.value} key store needs a password: give keyPassword", field=_field("keyPassword")
            )
        certificate = await self._certificates.require(caller, cmd.certificate_id, _field("certificateId"))
        version = self._version(certificate, cmd.version)
        include_key = False
        if cmd.format in KEY_FORMATS:
            key = await self._held_key(certificate, version, password)
            include_key = key is not None
            if cmd.format in STORE_FORMATS and not include_key:
                raise InvalidInput(
                    f"the service does not hold the private key of this version, so it cannot build a "
                    f"{cmd.format.value} key store; use PEM and your own key",
                    code=ErrorCode.INVALID_STATE, field=_field("format"),
                )
        token, grant_id = self._store.new_token()
        now = self._clock.now()
        file_name = file_name_for(certificate, version_number(certificate, version), cmd.format)
        grant = DownloadGrant(
            id=grant_id,
            account=certificate.account,
            certificate_id=certificate.id,
            serial_number=version.serial_number,
            format=cmd.format.value,
            include_key=include_key,
            sealed_password=(
                self._sealer.seal(password.encode(), context=f"download:{grant_id}")
                if include_key and password is not None else None
            ),
            file_name=file_name,
            created_at=now,
            expires_at=now + URL_LIFETIME,
        )
        await self._store.add(grant)
        return Download(token=token, expires_at=grant.expires_at, format=cmd.format, file_name=file_name)

    @staticmethod
    def _version(certificate: Certificate, number: int | None) -> CertificateVersion:
        if number is None:
            return certificate.current
        count = len(certificate.versions)
        if not 1 <= number <= count:
            raise InvalidInput(
                f"this certificate has versions 1-{count} (1 is the first, {count} the current one)",
                field=_field("version"),
            )
        return certificate.versions[count - number]

    async def _held_key(self, certificate: Certificate, version: CertificateVersion, password: str | None):
        """The version's private key when the service holds it (a reissue with a new key
        leaves the old versions' keys unheld), decrypted in memory; a password-protected
        key needs its password, checked here so the URL will work."""
        stored = certificate.private_key
        if stored is None:
            return None
        # The key held is the current version's; an older version with another key has none
        # (and needs no password to be told so).
        field = _field("version")
        if version is not certificate.current and (
            pem.parse_certificate_chain(version.certificate_pem, field=field).public_key_der
            != pem.parse_certificate_chain(certificate.current.certificate_pem, field=field).public_key_der
        ):
            return None
        if stored.storage == PrivateKeyStorage.PASSWORD:
            if password is None:
                raise InvalidInput(
                    "the private key is password-protected: give its password in keyPassword",
                    field=_field("keyPassword"),
                )
            key, _ = await asyncio.to_thread(
                pem.load_private_key, stored.data.decode("ascii"), password,
                field=_field("keyPassword"), password_field=_field("keyPassword"),
            )
        else:
            key = pem.load_private_key(
                self._sealer.open(stored.data, context=certificate.id).decode("ascii"), None,
                field=_field("certificateId"), password_field=_field("keyPassword"),
            )[0]
        leaf = pem.parse_certificate_chain(version.certificate_pem, field=_field("version")).leaf
        return key if trust.prove_key_possession(key, leaf) else None

    async def fetch(self, token: str) -> Bundle:
        """The one use of a URL: built now, then the grant (and its sealed password) is
        gone. Raises DownloadNotFound (404) or DownloadGone (410)."""
        grant_id = self._store.id_of(token)
        if grant_id is None:
            raise DownloadNotFound()
        grant = await self._store.get(grant_id)
        now = self._clock.now()
        if grant is None:
            if await self._store.was_consumed(grant_id):
                raise DownloadGone()
            raise DownloadNotFound()
        if now >= grant.expires_at:
            await self._store.consume(grant, now)  # so that it answers 410 again, not 404
            await self._store.delete(grant_id)
            raise DownloadGone()
        if not await self._store.consume(grant, now):
            raise DownloadGone()
        try:
            return await self._build(grant)
        finally:
            await self._store.delete(grant_id)

    async def _build(self, grant: DownloadGrant) -> Bundle:
        certificate = await self._certificates.get_in_account(grant.account, grant.certificate_id)
        version = next((v for v in certificate.versions if v.serial_number == grant.serial_number), None) \
            if certificate else None
        if certificate is None or version is None:
            raise DownloadNotFound()
        password = (
            self._sealer.open(grant.sealed_password, context=f"download:{grant.id}").decode()
            if grant.sealed_password is not None else None
        )
        key = None
        if grant.include_key:
            try:
                key = await self._held_key(certificate, version, password)
            except DomainError:
                key = None
            if key is None:  # the key changed since the URL was made: do not hand out another
                raise DownloadNotFound()
        content = await self._writer.build(
            grant.format,
            certificate_pem=version.certificate_pem,
            chain_pem=version.chain_pem,
            private_key=key,
            password=password,
            alias=certificate.domain.replace("*", "wildcard").lower(),
        )
        return Bundle(file_name=grant.file_name, content=content)

    async def purge(self) -> int:
        """The sweep's part: an unused grant's sealed password goes when the URL expires."""
        now = self._clock.now()
        return await self._store.purge(expired_before=now, used_before=now - USE_RECORD_RETENTION)
