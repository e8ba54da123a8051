"""`certreissue demo`: accounts, tokens and certificates of all four flows (DOMAIN.md),
several under one primary domain, so that every operation can be tried in GraphiQL.

The certificates are signed by the built-in CA under the intermediate of their brand,
with the policy OID of their level, and uploaded with their keys: R29 reads brand, level
and organization from them, and they are trusted imports (R27). Order facts (free,
years purchased) are set as an operator would (R29). R18's automatic validation is a fact
the service finds (a DNS provider of the account covering the domain, its last check
passed): the demo records such a provider for example.com as checked, since example.com is
a documentation domain whose real servers take no updates, so no probe could pass. The
preview shows the waiver; a submission checks the provider again, which fails here."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric import ec

from domain import x509 as pem
from domain.certificates import SetOrderFacts, UploadCertificate
from domain.model import Brand, Caller, CertificateFilter, Role, ValidationLevel, ValidationMethod

DEMO_ACCOUNT = "demo"
OTHER_ACCOUNT = "demo-other"
DEMO_OPERATOR = Caller(account=None, role=Role.OPERATOR, token_id="demo-loader")


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
    note: str = ""


CATALOGUE = [
    DemoCertificate("shop.example.com", Brand.SECTIGO, ValidationLevel.DV, note="PAID_DV: DNS validation"),
    DemoCertificate("www.example.com", Brand.GEOTRUST, ValidationLevel.DV, note="PAID_DV, same primary domain"),
    DemoCertificate(
        "*.example.com", Brand.TRUSTASIA, ValidationLevel.DV, purchased_years=2,
        note="PAID_DV, TrustAsia 2-year wildcard, example.com's DNS provider (R18 waiver)",
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
    """A certificate of `entry`'s brand and level, valid as long as a CA may issue today
    (R30), so that a reissue keeps its notAfter (R5)."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = pem.build_csr(key, entry.domain, entry.organization)
    issued_at = services.clock.now() - timedelta(days=entry.issued_days_ago)
    days = services.settings.validity_schedule.max_days(issued_at)
    signed = await services.authority.sign(
        csr, entry.domain, issued_at.replace(microsecond=0) + timedelta(days=days) - timedelta(seconds=1), issued_at,
        brand=entry.brand, level=entry.level, organization=entry.organization,
    )
    return signed, csr, pem.private_key_pkcs8(key, None).decode()


async def upload_entry(services, owner: Caller, entry: DemoCertificate):
    """Uploads a certificate made for `entry` with its key and CSR, then sets its order
    facts as an operator would; returns the certificate."""
    signed, csr, key_pem = await certificate_chain(services, entry)
    certificate = await services.certificates.upload(
        owner,
        UploadCertificate(
            certificate_pem=signed.certificate_pem + signed.chain_pem,
            private_key_pem=key_pem,
            csr_pem=csr,
            validation_method=entry.method,
        ),
    )
    if entry.free or entry.purchased_years != 1:
        certificate = await services.certificates.set_order_facts(
            DEMO_OPERATOR,
            SetOrderFacts(
                certificate.id,
                is_free=entry.free or None,
                purchased_years=entry.purchased_years if entry.purchased_years != 1 else None,
            ),
        )
    return certificate


DEMO_ZONE = "example.com"


async def demo_dns_provider(services) -> None:
    """example.com's DNS provider for account demo, recorded as checked (see the module's
    text): the documentation address 192.0.2.53, a random key nobody holds."""
    from adapters.mongo_auto_validation import MongoDnsProviderStore
    from adapters.sealing import AesGcmSealer, load_or_create_master_key
    from domain.auto_validation import DnsProvider, provider_context

    store = MongoDnsProviderStore(services.database)
    sealer = AesGcmSealer(load_or_create_master_key(services.settings.data_dir, services.settings.master_key))
    provider_id, now = store.new_id(), services.clock.now()
    await store.save(DnsProvider(
        id=provider_id, account=DEMO_ACCOUNT, zone=DEMO_ZONE, server="192.0.2.53", port=53,
        key_name="demo-key", algorithm="hmac-sha256",
        sealed_secret=sealer.seal(os.urandom(32), context=provider_context(DEMO_ACCOUNT, provider_id)),
        created_at=now, checked_at=now, check_ok=True,
    ))


TOKENS = (
    (DEMO_ACCOUNT, Role.OWNER),
    (DEMO_ACCOUNT, Role.VIEWER),
    (None, Role.REVIEWER),
    (None, Role.OPERATOR),
    (OTHER_ACCOUNT, Role.OWNER),
)


DEMO_ACCOUNTS = (DEMO_ACCOUNT, OTHER_ACCOUNT)


async def reset_demo(services) -> None:
    """Deletes what the demo accounts hold: certificates, reissues with their event slots,
    reminders, locks and idempotency keys, verifications and account tokens."""
    db = services.database.db
    accounts = {"$in": list(DEMO_ACCOUNTS)}
    reissue_ids = [d["_id"] for d in await db.reissues.find({"account": accounts}, {"_id": 1}).to_list()]
    for collection, query in (
        (db.reissue_transitions, {"reissueId": {"$in": reissue_ids}}),
        (db.reissue_reminders, {"reissueId": {"$in": reissue_ids}}),
        (db.reissue_locks, {"reissueId": {"$in": reissue_ids}}),
        (db.idempotency_keys, {"reissueId": {"$in": reissue_ids}}),
        (db.reissues, {"account": accounts}),
        (db.certificates, {"account": accounts}),
        (db.domain_verifications, {"account": accounts}),
        (db.api_tokens, {"account": accounts}),
        (db.dns_providers, {"account": accounts}),
        (db.webroots, {"account": accounts}),
    ):
        await collection.delete_many(query)


async def load_demo(services, *, reset: bool = False) -> list[tuple[str | None, str, str]]:
    """Creates the demo accounts and certificates once (a second run keeps them, `reset`
    starts them afresh) and new tokens."""
    if reset:
        await reset_demo(services)
    for account in DEMO_ACCOUNTS:
        await services.accounts.create(account, services.clock.now())
    owner = Caller(DEMO_ACCOUNT, Role.OWNER)
    existing = await services.certificates.list(owner, CertificateFilter(), first=1, after=None)
    if existing.total_count == 0:
        for entry in CATALOGUE:
            await upload_entry(services, owner, entry)
        other_entry = DemoCertificate("secret.example.com", Brand.SECTIGO, ValidationLevel.DV)
        await upload_entry(services, Caller(OTHER_ACCOUNT, Role.OWNER), other_entry)
        await demo_dns_provider(services)
    now = services.clock.now()
    tokens = []
    for account, role in TOKENS:
        token, _ = await services.tokens.create(account, role, now=now, expires_at=now + timedelta(days=90))
        tokens.append((account, role.value, token))
    return tokens


def print_demo_tokens(tokens, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    print(
        f"Demo data loaded. Open the web console, http://{host}:{port}/console, and paste a token; or\n"
        f"open GraphiQL, http://{host}:{port}/graphql, and set the request header:\n"
    )
    for account, role, token in tokens:
        who = f"account {account}" if account else "staff"
        print(f"  {who:<18} {role:<9} {{\"Authorization\": \"Bearer {token}\"}}")
    print("\nCertificates of account 'demo':")
    for entry in CATALOGUE:
        print(f"  {entry.domain:<18} {entry.note}")
    print("\nStaff tokens (reviewer, operator) belong to no account: they work through reviewQueue.")
