"""The generated data set, loaded through the service's own code paths.

* The throughput account (`bench`): every certificate is uploaded with
  CertificateService.upload (real X.509 chains, keys and CSRs made here), and a few
  reissues are requested with ReissueService.request so nested fields have data.
* The scale account: certificates built as domain objects and inserted in bulk in the
  service's own document format (adapters.mongo.certificate_to_doc), from a small pool of
  real certificates with distinct IDs, fingerprints and serial numbers.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bson import ObjectId
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters.mongo import CERTIFICATE_ID_PREFIX, certificate_to_doc
from certreissue.bootstrap import Services
from certreissue.demo import DemoCertificate, upload_entry
from domain.model import (
    Brand,
    Caller,
    Certificate,
    CertificateStatus,
    CertificateVersion,
    KeyAlgorithm,
    Role,
    ValidationLevel,
    ValidationMethod,
)
from domain.rules import ReissueRequest

BENCH_ACCOUNT = "bench"
SCALE_ACCOUNT = "scale"
CYCLE_DOMAINS = 200
PAGE_CERTIFICATES = 60
PAGE_ZONES = 12
ACTIVE_REISSUES = 6


def _name(cn: str | None, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


class Authority:
    """A throwaway intermediate CA that signs the generated certificates."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name("Bench Intermediate CA", "certreissue bench"))
            .issuer_name(_name("Bench Intermediate CA", "certreissue bench"))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=3000))
            .not_valid_after(now + timedelta(days=3000))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def issue(self, domain: str, *, org: str | None = None, issued_days_ago: float = 10, days: int = 365) -> dict:
        """A leaf for `domain` (EC P-256), its chain, key and CSR, as PEM text."""
        key = ec.generate_private_key(ec.SECP256R1())
        not_before = datetime.now(UTC) - timedelta(days=issued_days_ago)
        subject = _name(domain, org)
        san = x509.SubjectAlternativeName([x509.DNSName(domain)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_before + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(san, critical=False)
            .sign(self.key, hashes.SHA256())
        )
        csr = x509.CertificateSigningRequestBuilder().subject_name(subject).add_extension(san, critical=False).sign(
            key, hashes.SHA256()
        )
        leaf = cert.public_bytes(serialization.Encoding.PEM).decode()
        return {
            "chain_pem": leaf + self.pem,
            "key_pem": key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode(),
            "csr_pem": csr.public_bytes(serialization.Encoding.PEM).decode(),
        }


@dataclass
class BenchData:
    """What the scenarios need to know about the loaded throughput account."""

    token: str
    certificate_ids: list[str] = field(default_factory=list)  # every certificate of the account
    page_ids: list[str] = field(default_factory=list)  # the newest: the first page, mixed flows
    cycle_ids: list[str] = field(default_factory=list)  # one per primary domain, ORGANIZATION_OTHER_BRAND
    active_reissues: int = 0

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


# The page certificates: every flow, several certificates per primary domain.
_PAGE_KINDS = [
    # (brand, level, free, method, org)
    (Brand.SECTIGO, ValidationLevel.DV, False, ValidationMethod.DNS, None),
    (Brand.TRUSTASIA, ValidationLevel.DV, True, ValidationMethod.DNS, None),
    (Brand.WOTRUS, ValidationLevel.OV, False, ValidationMethod.DNS, "Bench Org Ltd"),
    (Brand.DIGICERT, ValidationLevel.OV, False, ValidationMethod.FILE, "Bench Org Ltd"),
    (Brand.GEOTRUST, ValidationLevel.EV, False, ValidationMethod.DNS, "Bench Org Ltd"),
]


async def load_bench_account(services: Services, *, cycle_domains: int = CYCLE_DOMAINS) -> BenchData:
    """Uploads the throughput account: `cycle_domains` OV certificates of another brand,
    one per primary domain (the reissue cycle), then the newest PAGE_CERTIFICATES of mixed
    flows under PAGE_ZONES primary domains, ACTIVE_REISSUES of them with a reissue pending."""
    owner = Caller(account=BENCH_ACCOUNT, role=Role.OWNER)
    now = services.clock.now()
    token, _ = await services.tokens.create(BENCH_ACCOUNT, Role.OWNER, now=now, expires_at=now + timedelta(days=30))
    data = BenchData(token=token)

    async def upload(domain: str, brand, level, free, method, org) -> str:
        # Signed by the built-in CA under the brand's intermediate with the level's policy
        # (R29 reads them back), uploaded with its key: a trusted import (R27).
        entry = DemoCertificate(domain, brand, level, free=free, method=method, organization=org)
        return (await upload_entry(services, owner, entry)).id

    for i in range(cycle_domains):
        cid = await upload(
            f"www.cycle{i:04d}.com", Brand.DIGICERT, ValidationLevel.OV, False, ValidationMethod.DNS, "Bench Org Ltd"
        )
        data.cycle_ids.append(cid)
    digicert_page: list[str] = []
    for i in range(PAGE_CERTIFICATES):
        kind = _PAGE_KINDS[i % len(_PAGE_KINDS)]
        cid = await upload(f"h{i:03d}.zone{i % PAGE_ZONES:02d}.com", *kind)
        data.page_ids.append(cid)
        if kind[0] == Brand.DIGICERT:
            digicert_page.append(cid)
    # Pending reissues (PENDING_CA_VERIFICATION) on some page certificates: their siblings
    # under the same primary domain are PRIMARY_DOMAIN_LOCKED, they are REISSUE_IN_PROGRESS.
    for cid in digicert_page[-ACTIVE_REISSUES:]:
        await services.reissues.request(owner, ReissueRequest(certificate_id=cid, reason="bench: pending"))
        data.active_reissues += 1
    data.certificate_ids = data.cycle_ids + data.page_ids
    return data


def scale_account(index: int, accounts: int) -> str:
    """The scale test's account of certificate `index`: one account, or `accounts` of them
    taking turns (so every account's certificates are spread over the whole collection)."""
    return SCALE_ACCOUNT if accounts <= 1 else f"{SCALE_ACCOUNT}-{index % accounts:05d}"


async def load_scale_account(
    services: Services, count: int, *, accounts: int = 1, batch: int = 1000, progress=None
) -> list[str]:
    """`count` certificates in the service's document format: all in one account, or spread
    round-robin over `accounts` accounts (`scale_account`). Returns the IDs of the first
    account's (SCALE_ACCOUNT's, or `scale-00000`'s) certificates, newest first (the order
    the API lists them in)."""
    ca = Authority()
    pool = []
    for i in range(16):
        issued = ca.issue(f"pool{i}.scale-example.com", org="Scale Org")
        pool.append(issued)
    now = datetime.now(UTC)
    not_before = (now - timedelta(days=10)).replace(microsecond=0)
    not_after = not_before + timedelta(days=365)
    ids: list[str] = []
    collection = services.database.certificates
    for start in range(0, count, batch):
        docs = []
        for i in range(start, min(start + batch, count)):
            issued = pool[i % len(pool)]
            leaf, _, chain = issued["chain_pem"].partition("-----END CERTIFICATE-----\n")
            fingerprint = hashlib.sha256(f"scale-{i}".encode()).hexdigest()
            version = CertificateVersion(
                serial_number=f"{i + 1:032x}",
                fingerprint_sha256=fingerprint,
                not_before=not_before,
                not_after=not_after,
                key_algorithm=KeyAlgorithm.ECC,
                key_parameter="prime256v1",
                issued_at=not_before,
                certificate_pem=leaf + "-----END CERTIFICATE-----\n",
                chain_pem=chain,
            )
            zone = f"zone{i % 5000:04d}.com"
            certificate = Certificate(
                id=CERTIFICATE_ID_PREFIX + str(ObjectId()),
                account=scale_account(i, accounts),
                domain=f"h{i}.{zone}",
                subject_alt_names=(f"h{i}.{zone}",),
                primary_domain=zone,
                brand=Brand.SECTIGO,
                validation_level=ValidationLevel.DV,
                is_free=False,
                status=CertificateStatus.ISSUED,
                validation_method=ValidationMethod.DNS,
                organization_name=None,
                reissue_count=0,
                versions=(version,),
                private_key=None,
                csr_pem=issued["csr_pem"],
                created_at=now,
            )
            docs.append(certificate_to_doc(certificate))
            if certificate.account == scale_account(0, accounts):
                ids.append(certificate.id)
        await collection.insert_many(docs, ordered=False)
        if progress:
            progress(min(start + batch, count))
    ids.sort(reverse=True)  # the API's order: _id descending
    return ids
