"""Plain-data factories for the pure unit tests: no database, no clock, no network.

Every factory takes keyword overrides; defaults describe an ordinary paid DV certificate
(TrustAsia, RSA 2048) issued long before `NOW` and valid for a year after it, imported
with a trusted chain and its private key (R27: its statements are evidence, R28).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from domain.model import (
    Brand,
    Certificate,
    CertificateStatus,
    CertificateVersion,
    KeyAlgorithm,
    Provenance,
    ValidationLevel,
    ValidationMethod,
)
from domain.reissues import CsrSource, Reissue, ReissueEvent, ReissueFlow, ReissueStatus
from domain.rules import CheckedRequest, ReissueRequest

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def make_version(**overrides) -> CertificateVersion:
    values = dict(
        serial_number="0A1B2C",
        fingerprint_sha256="AB" * 32,
        not_before=NOW - timedelta(days=100),
        not_after=NOW + timedelta(days=265),
        key_algorithm=KeyAlgorithm.RSA,
        key_parameter="2048",
        issued_at=NOW - timedelta(days=100),
        certificate_pem="-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n",
        chain_pem="",
        provenance=Provenance.IMPORTED,
        chain_trusted=True,
        key_verified=True,
    )
    values.update(overrides)
    return CertificateVersion(**values)


def make_certificate(*, version: CertificateVersion | None = None, **overrides) -> Certificate:
    """A certificate; `not_after`, `issued_at`, `key_algorithm`, `key_parameter` go to its
    current version."""
    version_fields = {f.name for f in dataclasses.fields(CertificateVersion)}
    version_overrides = {k: overrides.pop(k) for k in list(overrides) if k in version_fields}
    version = version or make_version(**version_overrides)
    values = dict(
        id="cert-1",
        account="acct-1",
        domain="www.example.com",
        subject_alt_names=("www.example.com", "api.example.com"),
        primary_domain="example.com",
        brand=Brand.TRUSTASIA,
        validation_level=ValidationLevel.DV,
        is_free=False,
        status=CertificateStatus.ISSUED,
        validation_method=ValidationMethod.DNS,
        organization_name=None,
        reissue_count=0,
        versions=(version,),
        private_key=None,
        csr_pem=None,
        auto_validation_configured=False,
        purchased_years=1,
        created_at=NOW - timedelta(days=100),
    )
    values.update(overrides)
    return Certificate(**values)


def free_dv(**overrides) -> Certificate:
    overrides.setdefault("is_free", True)
    overrides.setdefault("validation_level", ValidationLevel.DV)
    return make_certificate(**overrides)


def paid_dv(**overrides) -> Certificate:
    overrides.setdefault("is_free", False)
    overrides.setdefault("validation_level", ValidationLevel.DV)
    return make_certificate(**overrides)


def organization_cert(
    brand: Brand = Brand.WOTRUS, level: ValidationLevel = ValidationLevel.OV, **overrides
) -> Certificate:
    overrides.setdefault("organization_name", "Example Ltd")
    return make_certificate(brand=brand, validation_level=level, is_free=False, **overrides)


def make_request(**overrides) -> ReissueRequest:
    """A request; defaults to an ONLINE request with a reason (valid for every paid flow)."""
    values = dict(certificate_id="cert-1", csr_source=CsrSource.ONLINE, reason="key compromised")
    values.update(overrides)
    return ReissueRequest(**values)


def make_checked(certificate: Certificate, **overrides) -> CheckedRequest:
    values = dict(
        csr_source=CsrSource.ONLINE,
        domain=certificate.domain,
        key_algorithm=certificate.current.key_algorithm,
        key_parameter=certificate.current.key_parameter,
        private_key_password=None,
        reason="key compromised",
        organization_name=certificate.organization_name,
        validation_method=certificate.validation_method,
        csr_pem=None,
    )
    values.update(overrides)
    return CheckedRequest(**values)


def make_reissue(**overrides) -> Reissue:
    status = overrides.get("status", ReissueStatus.PENDING_DOMAIN_VALIDATION)
    values = dict(
        id="reissue-1",
        account="acct-1",
        certificate_id="cert-1",
        primary_domain="example.com",
        flow=ReissueFlow.PAID_DV,
        status=status,
        domain="www.example.com",
        csr_source=CsrSource.ONLINE,
        csr_pem="-----BEGIN CERTIFICATE REQUEST-----\nMA==\n-----END CERTIFICATE REQUEST-----\n",
        key_algorithm=KeyAlgorithm.RSA,
        key_parameter="2048",
        reason="key compromised",
        organization_name=None,
        private_key_protected=False,
        domain_validation_required=True,
        manual_review_required=False,
        waivers=(),
        domain_validation=None,
        events=(ReissueEvent(at=NOW - timedelta(hours=1), actor="owner", from_status=None, to_status=status),),
        created_at=NOW - timedelta(hours=1),
        updated_at=NOW - timedelta(hours=1),
        expires_at=NOW + timedelta(days=6),
        completed_at=None,
        private_key=None,
        reminded_at=None,
        reminder_count=0,
        issued_version=None,
    )
    values.update(overrides)
    return Reissue(**values)
