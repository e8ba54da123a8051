"""`certreissue demo`: accounts, tokens and certificates of all four flows (DOMAIN.md),
several under one primary domain, so that every operation can be tried in GraphiQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric import ec

from domain import x509 as pem
from domain.certificates import UploadCertificate
from domain.model import Brand, Caller, CertificateFilter, Role, ValidationLevel, ValidationMethod

DEMO_ACCOUNT = "demo"
OTHER_ACCOUNT = "demo-other"


@dataclass(frozen=True)
class DemoCertificate:
    domain: str
    brand: Brand
    level: ValidationLevel
    free: bool = False
    method: ValidationMethod = ValidationMethod.DNS
    organization: str | None = None
    issued_days_ago: int = 10
    purchased_years: int = 1
    auto_validation: bool = False
    note: str = ""


CATALOGUE = [
    DemoCertificate("shop.example.com", Brand.SECTIGO, ValidationLevel.DV, note="PAID_DV: DNS validation"),
    DemoCertificate("www.example.com", Brand.GEOTRUST, ValidationLevel.DV, note="PAID_DV, same primary domain"),
    DemoCertificate(
        "*.example.com", Brand.TRUSTASIA, ValidationLevel.DV, purchased_years=2, auto_validation=True,
        note="PAID_DV, TrustAsia 2-year wildcard with auto validation (R18 waiver)",
    ),
    DemoCertificate("blog.example.org", Brand.TRUSTASIA, ValidationLevel.DV, free=True, note="FREE_DV"),
    DemoCertificate(
        "corp.example.net", Brand.WOTRUS, ValidationLevel.OV, organization="Example Corp",
        note="ORGANIZATION_WOTRUS_DNSPOD: manual review when the organization changes",
    ),
    DemoCertificate(
        "pay.example.net", Brand.DIGICERT, ValidationLevel.EV, organization="Example Payments",
        note="ORGANIZATION_OTHER_BRAND: the CA's offline check",
    ),
]


async def certificate_chain(services, entry: DemoCertificate):
    key = ec.generate_private_key(ec.SECP256R1())
    csr = pem.build_csr(key, entry.domain, entry.organization)
    now = services.clock.now()
    issued_at = now - timedelta(days=entry.issued_days_ago)
    signed = await services.authority.sign(csr, entry.domain, issued_at + timedelta(days=365), issued_at)
    return signed, csr, pem.private_key_pkcs8(key, None).decode()


async def _upload(services, owner: Caller, entry: DemoCertificate) -> None:
    signed, csr, key_pem = await certificate_chain(services, entry)
    await services.certificates.upload(
        owner,
        UploadCertificate(
            certificate_pem=signed.certificate_pem + signed.chain_pem,
            brand=entry.brand,
            validation_level=entry.level,
            private_key_pem=key_pem,
            csr_pem=csr,
            is_free=entry.free,
            validation_method=entry.method,
            organization_name=entry.organization,
            auto_validation_configured=entry.auto_validation,
            purchased_years=entry.purchased_years,
        ),
    )


async def load_demo(services) -> list[tuple[str, list[str], str]]:
    """Creates the demo certificates once (a second run keeps them) and new tokens."""
    owner = Caller(DEMO_ACCOUNT, frozenset({Role.OWNER}))
    existing = await services.certificates.list(owner, CertificateFilter(), first=1, after=None)
    if existing.total_count == 0:
        for entry in CATALOGUE:
            await _upload(services, owner, entry)
        other_entry = DemoCertificate("secret.example.com", Brand.SECTIGO, ValidationLevel.DV)
        await _upload(services, Caller(OTHER_ACCOUNT, frozenset({Role.OWNER})), other_entry)
    now = services.clock.now()
    tokens = []
    for account, roles in (
        (DEMO_ACCOUNT, [Role.OWNER]),
        (DEMO_ACCOUNT, [Role.REVIEWER]),
        (DEMO_ACCOUNT, [Role.OPERATOR]),
        (OTHER_ACCOUNT, [Role.OWNER]),
    ):
        token = await services.tokens.create(account, roles, now=now)
        tokens.append((account, [r.value for r in roles], token))
    return tokens


def print_demo_tokens(tokens, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    print(f"Demo data loaded. Open http://{host}:{port}/graphql and set the request header:\n")
    for account, roles, token in tokens:
        print(f"  {account:<11} {'+'.join(roles):<9} {{\"Authorization\": \"Bearer {token}\"}}")
    print("\nCertificates of account 'demo':")
    for entry in CATALOGUE:
        print(f"  {entry.domain:<18} {entry.note}")
