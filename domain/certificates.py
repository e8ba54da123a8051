"""Use cases for certificates: upload, read, list (issue 2). Calls ports only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.errors import ErrorCode, Forbidden, InvalidInput, NotFound
from domain.hostnames import normalize_hostname, primary_domain
from domain.model import (
    Brand,
    Caller,
    Certificate,
    CertificateFilter,
    CertificateStatus,
    CertificateVersion,
    Page,
    PrivateKeyStorage,
    Role,
    StoredPrivateKey,
    ValidationLevel,
    ValidationMethod,
)
from domain.ports import CertificateRepository, Clock, DuplicateCertificate, KeySealer
from domain.text import has_control_characters
from domain import x509 as pem

MAX_PAGE_SIZE = 100
MAX_ORGANIZATION_NAME = 200
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True)
class UploadCertificate:
    certificate_pem: str
    brand: Brand
    validation_level: ValidationLevel
    private_key_pem: str | None = None
    private_key_password: str | None = None
    csr_pem: str | None = None
    is_free: bool = False
    validation_method: ValidationMethod = ValidationMethod.DNS
    organization_name: str | None = None
    auto_validation_configured: bool = False
    purchased_years: int = 1


def require_role(caller: Caller, role: Role) -> None:
    """R26: a role that is missing is FORBIDDEN."""
    if not caller.has(role):
        raise Forbidden(f"this operation needs the {role.value} role; the token has "
                        f"{', '.join(sorted(r.value for r in caller.roles)) or 'no roles'}")


def _field(name: str) -> list[str]:
    return ["input", name]


def _check_upload_options(cmd: UploadCertificate) -> str | None:
    if cmd.is_free and cmd.validation_level != ValidationLevel.DV:
        raise InvalidInput(
            f"only DV certificates can be free; a {cmd.validation_level.value} certificate is paid",
            field=_field("isFree"),
        )
    if not 1 <= cmd.purchased_years <= 5:
        raise InvalidInput("purchasedYears must be between 1 and 5", field=_field("purchasedYears"))
    org = cmd.organization_name.strip() if cmd.organization_name else None
    if org is not None:
        if not org or len(org) > MAX_ORGANIZATION_NAME or has_control_characters(org):
            raise InvalidInput(
                f"organizationName must be 1-{MAX_ORGANIZATION_NAME} printable characters",
                field=_field("organizationName"),
            )
    if cmd.private_key_password is not None and len(cmd.private_key_password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput("privateKeyPassword is too long", field=_field("privateKeyPassword"))
    if cmd.private_key_password and not cmd.private_key_pem:
        raise InvalidInput(
            "privateKeyPassword was given without privateKeyPem", field=_field("privateKeyPassword")
        )
    return org


class CertificateService:
    def __init__(
        self,
        repository: CertificateRepository,
        sealer: KeySealer,
        clock: Clock,
        trust_roots: list | None = None,
    ) -> None:
        self._repository = repository
        self._sealer = sealer
        self._clock = clock
        self._trust_roots = list(trust_roots or [])

    async def upload(self, caller: Caller, cmd: UploadCertificate) -> Certificate:
        require_role(caller, Role.OWNER)
        organization = _check_upload_options(cmd)
        parsed = pem.parse_certificate_chain(cmd.certificate_pem, field=_field("certificatePem"))
        certificate_id = self._repository.new_id()

        stored_key = None
        if cmd.private_key_pem:
            key, encrypted = pem.load_private_key(
                cmd.private_key_pem,
                cmd.private_key_password,
                field=_field("privateKeyPem"),
                password_field=_field("privateKeyPassword"),
            )
            if pem.public_key_der(key.public_key()) != parsed.public_key_der:
                raise InvalidInput(
                    "the private key does not belong to this certificate (their public keys differ)",
                    code=ErrorCode.KEY_MISMATCH,
                    field=_field("privateKeyPem"),
                )
            if encrypted:
                # The owner's password protects it; we keep their encrypted PKCS#8 (R9).
                stored_key = StoredPrivateKey(
                    PrivateKeyStorage.PASSWORD, pem.private_key_pkcs8(key, cmd.private_key_password)
                )
            else:
                sealed = self._sealer.seal(pem.private_key_pkcs8(key, None), context=certificate_id)
                stored_key = StoredPrivateKey(PrivateKeyStorage.SEALED, sealed)

        csr_text = None
        if cmd.csr_pem:
            csr = pem.load_csr(cmd.csr_pem, field=_field("csrPem"))
            if pem.public_key_der(csr.public_key()) != parsed.public_key_der:
                raise InvalidInput(
                    "this CSR is not the one the certificate was issued from (their public keys differ)",
                    code=ErrorCode.KEY_MISMATCH,
                    field=_field("csrPem"),
                )
            csr_text = csr.public_bytes(pem.serialization.Encoding.PEM).decode("ascii")

        if cmd.validation_level != ValidationLevel.DV and not (organization or parsed.organization_name):
            raise InvalidInput(
                f"an {cmd.validation_level.value} certificate needs an organization: "
                "give organizationName (the certificate's subject has none)",
                field=_field("organizationName"),
            )

        now = self._clock.now()
        version = CertificateVersion(
            serial_number=parsed.serial_number,
            fingerprint_sha256=parsed.fingerprint_sha256,
            not_before=parsed.not_before,
            not_after=parsed.not_after,
            key_algorithm=parsed.key.algorithm,
            key_parameter=parsed.key.parameter,
            # The original issue time (R17 counts 3 days from it): notBefore is what the
            # CA wrote; an uploaded certificate carries nothing closer.
            issued_at=parsed.not_before,
            certificate_pem=parsed.certificate_pem,
            chain_pem=parsed.chain_pem,
        )
        certificate = Certificate(
            id=certificate_id,
            account=caller.account,
            domain=parsed.domain,
            subject_alt_names=parsed.subject_alt_names,
            primary_domain=primary_domain(parsed.domain, field=_field("certificatePem")),
            brand=cmd.brand,
            validation_level=cmd.validation_level,
            is_free=cmd.is_free,
            status=CertificateStatus.ISSUED,
            validation_method=cmd.validation_method,
            organization_name=organization or parsed.organization_name,
            reissue_count=0,
            versions=(version,),
            private_key=stored_key,
            csr_pem=csr_text,
            auto_validation_configured=cmd.auto_validation_configured,
            purchased_years=cmd.purchased_years,
            created_at=now,
            chain_trusted=pem.chain_is_trusted(parsed.certificate_pem + parsed.chain_pem, self._trust_roots),
        )
        try:
            await self._repository.add(certificate)
        except DuplicateCertificate as exc:
            raise InvalidInput(
                "this certificate is already uploaded"
                + (f" as {exc.existing_id}" if exc.existing_id else ""),
                field=_field("certificatePem"),
            ) from exc
        return certificate

    async def get(self, caller: Caller, certificate_id: str) -> Certificate | None:
        """R26: another account's certificate does not exist for the caller."""
        if not certificate_id:
            return None
        return await self._repository.get(caller.account, certificate_id)

    async def get_many(self, caller: Caller, ids: list[str]) -> dict[str, Certificate]:
        return await self._repository.get_many(caller.account, ids)

    async def require(self, caller: Caller, certificate_id: str, field: list[str]) -> Certificate:
        certificate = await self.get(caller, certificate_id)
        if certificate is None:
            raise NotFound(f"no certificate {certificate_id!r}", field=field)
        return certificate

    async def list(
        self,
        caller: Caller,
        filter: CertificateFilter,
        *,
        first: int,
        after: str | None,
        reissuing: list[str] | None = None,
        with_total: bool = True,
    ) -> Page:
        """`with_total=False` skips the count (a query that does not select totalCount)."""
        if first < 0:
            raise InvalidInput("first must not be negative", field=["first"])
        first = min(first, MAX_PAGE_SIZE)
        if filter.primary_domain is not None:
            filter = CertificateFilter(
                status=filter.status,
                primary_domain=primary_domain(filter.primary_domain, field=["filter", "primaryDomain"]),
                domain_contains=filter.domain_contains,
                expires_before=filter.expires_before,
            )
        if filter.domain_contains is not None:
            text = filter.domain_contains.strip().lower().rstrip(".")
            if len(text) > 253:
                raise InvalidInput("domainContains is too long", field=["filter", "domainContains"])
            try:
                text = normalize_hostname(text, field=["filter", "domainContains"]) if not text.isascii() else text
            except InvalidInput:
                pass
            filter = CertificateFilter(
                status=filter.status,
                primary_domain=filter.primary_domain,
                domain_contains=text,
                expires_before=filter.expires_before,
            )
        return await self._repository.list(
            caller.account, filter, first=first, after=after, now=self._clock.now(), reissuing=reissuing or (),
            with_total=with_total,
        )

    def private_key_pem(self, caller: Caller, certificate: Certificate) -> str | None:
        """The key as the owner may download it: the password-encrypted PKCS#8 when it
        was protected (R9), otherwise the PKCS#8 PEM unsealed for the owner."""
        if certificate.private_key is None or not caller.has(Role.OWNER):
            return None
        if certificate.private_key.storage == PrivateKeyStorage.PASSWORD:
            return certificate.private_key.data.decode("ascii")
        return self._sealer.open(certificate.private_key.data, context=certificate.id).decode("ascii")


