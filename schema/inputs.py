"""GraphQL input types of the contract, and their conversion to domain commands."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain import model, reissues
from domain.certificates import SetOrderFacts, UploadCertificate
from domain.rules import ReissueRequest
from domain.downloads import CreateDownload
from schema.types import (
    CertificateStatus,
    CsrSource,
    DownloadFormat,
    KeyAlgorithm,
    ReissueStatus,
    ValidationMethod,
)


@strawberry.input
class CertificateFilter:
    status: CertificateStatus | None = None
    primary_domain: str | None = None
    domain_contains: str | None = strawberry.field(default=None, description="Substring match on the bound domain.")
    expires_before: datetime | None = None

    def to_domain(self) -> model.CertificateFilter:
        return model.CertificateFilter(
            status=self.status,
            primary_domain=self.primary_domain,
            domain_contains=self.domain_contains,
            expires_before=self.expires_before,
        )


@strawberry.input
class ReissueFilter:
    status: ReissueStatus | None = None
    certificate_id: strawberry.ID | None = None


@strawberry.input
class UploadCertificateInput:
    """What the certificate cannot prove is not asked: brand, level and organization are read
    from it (R29); order facts are the operator's (setOrderFacts)."""

    certificate_pem: str = strawberry.field(description="Leaf first, then any intermediates.")
    private_key_pem: str | None = strawberry.field(
        default=None, description="The certificate's private key; proves possession (keyVerified, R27)."
    )
    private_key_password: str | None = None
    csr_pem: str | None = strawberry.field(
        default=None, description="The CSR the certificate was issued from, if kept; enables CSR source ORIGINAL."
    )
    validation_method: ValidationMethod = strawberry.field(
        default=model.ValidationMethod.DNS,
        description="How domain control was validated when the certificate was applied for (R16).",
    )

    def to_domain(self) -> UploadCertificate:
        return UploadCertificate(
            certificate_pem=self.certificate_pem,
            private_key_pem=self.private_key_pem,
            private_key_password=self.private_key_password,
            csr_pem=self.csr_pem,
            validation_method=self.validation_method,
        )


@strawberry.input(description="Order facts the certificate cannot show (R29); operator role.")
class SetOrderFactsInput:
    certificate_id: strawberry.ID
    is_free: bool | None = None
    purchased_years: int | None = strawberry.field(
        default=None, description="Validity purchased, in years (R18 looks for 2 or 3)."
    )
    auto_validation_configured: bool | None = strawberry.field(
        default=None,
        description="Refused: R18's fact now comes from the account's configured DNS providers.",
        deprecation_reason="Automatic validation is found from configured DNS providers (configureDnsProvider).",
    )

    def to_domain(self) -> SetOrderFacts:
        return SetOrderFacts(
            certificate_id=str(self.certificate_id),
            is_free=self.is_free,
            purchased_years=self.purchased_years,
            auto_validation_configured=self.auto_validation_configured,
        )


@strawberry.input
class RequestReissueInput:
    certificate_id: strawberry.ID
    csr_source: CsrSource = reissues.CsrSource.ORIGINAL
    csr_pem: str | None = strawberry.field(default=None, description="Required when csrSource is UPLOAD.")
    domain: str | None = strawberry.field(
        default=None, description="Defaults to the certificate's bound domain (R7)."
    )
    key_algorithm: KeyAlgorithm | None = strawberry.field(
        default=None, description="ONLINE only; defaults to the certificate's current algorithm and parameter."
    )
    key_parameter: str | None = None
    private_key_password: str | None = strawberry.field(default=None, description="ONLINE only (R9).")
    reason: str | None = None
    organization_name: str | None = strawberry.field(
        default=None,
        description="OV/EV: the organization for this re-application; defaults to the one on file. "
        "A different one needs manual review (R13).",
    )
    validation_method: ValidationMethod | None = strawberry.field(
        default=None, description="Defaults to the certificate's original method; free DV may not change it (R11)."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Same key and same input from the same account: the first result comes back and nothing "
        "is done twice. Same key, different input: IDEMPOTENCY_KEY_REUSED.",
    )

    def to_domain(self) -> ReissueRequest:
        return ReissueRequest(
            certificate_id=str(self.certificate_id),
            csr_source=self.csr_source,
            csr_pem=self.csr_pem,
            domain=self.domain,
            key_algorithm=self.key_algorithm,
            key_parameter=self.key_parameter,
            private_key_password=self.private_key_password,
            reason=self.reason,
            organization_name=self.organization_name,
            validation_method=self.validation_method,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input
class CreateDownloadInput:
    certificate_id: strawberry.ID
    format: DownloadFormat
    version: int | None = strawberry.field(
        default=None, description="CertificateVersion.version; the current version when left out."
    )
    key_password: str | None = strawberry.field(
        default=None,
        description="TOMCAT and IIS: the key store's password (required). NGINX and APACHE: encrypts privkey.pem "
        "with it. A password-protected key held by the service needs its own password here. Never stored or "
        "logged: sealed until the one fetch.",
    )

    def to_domain(self) -> CreateDownload:
        return CreateDownload(
            certificate_id=str(self.certificate_id), format=self.format, version=self.version,
            key_password=self.key_password,
        )
