"""The ports the domain services call. Adapters implement them (adapters/), and
`certreissue.bootstrap` wires one implementation of each."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from collections.abc import Collection, Sequence
from datetime import datetime

from domain.model import (
    Brand,
    Caller,
    Certificate,
    CertificateFilter,
    CertificateVersion,
    OrderFactChange,
    Page,
    RevocationReason,
    Role,
    StoredPrivateKey,
    ValidationLevel,
)
from domain.tokens import TokenRecord


class Clock(ABC):
    @abstractmethod
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""


class KeySealer(ABC):
    """Encrypts private keys at rest with the service master key."""

    @abstractmethod
    def seal(self, plaintext: bytes, *, context: str) -> bytes: ...

    @abstractmethod
    def open(self, sealed: bytes, *, context: str) -> bytes: ...


class CertificateRepository(ABC):
    @abstractmethod
    def new_id(self) -> str:
        """A fresh certificate ID; IDs sort in creation order (the pagination key)."""

    @abstractmethod
    async def add(self, certificate: Certificate) -> None:
        """Stores a new certificate. Raises DuplicateCertificate when the account has it."""

    @abstractmethod
    async def get(self, account: str | None, certificate_id: str) -> Certificate | None:
        """One certificate; with `account`, only if it belongs to that account (R26).
        `None` is for staff, who read any account's objects one at a time."""

    @abstractmethod
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
        """R23: the certificate takes its new current version and its names (and what goes
        with them), unless its current serial is no longer `expected_serial` (another
        writer came first). Other fields (order facts) are left as they are."""

    @abstractmethod
    async def record_revocation(
        self, certificate_id: str, serial_number: str, revoked_at: datetime, reason: RevocationReason
    ) -> None:
        """The version `serial_number` was revoked by its CA; kept apart from `versions`,
        so an issuance recorded meanwhile (R23) does not undo it."""

    @abstractmethod
    async def set_order_facts(self, certificate_id: str, facts: dict, changes: Sequence[OrderFactChange]) -> None:
        """R29: stores the operator's order facts and appends their change events."""

    @abstractmethod
    async def get_many(self, account: str | None, ids: Sequence[str]) -> dict[str, Certificate]: ...

    @abstractmethod
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
        """`reissuing`: the IDs of certificates with an active reissue (status REISSUING)."""


class DuplicateCertificate(Exception):
    def __init__(self, existing_id: str | None) -> None:
        super().__init__(existing_id)
        self.existing_id = existing_id


class AccountRegistry(ABC):
    """The accounts tokens may be created for (`certreissue account create`)."""

    @abstractmethod
    async def create(self, name: str, now: datetime) -> bool:
        """Registers `name`; False when it was registered already."""

    @abstractmethod
    async def exists(self, name: str) -> bool: ...

    @abstractmethod
    async def list(self) -> list[tuple[str, datetime]]:
        """(name, created) of every account, by name."""


class TokenStore(ABC):
    """API tokens (R26). Only a keyed hash of a token is stored."""

    @abstractmethod
    async def create(
        self, account: str | None, role: Role, *, now: datetime, expires_at: datetime
    ) -> tuple[str, TokenRecord]:
        """Creates a token (account None: a staff token); returns it once, with its record."""

    @abstractmethod
    async def authenticate(self, token: str, now: datetime) -> Caller | None:
        """The caller, or None for an unknown, revoked or expired token. A revoked token
        may be remembered by a process for at most its cache time (under 30 s)."""

    @abstractmethod
    async def list(self, *, account: str | None = None, staff: bool = False) -> list[TokenRecord]: ...

    @abstractmethod
    async def revoke(self, token_id: str, now: datetime) -> TokenRecord | None:
        """Revokes one token by its ID; None when there is no such token."""


# -- the reissue workflow ----------------------------------------------------------------


class ConcurrentChange(Exception):
    """Another request changed the reissue first (its next event slot was taken)."""


class ReissueRepository(ABC):
    @abstractmethod
    def new_id(self) -> str: ...

    @abstractmethod
    async def insert(self, reissue) -> None: ...

    @abstractmethod
    async def get(self, reissue_id: str, *, account: str | None = None):
        """One reissue; with `account`, only if it belongs to that account (R26)."""

    @abstractmethod
    async def get_many(self, account: str | None, ids: Sequence[str]) -> dict: ...

    @abstractmethod
    async def review_queue(self, status, *, first: int, after: str | None, with_total: bool = True) -> Page:
        """R26 staff: every account's reissues in `status`, oldest first."""

    @abstractmethod
    async def active_in_domains(self, account: str, primary_domains: Sequence[str]) -> list:
        """The account's active reissues under these primary domains (R3), in one read."""


    @abstractmethod
    async def list(self, account: str, *, status=None, certificate_id: str | None = None,
                   first: int, after: str | None, with_total: bool = True) -> Page: ...

    @abstractmethod
    async def list_by_certificates(
        self, account: str, certificate_ids: Sequence[str], *, first: int, after: str | None, with_total: bool
    ) -> dict[str, Page]:
        """One page of reissues per certificate (newest first, each after `after`), for
        all of them in a constant number of reads however many certificates there are."""

    @abstractmethod
    async def transition(self, before, after) -> None:
        """Stores `after` (whose events are `before`'s plus one, R25) unless another
        transition took that event slot first: ConcurrentChange."""

    @abstractmethod
    async def overdue(self, now: datetime, limit: int = 100) -> list: ...

    async def claim_issuance(self, reissue_id: str, seq: int, holder: str, now: datetime, until: datetime) -> bool:
        """R23: claims the right to sign (or finalise the CA's order) for the transition into
        event slot `seq`, before anything is signed, so that of two requests finishing the
        same reissue only one has a certificate issued. A claim lives until `until`, then
        another request may take it over (its holder died). False when another holds it."""
        raise NotImplementedError

    async def release_issuance(self, reissue_id: str, seq: int, holder: str) -> None:
        """Drops this holder's claim (after the transition, or after a failure)."""
        raise NotImplementedError

    @abstractmethod
    async def update_validation(self, reissue_id: str, validation) -> None:
        """Records a failed check's diagnosis (R21); not a status change."""

    @abstractmethod
    async def claim_reminder(self, reissue_id: str, number: int, at: datetime) -> bool:
        """Claims reminder number `number` (unique); False when it was already taken."""

    @abstractmethod
    async def repair_pending_transitions(self, limit: int = 100) -> int:
        """Applies event slots taken by a process that died before applying them."""

    @abstractmethod
    async def mark_applied(self, reissue_id: str) -> None:
        """The certificate carries the issued version and the locks are released."""

    @abstractmethod
    async def active_certificate_ids(self, account: str) -> list[str]: ...

    @abstractmethod
    async def issued_not_applied(self, limit: int = 100) -> list:
        """Issued reissues whose certificate was not updated yet (a crash in between)."""


@dataclass(frozen=True)
class LockRecord:
    """A primary-domain (R3) or certificate (R4) lock, keyed by its holder."""

    id: str  # "<reissue id>:<kind>": deleting by it can only release this holder's lock
    key: str  # "primary:<domain>" or "certificate:<id>", unique
    reissue_id: str
    certificate_id: str
    certificate_domain: str
    acquired_at: datetime
    pending_until: datetime


class LockStore(ABC):
    @abstractmethod
    async def try_acquire(self, lock: LockRecord) -> LockRecord | None:
        """Inserts the lock; on a unique-key clash returns the holder's record instead
        (or a placeholder when it vanished in between)."""

    @abstractmethod
    async def release(self, lock_id: str) -> None: ...

    @abstractmethod
    async def held(self, lock_ids: Sequence[str]) -> set[str]:
        """Which of these holder-named locks still exist."""

    @abstractmethod
    async def all(self, limit: int = 1000) -> list[LockRecord]: ...


@dataclass(frozen=True)
class IdempotencyRecord:
    account: str
    key: str
    fingerprint: str
    reissue_id: str
    created_at: datetime
    token_id: str = ""  # R31: only this token sees a generated key again on a replay


class IdempotencyStore(ABC):
    @abstractmethod
    async def claim(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        """Stores the record, or returns the one already there for (account, key)."""

    @abstractmethod
    async def forget(self, record: IdempotencyRecord) -> None: ...

    @abstractmethod
    async def purge_before(self, moment: datetime) -> int:
        """Drops records created before `moment`; returns how many."""

    @abstractmethod
    def fingerprint(self, material: str) -> str:
        """A keyed hash of the request (it may hold a password: never stored as is)."""


class VerificationLog(ABC):
    """R21/R18: successful domain checks per (domain, organization name)."""

    @abstractmethod
    async def record(self, account: str, hostname: str, organization: str | None, at: datetime) -> None: ...

    @abstractmethod
    async def last(self, account: str, hostname: str, organization: str | None) -> datetime | None:
        """Per account: another account's checks neither waive nor reveal anything (R26)."""


@dataclass(frozen=True)
class CaChallenge:
    """The challenge a CA that validates domains itself (ACME, RFC 8555) set for an order:
    what the applicant must publish, and where."""

    order_url: str  # the order, kept on the reissue so a later check resumes it
    kind: str  # "dns-01" or "http-01"
    token: str  # http-01: the file's name under /.well-known/acme-challenge/
    value: str  # dns-01: the TXT record's value; http-01: the file's content


@dataclass(frozen=True)
class CaOrder:
    """An order as the CA sees it now: `ready` once every authorization is valid (the CA may
    reuse one it holds), else the challenge to answer."""

    url: str
    status: str
    challenge: CaChallenge | None


class CaError(Exception):
    """The CA refused or could not be reached. `kind` is the ACME problem type without its
    prefix (rateLimited, rejectedIdentifier, badCSR, ...) or one of: unavailable (no answer,
    try again later), timeout (it did not finish in time; the order goes on), orderGone (the
    CA no longer knows the order), invalid (the CA's validation failed: the order is dead).
    The message is for a person."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    @property
    def retryable(self) -> bool:
        """The order is intact: the same check later may finish it."""
        return self.kind in ("unavailable", "timeout", "rateLimited", "serverInternal")


class OrderingAuthority(ABC):
    """A CA that validates domain control itself (ACME). The service still checks the
    record or file first (R21), then has the CA validate it and finalises the order."""

    @abstractmethod
    async def open_order(self, csr_pem: str, domain: str, kind: str) -> CaOrder:
        """A new order for `domain` with a challenge of `kind` (dns-01 or http-01)."""

    @abstractmethod
    async def order(self, order_url: str, kind: str) -> CaOrder:
        """The order as it is now (CaError orderGone when the CA lost it)."""

    @abstractmethod
    async def validate(self, order: CaOrder) -> None:
        """Answers the order's challenge and polls until the CA has validated it (CaError
        invalid with the CA's reason when it did not)."""

    @abstractmethod
    async def finalize(self, order_url: str, csr_pem: str) -> SignedCertificate:
        """Finalises a ready order with the CSR (or resumes one being processed, or fetches
        the certificate of a valid one) and returns the chain the CA issued."""


@dataclass(frozen=True)
class SignedCertificate:
    certificate_pem: str
    chain_pem: str


@dataclass(frozen=True)
class Revocation:
    """A CA's record that it revoked a certificate: the first revocation stands."""

    revoked_at: datetime
    reason: RevocationReason


class CertificateAuthority(ABC):
    @property
    def ordering(self) -> OrderingAuthority | None:
        """The CA's own domain validation (ACME orders), or None: the service validates
        and the CA signs at once."""
        return None

    @property
    def chooses_not_after(self) -> bool:
        """True when the CA decides the notAfter itself (ACME): the certificate gets the
        CA's, which may differ from R5's."""
        return False

    def issues_level(self, level: ValidationLevel) -> bool:
        """Whether this CA issues certificates of `level` (an ACME CA issues DV only)."""
        return True

    @abstractmethod
    async def sign(
        self,
        csr_pem: str,
        domain: str,
        not_after: datetime,
        now: datetime,
        *,
        brand: Brand,
        level: ValidationLevel,
        organization: str | None = None,
    ) -> SignedCertificate:
        """R5/R23: a certificate for the CSR's key, SAN = domain, notBefore = now,
        notAfter as given (within R30), a new random serial, issued so that R29 reads
        `brand` and `level` back from it; OV/EV name the organization (R13)."""

    @abstractmethod
    def issuer_not_after(self, brand: Brand) -> datetime:
        """R30: the notAfter of the CA certificate that signs for `brand`."""

    @property
    @abstractmethod
    def roots(self) -> list:
        """The CA's root certificates (trusted for R27 path validation)."""

    @property
    @abstractmethod
    def issuer_id(self) -> str:
        """Names this CA in the versions it issues (CertificateVersion.issued_by), stable
        across restarts: a superseded version is revoked through the CA that issued it,
        whichever CA issues reissues by then (domain.revocations)."""

    @property
    def can_revoke(self) -> bool:
        """Whether `revoke` works. A CA adapter without revocation keeps this default: the
        revocation jobs then wait (domain.revocations) until one that can is configured."""
        return False

    async def revoke(self, certificate_pem: str, reason: RevocationReason, now: datetime) -> Revocation | None:
        """Revokes a certificate this CA issued and publishes it (the built-in CA: in its
        CRL; an ACME CA: revokeCert). Idempotent: a second call answers the first
        revocation. None when this CA did not issue the certificate (an upload issued
        elsewhere): nothing is revoked. CaError when the CA did not answer (the job is
        tried again later)."""
        raise NotImplementedError(f"{type(self).__name__} cannot revoke")


class KeyFactory(ABC):
    @abstractmethod
    async def generate(self, algorithm, parameter: str):
        """A new private key (off the event loop: RSA-4096 takes a while)."""


@dataclass(frozen=True)
class CheckOutcome:
    ok: bool
    diagnosis: str | None = None


class DomainChecker(ABC):
    """R21: checks a DNS or file challenge for real."""

    @abstractmethod
    async def check_dns(self, record_name: str, expected: str) -> CheckOutcome: ...

    @abstractmethod
    async def check_file(self, hostname: str, path: str, expected: str) -> CheckOutcome: ...


class RateLimiter(ABC):
    """Rate-limit units (what a mutation weighs) per token per minute, shared by every process
    on the database."""

    @abstractmethod
    async def hit(self, token_id: str, now: datetime, weight: int = 1) -> float | None:
        """Claims `weight` units of the token's minute, all or none; None when allowed, else
        seconds until the window resets. A weight over the whole limit claims nothing."""


# -- change notifications (subscriptions) --------------------------------------------------

Topic = tuple[str, ...]
"""What a subscriber watches: one reissue, one certificate, or the reissues of one account
under one primary domain (they decide a certificate's eligibility, R3)."""


def reissue_topic(reissue_id: str) -> Topic:
    return ("reissue", reissue_id)


def certificate_topic(certificate_id: str) -> Topic:
    return ("certificate", certificate_id)


def domain_topic(account: str, primary_domain: str) -> Topic:
    return ("domain", account, primary_domain)


class ChangeWatch(ABC):
    """One subscriber's view of the change feed: a flag, not a queue. However many changes
    arrive while the subscriber is busy (a slow client), it wakes once and reads the current
    state, so what it holds never grows."""

    @abstractmethod
    async def wait(self, timeout: float | None = None) -> bool:
        """True once something watched changed (or may have: the feed lost track and asks
        every subscriber to read again) since the last wait; False after `timeout` seconds."""

    @abstractmethod
    def retopic(self, topics: Sequence[Topic]) -> None:
        """Watch these topics from now on (a certificate's primary domain can change)."""

    @abstractmethod
    def close(self) -> None:
        """Stop watching (idempotent)."""


class ChangeFeed(ABC):
    """Tells subscribers of this process when an object they watch changed, whichever
    process changed it. One source per process, fanned out to its subscribers."""

    @abstractmethod
    def watch(self, topics: Sequence[Topic]) -> ChangeWatch: ...

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

# -- downloads and revocation jobs ---------------------------------------------------------


@dataclass(frozen=True)
class DownloadGrant:
    """A one-time download: what to build at fetch time, never the built content. `id` is
    a keyed hash of the URL's token (the token itself is never stored); the key password,
    when one was given, is sealed under the master key bound to `id`, and deleted with
    the grant."""

    id: str
    account: str
    certificate_id: str
    serial_number: str
    format: str  # domain.downloads.DownloadFormat
    include_key: bool
    sealed_password: bytes | None
    file_name: str
    created_at: datetime
    expires_at: datetime


class DownloadStore(ABC):
    @abstractmethod
    def new_token(self) -> tuple[str, str]:
        """A fresh unguessable URL token and the ID it is stored under (its keyed hash)."""

    @abstractmethod
    def id_of(self, token: str) -> str | None:
        """The ID a token is stored under; None for text that is no token of ours."""

    @abstractmethod
    async def add(self, grant: DownloadGrant) -> None: ...

    @abstractmethod
    async def get(self, grant_id: str) -> DownloadGrant | None: ...

    @abstractmethod
    async def consume(self, grant: DownloadGrant, now: datetime) -> bool:
        """Uses the grant up: True for exactly one caller across all processes (a unique
        key insert), False for every other."""

    @abstractmethod
    async def was_consumed(self, grant_id: str) -> bool: ...

    @abstractmethod
    async def delete(self, grant_id: str) -> None:
        """Drops the grant and its sealed password (the use record stays until purged)."""

    @abstractmethod
    async def purge(self, *, expired_before: datetime, used_before: datetime) -> int:
        """Drops grants (and their sealed passwords) that expired before `expired_before`,
        and use records of URLs that expired before `used_before`."""


class BundleWriter(ABC):
    @abstractmethod
    async def build(
        self, format: str, *, certificate_pem: str, chain_pem: str, private_key, password: str | None,
        alias: str,
    ) -> bytes:
        """The zip of `format` (domain.downloads), off the event loop; `private_key` is a
        loaded key object or None."""


@dataclass(frozen=True)
class RevocationJob:
    """A superseded version to revoke once CERTS_REVOKE_SUPERSEDED_AFTER has passed."""

    id: str  # "<certificate id>:<serial>"
    certificate_id: str
    serial_number: str
    superseded_at: datetime
    attempt: int = 0
    issuer: str | None = None  # the version's issued_by, when the job was scheduled


class RevocationJobs(ABC):
    @abstractmethod
    async def schedule(
        self, certificate_id: str, serial_number: str, superseded_at: datetime, issuer: str | None = None
    ) -> None:
        """Idempotent: one job per version, however often an issuance is applied. `issuer`:
        the version's issued_by (None: an upload, or a version issued before it was kept)."""

    @abstractmethod
    async def due(
        self, superseded_before: datetime, issuers: Collection[str | None], limit: int = 100
    ) -> list[RevocationJob]:
        """Jobs not done, superseded before `superseded_before`, oldest first, of these
        issuers only (None: jobs that name none): a job whose CA is not configured waits
        without holding back the others."""

    @abstractmethod
    async def claim(self, job: RevocationJob, now: datetime, lease_until: datetime) -> bool:
        """Takes the job's next attempt slot (a unique key): True for one process only. A
        slot whose holder died (its lease passed) lets the next attempt be claimed."""

    @abstractmethod
    async def finish(self, job: RevocationJob, outcome: str, now: datetime) -> None: ...


# -- webhooks (domain/webhooks.py, domain/webhooking.py) --------------------------------


@dataclass(frozen=True)
class SealedSecret:
    """An endpoint's signing secret, sealed (KeySealer); live until `retires_at` (None: current)."""

    sealed: bytes
    created_at: datetime
    retires_at: datetime | None = None


@dataclass(frozen=True)
class ExpiringVersion:
    account: str
    certificate_id: str
    domain: str
    serial_number: str
    not_after: datetime


class WebhookStore(ABC):
    """Endpoints, deliveries and the outbox relay's reads; every write that two processes
    may both make has a deterministic key (see domain/webhooks.py)."""

    @abstractmethod
    def new_endpoint_id(self) -> str: ...

    @abstractmethod
    async def insert_endpoint(self, endpoint, secrets: Sequence[SealedSecret], *, limit: int) -> bool:
        """False when the account has `limit` endpoints already; atomic on every backend
        (concurrent inserts never make more than `limit`), and a deletion frees its place."""

    @abstractmethod
    async def endpoint(self, endpoint_id: str, account: str | None) -> tuple | None:
        """(Endpoint, its secrets), or None (also for another account's, R26)."""

    @abstractmethod
    async def endpoints_of(self, account: str) -> list: ...

    @abstractmethod
    async def list_endpoints(self, account: str, *, first: int, after: str | None) -> Page: ...

    @abstractmethod
    async def delete_endpoint(self, endpoint_id: str, account: str) -> bool: ...

    @abstractmethod
    async def replace_secrets(self, endpoint_id: str, account: str, secrets: Sequence[SealedSecret],
                              rotated_at: datetime, *, previous_rotation: datetime | None) -> bool:
        """Only if the endpoint's last rotation is still `previous_rotation` (compare and
        set); False when another rotation landed first, or the endpoint is gone."""

    @abstractmethod
    async def outbox(self, limit: int) -> list[tuple]:
        """Reissues whose latest change is not relayed yet: (Reissue, the seq read)."""

    @abstractmethod
    async def relayed(self, reissue_id: str, seq: int) -> None:
        """Clears the outbox flag only if the reissue is still at `seq` (a change that landed
        since keeps it set)."""

    @abstractmethod
    async def add_delivery(self, delivery) -> bool:
        """Inserts; False when that delivery (its deterministic ID) exists already."""

    @abstractmethod
    async def claim_due(self, now: datetime, holder: str, lease_until: datetime):
        """One delivery due now and not leased, leased to `holder`; or None."""

    @abstractmethod
    async def claim_attempt(self, delivery_id: str, number: int, holder: str, now: datetime,
                            until: datetime) -> bool:
        """Attempt `number`'s unique slot: True for one holder at a time; a dead holder's
        slot (past `until`) is taken over."""

    @abstractmethod
    async def release_attempt(self, delivery_id: str, number: int, holder: str) -> None:
        """Gives back attempt `number`'s slot, taken but not used."""

    @abstractmethod
    async def record_attempt(self, delivery_id: str, number: int, attempt, status: str,
                             next_attempt_at: datetime | None) -> None: ...

    @abstractmethod
    async def delivery(self, delivery_id: str, account: str):
        """One delivery of the account, or None (also for another account's, R26)."""

    @abstractmethod
    async def redeliver(self, delivery_id: str, account: str, now: datetime):
        """Makes the delivery PENDING, due now, its retry window starting now (retryFrom),
        unless an attempt is in flight (leased): the delivery after, or None."""

    @abstractmethod
    async def list_deliveries(self, account: str, *, endpoint_id: str | None, status: str | None,
                              first: int, after: str | None, with_total: bool = True) -> Page: ...

    @abstractmethod
    async def purge_deliveries(self, created_before: datetime) -> int:
        """Deletes DELIVERED and FAILED deliveries recorded before `created_before`."""

    @abstractmethod
    async def thresholds(self, account: str) -> tuple[int, ...] | None: ...

    @abstractmethod
    async def set_thresholds(self, account: str, thresholds: Sequence[int], at: datetime) -> None: ...

    @abstractmethod
    async def expiry_subscribers(self) -> list[str]:
        """Accounts with an endpoint subscribed to certificate.expiring."""

    @abstractmethod
    async def expiring(self, account: str, before: datetime, after: datetime, limit: int,
                       *, after_key: tuple[datetime, str] | None = None) -> list[ExpiringVersion]:
        """The account's issued certificates whose current version ends in (after, before],
        by (notAfter, ID), past `after_key`."""

    @abstractmethod
    async def take_lease(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        """A named lease (one sweep across processes); expires if its holder dies."""


class WebhookSender(ABC):
    @abstractmethod
    async def check(self, url) -> str | None:
        """Why `url` (an EndpointUrl) may not be called (not public, no address), or None."""

    @abstractmethod
    async def post(self, url, *, message_id: str, body: str, secrets: Sequence[str], timestamp: datetime):
        """One signed POST (Standard Webhooks), to an address checked at this moment; an
        Attempt, never an exception."""
