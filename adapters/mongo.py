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
from collections.abc import Sequence
from datetime import UTC, datetime

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
    OrderFactChange,
    Page,
    PrivateKeyStorage,
    Provenance,
    RevocationReason,
    Role,
    StoredPrivateKey,
    ValidationLevel,
    ValidationMethod,
)
from domain.ports import AccountRegistry, CertificateRepository, DuplicateCertificate, TokenStore
from domain.tokens import TokenRecord

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
        await self.tokens.create_index([("tokenId", ASCENDING)], name="token_id")
        await self.tokens.create_index([("kind", ASCENDING), ("account", ASCENDING)], name="kind_account")  # token list

    async def close(self) -> None:
        await self.client.close()


# -- certificates ---------------------------------------------------------------------


async def claim_leased_slot(collection, slot: str, holder: str, now: datetime, until: datetime) -> bool:
    """A right held by one process at a time: the unique `_id` `slot` decides (an insert, the
    one write every backend makes atomic). A claim whose holder died (past its `until`) is
    taken over by deleting exactly that claim, then inserting again."""
    for _ in range(2):
        try:
            await collection.insert_one({"_id": slot, "holder": holder, "at": now, "until": until})
            return True
        except DuplicateKeyError:
            taken = await collection.find_one({"_id": slot})
            if taken is None:
                continue
            expires = taken["until"] if taken["until"].tzinfo else taken["until"].replace(tzinfo=UTC)
            if expires > now:
                return False
            await collection.delete_one({"_id": slot, "holder": taken["holder"]})
    return False


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
        "provenance": v.provenance.value,
        "chainTrusted": v.chain_trusted,
        "keyVerified": v.key_verified,
        "chainUntrustedReason": v.chain_untrusted_reason,
        "issuedBy": v.issued_by,
        # revokedAt lives in the certificate's `revocations` map (record_revocation).
    }


def _version_from_doc(d: dict, revoked: dict | None = None) -> CertificateVersion:
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
        # A version stored before provenance was recorded is taken as an import with
        # nothing proven (R28: it earns no waiver until it is reissued here).
        provenance=Provenance(d.get("provenance") or Provenance.IMPORTED.value),
        chain_trusted=bool(d.get("chainTrusted", False)),
        key_verified=bool(d.get("keyVerified", False)),
        chain_untrusted_reason=d.get("chainUntrustedReason"),
        revoked_at=(revoked or {}).get("at"),
        revocation_reason=RevocationReason(revoked["reason"]) if revoked else None,
        issued_by=d.get("issuedBy"),
    )


def _private_key_to_doc(key: StoredPrivateKey | None) -> dict | None:
    return {"storage": key.storage.value, "data": key.data} if key else None


def _order_fact_to_doc(c: OrderFactChange) -> dict:
    return {"at": c.at, "actor": c.actor, "fact": c.fact, "old": c.old, "new": c.new}


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
        "privateKey": _private_key_to_doc(c.private_key),
        "csrPem": c.csr_pem,
        "autoValidationConfigured": c.auto_validation_configured,
        "purchasedYears": c.purchased_years,
        "createdAt": c.created_at,
        "orderFactChanges": [_order_fact_to_doc(x) for x in c.order_fact_changes],
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
        versions=tuple(
            _version_from_doc(v, (d.get("revocations") or {}).get(v["serialNumber"])) for v in d["versions"]
        ),
        private_key=(
            StoredPrivateKey(PrivateKeyStorage(key["storage"]), bytes(key["data"])) if key else None
        ),
        csr_pem=d.get("csrPem"),
        auto_validation_configured=bool(d.get("autoValidationConfigured")),
        purchased_years=int(d.get("purchasedYears") or 1),
        created_at=d.get("createdAt"),
        order_fact_changes=tuple(
            OrderFactChange(x["at"], x["actor"], x["fact"], x["old"], x["new"]) for x in d.get("orderFactChanges") or ()
        ),
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

    async def get(self, account: str | None, certificate_id: str) -> Certificate | None:
        # By _id alone, the account checked here: FerretDB's SQLite backend pushes down
        # only a filter that is `_id` equality (any other filter scans the collection).
        doc = await self._col.find_one({"_id": certificate_id})
        if doc is None or (account is not None and doc["account"] != account):
            return None
        return certificate_from_doc(doc)

    async def record_issuance(
        self,
        certificate_id: str,
        *,
        expected_serial: str,
        versions: Sequence[CertificateVersion],
        reissue_count: int,
        private_key: StoredPrivateKey | None,
        csr_pem: str | None,
        organization_name: str | None,
        domain: str,
        subject_alt_names: Sequence[str],
        primary_domain: str,
    ) -> bool:
        # $set of the fields an issuance changes only: an operator's order facts written
        # meanwhile are kept (a whole-document replace from an older read would undo them).
        current = versions[0]
        result = await self._col.update_one(
            {"_id": certificate_id, "serialNumber": expected_serial},
            {"$set": {
                "versions": [_version_to_doc(v) for v in versions],
                "fingerprintSha256": current.fingerprint_sha256,
                "serialNumber": current.serial_number,
                "notAfter": current.not_after,
                "reissueCount": reissue_count,
                "privateKey": _private_key_to_doc(private_key),
                "csrPem": csr_pem,
                "organizationName": organization_name,
                "domain": domain,
                "subjectAltNames": list(subject_alt_names),
                "primaryDomain": primary_domain,
            }},
        )
        return result.matched_count == 1

    async def record_revocation(
        self, certificate_id: str, serial_number: str, revoked_at: datetime, reason: RevocationReason
    ) -> None:
        # A map beside `versions` (serials are hex): record_issuance $sets `versions` from
        # its own read, and would undo a revocation written into them meanwhile.
        await self._col.update_one(
            {"_id": certificate_id},
            {"$set": {f"revocations.{serial_number}": {"at": revoked_at, "reason": reason.value}}},
        )

    async def set_order_facts(self, certificate_id: str, facts: dict, changes: Sequence[OrderFactChange]) -> None:
        await self._col.update_one(
            {"_id": certificate_id},
            {
                "$set": {k: facts[k] for k in ("isFree", "purchasedYears", "autoValidationConfigured")},
                "$push": {"orderFactChanges": {"$each": [_order_fact_to_doc(c) for c in changes]}},
            },
        )

    async def get_many(self, account: str | None, ids: Sequence[str]) -> dict[str, Certificate]:
        if not ids:
            return {}
        if len(set(ids)) == 1:
            found = await self.get(account, ids[0])
            return {found.id: found} if found else {}
        query: dict = {"_id": {"$in": list(set(ids))}}
        if account is not None:
            query["account"] = account
        docs = await self._col.find(query).to_list()
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
    master key is stored, as the document's _id, so a database dump yields no token. Each
    has a public `tokenId` (for listing and revoking), a kind (account or staff, R26), one
    role, an expiry and, once revoked, `revokedAt`."""

    DEFAULT_CACHE_SECONDS = 10.0
    CACHE_SIZE = 10_000

    def __init__(
        self, database: Database, hashing_key: bytes, *, cache_seconds: float = DEFAULT_CACHE_SECONDS,
        monotonic=time.monotonic,
    ) -> None:
        self._col = database.tokens
        self._key = hashing_key
        # digest -> (caller, token expiry, monotonic deadline): a known token costs no round
        # trip for `cache_seconds`, so a revocation reaches every process within that time
        # (R26 asks for 30 s). Unknown tokens are not cached (each costs a lookup).
        self._cache: dict[str, tuple[Caller, datetime, float]] = {}
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic

    def _hash(self, token: str) -> str:
        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()

    async def create(
        self, account: str | None, role: Role, *, now: datetime, expires_at: datetime
    ) -> tuple[str, TokenRecord]:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = TokenRecord(
            token_id=TOKEN_ID_PREFIX + secrets.token_hex(8), account=account, role=Role(role),
            created_at=now, expires_at=expires_at,
        )
        try:
            await self._col.insert_one({"_id": self._hash(token), **_token_to_doc(record)})
        except DuplicateKeyError:
            # 256 random bits do not collide: this is the driver retrying a write the server had
            # applied (its reply lost under load). The document there is this token's.
            existing = await self._col.find_one({"_id": self._hash(token)}, {"tokenId": 1})
            if existing is None or existing.get("tokenId") != record.token_id:
                raise
        return token, record

    async def authenticate(self, token: str, now: datetime) -> Caller | None:
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            return None
        digest = self._hash(token)
        cached = self._cache.get(digest)
        if cached is not None and cached[2] > self._monotonic() and now < cached[1]:
            return cached[0]
        self._cache.pop(digest, None)
        doc = await self._col.find_one({"_id": digest})
        # The lookup is by keyed hash; compare again in constant time all the same.
        if not doc or not hmac.compare_digest(doc["_id"], digest):
            return None
        record = _token_from_doc(doc)
        if record is None or not record.usable_at(now):
            return None
        try:
            await self._col.update_one({"_id": digest}, {"$set": {"lastUsedAt": now}})
        except PyMongoError:
            pass  # a missed "last used" is not worth refusing the call
        caller = Caller(account=record.account, role=record.role, token_id=record.token_id)
        if self._cache_seconds > 0:
            if len(self._cache) >= self.CACHE_SIZE:
                self._cache.clear()
            self._cache[digest] = (caller, record.expires_at, self._monotonic() + self._cache_seconds)
        return caller

    async def list(self, *, account: str | None = None, staff: bool = False) -> list[TokenRecord]:
        query: dict = {"kind": {"$in": ["account", "staff"]}}
        if staff:
            query = {"kind": "staff"}
        elif account is not None:
            query = {"kind": "account", "account": account}
        docs = await self._col.find(query).to_list()
        records = [r for r in (_token_from_doc(d) for d in docs) if r is not None]
        return sorted(records, key=lambda r: (r.created_at, r.token_id))

    async def revoke(self, token_id: str, now: datetime) -> TokenRecord | None:
        await self._col.update_one({"tokenId": token_id, "revokedAt": None}, {"$set": {"revokedAt": now}})
        doc = await self._col.find_one({"tokenId": token_id})
        return _token_from_doc(doc) if doc else None


TOKEN_ID_PREFIX = "tok_"


class MongoAccountRegistry(AccountRegistry):
    def __init__(self, database: Database) -> None:
        self._col = database.db.accounts

    async def create(self, name: str, now: datetime) -> bool:
        try:
            await self._col.insert_one({"_id": name, "createdAt": now})
        except DuplicateKeyError:
            return False
        return True

    async def exists(self, name: str) -> bool:
        return await self._col.find_one({"_id": name}, {"_id": 1}) is not None

    async def list(self) -> list[tuple[str, datetime]]:
        docs = await self._col.find({}).to_list()
        return sorted((d["_id"], d.get("createdAt")) for d in docs)


def _token_to_doc(record: TokenRecord) -> dict:
    return {
        "tokenId": record.token_id,
        "kind": record.kind,
        "account": record.account,
        "role": record.role.value,
        "createdAt": record.created_at,
        "expiresAt": record.expires_at,
        "revokedAt": record.revoked_at,
        "lastUsedAt": record.last_used_at,
    }


def _token_from_doc(doc: dict) -> TokenRecord | None:
    """None for a token stored before kinds and expiry existed: it no longer works (its
    roles may mix an account with a staff role, which R26 forbids); create a new one."""
    if doc.get("kind") not in ("account", "staff") or not doc.get("expiresAt"):
        return None
    try:
        role = Role(doc["role"])
    except (KeyError, ValueError):
        return None
    account = doc.get("account") if doc["kind"] == "account" else None
    # A document whose kind and role disagree (edited by hand) is refused, not trusted.
    if (account is None) != role.is_staff:
        return None
    return TokenRecord(
        token_id=doc["tokenId"],
        account=account,
        role=role,
        created_at=doc["createdAt"],
        expires_at=doc["expiresAt"],
        revoked_at=doc.get("revokedAt"),
        last_used_at=doc.get("lastUsedAt"),
    )
