"""MongoDB through PyMongo's AsyncMongoClient: the database, its indexes, the repositories.

Works against real MongoDB and against FerretDB 1.24 (OPERATIONS.md): only top-level
indexes, no TTL, no transactions, and mutual exclusion only through unique keys.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from datetime import datetime

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.errors import DuplicateKeyError, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from domain.pagination import decode_cursor
from domain.model import (
    Brand,
    Caller,
    Certificate,
    CertificateFilter,
    CertificateStatus,
    CertificateVersion,
    KeyAlgorithm,
    Page,
    PrivateKeyStorage,
    Role,
    StoredPrivateKey,
    ValidationLevel,
    ValidationMethod,
)
from domain.ports import CertificateRepository, DuplicateCertificate, TokenStore

CERTIFICATE_ID_PREFIX = "crt_"


class Database:
    """One AsyncMongoClient and the collections the service uses."""

    def __init__(self, uri: str, name: str, *, timeout_ms: int = 5000, **client_options) -> None:
        self.client: AsyncMongoClient = AsyncMongoClient(
            uri,
            tz_aware=True,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            socketTimeoutMS=max(timeout_ms * 2, 10_000),
            appname="certreissue",
            **client_options,
        )
        # Majority concerns: on a replica set a failover cannot undo an acknowledged
        # lock or status write, nor let a decision read an unacknowledged one (R3).
        self.db = self.client.get_database(
            name,
            write_concern=WriteConcern(w="majority"),
            read_concern=ReadConcern("majority"),
        )
        self.certificates = self.db["certificates"]
        self.tokens = self.db["api_tokens"]

    async def ping(self) -> bool:
        try:
            await self.client.admin.command("ping")
            return True
        except PyMongoError:
            return False

    async def ensure_indexes(self) -> None:
        """Idempotent: creating an index that exists with the same spec is a no-op."""
        await self.certificates.create_index(
            [("account", ASCENDING), ("fingerprintSha256", ASCENDING)],
            unique=True,
            name="account_fingerprint_unique",
        )
        await self.certificates.create_index(
            [("account", ASCENDING), ("_id", DESCENDING)], name="account_id"
        )
        await self.certificates.create_index(
            [("account", ASCENDING), ("primaryDomain", ASCENDING), ("_id", DESCENDING)],
            name="account_primary_domain_id",
        )
        await self.tokens.create_index([("account", ASCENDING)], name="account")

    async def close(self) -> None:
        await self.client.close()


# -- certificates ---------------------------------------------------------------------


def _version_to_doc(v: CertificateVersion) -> dict:
    return {
        "serialNumber": v.serial_number,
        "fingerprintSha256": v.fingerprint_sha256,
        "notBefore": v.not_before,
        "notAfter": v.not_after,
        "keyAlgorithm": v.key_algorithm.value,
        "keyParameter": v.key_parameter,
        "issuedAt": v.issued_at,
        "certificatePem": v.certificate_pem,
        "chainPem": v.chain_pem,
        "supersededAt": v.superseded_at,
    }


def _version_from_doc(d: dict) -> CertificateVersion:
    return CertificateVersion(
        serial_number=d["serialNumber"],
        fingerprint_sha256=d["fingerprintSha256"],
        not_before=d["notBefore"],
        not_after=d["notAfter"],
        key_algorithm=KeyAlgorithm(d["keyAlgorithm"]),
        key_parameter=d["keyParameter"],
        issued_at=d["issuedAt"],
        certificate_pem=d["certificatePem"],
        chain_pem=d["chainPem"],
        superseded_at=d.get("supersededAt"),
    )


def certificate_to_doc(c: Certificate) -> dict:
    current = c.current
    return {
        "_id": c.id,
        "account": c.account,
        "domain": c.domain,
        "subjectAltNames": list(c.subject_alt_names),
        "primaryDomain": c.primary_domain,
        "brand": c.brand.value,
        "validationLevel": c.validation_level.value,
        "isFree": c.is_free,
        "status": c.status.value,
        "validationMethod": c.validation_method.value,
        "organizationName": c.organization_name,
        "reissueCount": c.reissue_count,
        # The current version's facts stay top-level: FerretDB indexes no nested field.
        "fingerprintSha256": current.fingerprint_sha256,
        "serialNumber": current.serial_number,
        "notAfter": current.not_after,
        "versions": [_version_to_doc(v) for v in c.versions],
        "privateKey": (
            {"storage": c.private_key.storage.value, "data": c.private_key.data}
            if c.private_key
            else None
        ),
        "csrPem": c.csr_pem,
        "autoValidationConfigured": c.auto_validation_configured,
        "purchasedYears": c.purchased_years,
        "createdAt": c.created_at,
        "chainTrusted": c.chain_trusted,
    }


def certificate_from_doc(d: dict) -> Certificate:
    key = d.get("privateKey")
    return Certificate(
        id=d["_id"],
        account=d["account"],
        domain=d["domain"],
        subject_alt_names=tuple(d.get("subjectAltNames") or ()),
        primary_domain=d["primaryDomain"],
        brand=Brand(d["brand"]),
        validation_level=ValidationLevel(d["validationLevel"]),
        is_free=bool(d["isFree"]),
        status=CertificateStatus(d["status"]),
        validation_method=ValidationMethod(d["validationMethod"]),
        organization_name=d.get("organizationName"),
        reissue_count=int(d.get("reissueCount") or 0),
        versions=tuple(_version_from_doc(v) for v in d["versions"]),
        private_key=(
            StoredPrivateKey(PrivateKeyStorage(key["storage"]), bytes(key["data"])) if key else None
        ),
        csr_pem=d.get("csrPem"),
        auto_validation_configured=bool(d.get("autoValidationConfigured")),
        purchased_years=int(d.get("purchasedYears") or 1),
        created_at=d.get("createdAt"),
        chain_trusted=bool(d.get("chainTrusted", False)),
    )


class MongoCertificateRepository(CertificateRepository):
    def __init__(self, database: Database) -> None:
        self._col = database.certificates

    def new_id(self) -> str:
        # ObjectIds grow with time: newest-first pagination sorts on _id alone.
        return CERTIFICATE_ID_PREFIX + str(ObjectId())

    async def add(self, certificate: Certificate) -> None:
        try:
            await self._col.insert_one(certificate_to_doc(certificate))
        except DuplicateKeyError as exc:
            existing = await self._col.find_one(
                {"account": certificate.account, "fingerprintSha256": certificate.current.fingerprint_sha256},
                {"_id": 1},
            )
            raise DuplicateCertificate(existing["_id"] if existing else None) from exc

    async def get(self, account: str, certificate_id: str) -> Certificate | None:
        # By _id alone, the account checked here: FerretDB's SQLite backend pushes down
        # only a filter that is `_id` equality (any other filter scans the collection).
        doc = await self._col.find_one({"_id": certificate_id})
        return certificate_from_doc(doc) if doc and doc["account"] == account else None

    async def replace_current(self, certificate: Certificate, *, expected_serial: str) -> bool:
        result = await self._col.replace_one(
            {"_id": certificate.id, "serialNumber": expected_serial}, certificate_to_doc(certificate)
        )
        return result.matched_count == 1

    async def get_many(self, account: str, ids: Sequence[str]) -> dict[str, Certificate]:
        if not ids:
            return {}
        if len(set(ids)) == 1:
            found = await self.get(account, ids[0])
            return {found.id: found} if found else {}
        docs = await self._col.find({"_id": {"$in": list(set(ids))}, "account": account}).to_list()
        return {d["_id"]: certificate_from_doc(d) for d in docs}

    @staticmethod
    def _query(account: str, f: CertificateFilter, now: datetime, reissuing: Sequence[str]) -> dict:
        query: dict = {"account": account}
        if f.primary_domain is not None:
            query["primaryDomain"] = f.primary_domain
        if f.domain_contains:
            query["domain"] = {"$regex": re.escape(f.domain_contains)}
        not_after: dict = {}
        if f.expires_before is not None:
            not_after["$lt"] = f.expires_before
        if f.status is not None:
            if f.status == CertificateStatus.EXPIRED:
                query["status"] = CertificateStatus.ISSUED.value
                not_after["$lte"] = now
            elif f.status == CertificateStatus.ISSUED:
                query["status"] = CertificateStatus.ISSUED.value
                not_after["$gt"] = now
                query["_id"] = {"$nin": list(reissuing)}
            elif f.status == CertificateStatus.REISSUING:
                query["_id"] = {"$in": list(reissuing)}
            else:
                query["status"] = f.status.value
        if not_after:
            query["notAfter"] = not_after
        return query

    async def list(
        self,
        account: str,
        filter: CertificateFilter,
        *,
        first: int,
        after: str | None,
        now: datetime,
        reissuing: Sequence[str] = (),
        with_total: bool = True,
    ) -> Page:
        query = self._query(account, filter, now, reissuing)
        # Index-backed on MongoDB (account_id / account_primary_domain_id): the count reads
        # index keys only; skipped when the query does not select totalCount.
        total = await self._col.count_documents(query) if with_total else None
        page_query = dict(query)
        if after:
            page_query["_id"] = {**page_query.get("_id", {}), "$lt": decode_cursor(after, field=["after"], prefix=CERTIFICATE_ID_PREFIX)}
        # One more than asked for tells whether there is a next page (also for first: 0).
        docs = await self._col.find(page_query).sort("_id", DESCENDING).limit(first + 1).to_list()
        items = [certificate_from_doc(d) for d in docs[:first]]
        return Page(items=items, has_next_page=len(docs) > first, total_count=total)


# -- API tokens -----------------------------------------------------------------------

TOKEN_PREFIX = "crt1_"


class MongoTokenStore(TokenStore):
    """Tokens are 256 random bits; only HMAC-SHA256(token) under a key derived from the
    master key is stored, as the document's _id, so a database dump yields no token."""

    CACHE_SECONDS = 30.0
    CACHE_SIZE = 10_000

    def __init__(self, database: Database, hashing_key: bytes) -> None:
        self._col = database.tokens
        self._key = hashing_key
        # digest -> (caller, monotonic expiry): a known token costs no round trip for
        # CACHE_SECONDS. Unknown tokens are not cached (each costs a lookup).
        self._cache: dict[str, tuple[Caller, float]] = {}

    def _hash(self, token: str) -> str:
        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()

    async def create(self, account: str, roles: Iterable[Role], *, now: datetime | None = None) -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        await self._col.insert_one(
            {
                "_id": self._hash(token),
                "account": account,
                "roles": sorted({Role(r).value for r in roles}),
                "createdAt": now,
            }
        )
        return token

    async def authenticate(self, token: str) -> Caller | None:
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            return None
        digest = self._hash(token)
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        doc = await self._col.find_one({"_id": digest})
        # The lookup is by keyed hash; compare again in constant time all the same.
        if not doc or not hmac.compare_digest(doc["_id"], digest):
            return None
        caller = Caller(
            account=doc["account"],
            roles=frozenset(Role(r) for r in doc["roles"]),
            token_id=digest[:12],
        )
        if len(self._cache) >= self.CACHE_SIZE:
            self._cache.clear()
        self._cache[digest] = (caller, time.monotonic() + self.CACHE_SECONDS)
        return caller
