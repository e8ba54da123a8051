"""A certificate authority reached over ACME (RFC 8555) with certbot's `acme` library:
Let's Encrypt, or any ACME CA (CERTS_CA=acme, CERTS_ACME_DIRECTORY).

The CA validates domain control itself, so a reissue that needs validation becomes an
order (R20): the applicant publishes the CA's challenge, "validate now" checks it first
(R21), then answers it, polls with backoff and finalises the order with the reissue's CSR
(R23). The order's URL stays on the reissue, so a check after an outage resumes it.

The account key is one per directory, generated once, sealed with the master key and kept
in the database (`acme_accounts`, a create-once insert: of processes starting together,
one key wins and all use it). Every process registers it (`newAccount` answers the existing
account for a known key) and records the account URL; a CA that forgot the account (a
restarted test CA) gets it registered again.

A superseded version this CA issued is revoked with ACME's revokeCert (RFC 8555 7.6),
signed with the account key (the account that ordered it), reason superseded (RFC 5280
code 4). The versions name this CA by its directory (`issuer_id`), so they are revoked
here however CERTS_CA is set later, as long as this directory is configured.

The library is synchronous (requests): every call runs in a worker thread."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import josepy as jose
import requests
from acme import challenges, client, errors, messages
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pymongo.errors import DuplicateKeyError

from adapters.mongo import Database
from domain.model import Brand, RevocationReason, ValidationLevel
from domain.ports import (
    CaChallenge,
    CaError,
    CaOrder,
    CertificateAuthority,
    KeySealer,
    OrderingAuthority,
    Revocation,
    SignedCertificate,
)

log = logging.getLogger("certreissue.acme")
NETWORK_TIMEOUT_SECONDS = 10  # one HTTP request to the CA
POLL_SECONDS = 10.0  # how long one check waits for the CA's validation, and for issuance
# The CA decides the validity; R30's bound is then the CA's, not one of ours.
FAR_FUTURE = datetime(2200, 1, 1, tzinfo=UTC)
# RFC 5280 CRLReason codes, as revokeCert takes them (RFC 8555 7.6).
_REASON_CODE = {RevocationReason.SUPERSEDED: 4}
# revokeCert problems that mean this CA will never revoke the certificate for this account:
# it did not issue it (or no longer knows it), or the account may not revoke it.
_NOT_OURS = ("unauthorized", "malformed", "notFound")
USER_AGENT = "certreissue (acme-python)"


class AcmeAuthority(CertificateAuthority, OrderingAuthority):
    def __init__(
        self,
        directory_url: str,
        database: Database,
        sealer: KeySealer,
        *,
        eab_kid: str | None = None,
        eab_hmac: str | None = None,
        ca_bundle: Path | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._directory_url = directory_url
        self._accounts = database.db.acme_accounts
        self._sealer = sealer
        self._eab = (eab_kid, eab_hmac) if eab_kid and eab_hmac else None
        self._verify: bool | str = str(ca_bundle) if ca_bundle else True
        self._poll_seconds = poll_seconds
        self._client: client.ClientV2 | None = None
        self._key: jose.JWK | None = None
        self._lock = asyncio.Lock()

    # -- the port's answers about this CA ------------------------------------------------

    @property
    def ordering(self) -> OrderingAuthority:
        return self

    @property
    def chooses_not_after(self) -> bool:
        return True

    def issues_level(self, level: ValidationLevel) -> bool:
        return level == ValidationLevel.DV  # ACME validates domains, nothing else

    def issuer_not_after(self, brand: Brand) -> datetime:
        return FAR_FUTURE

    @property
    def roots(self) -> list:
        return []  # not known from the protocol; CERTS_TRUSTED_CA_FILE adds them for R27

    @property
    def issuer_id(self) -> str:
        return f"acme {self._directory_url}"

    @property
    def can_revoke(self) -> bool:
        return True

    async def revoke(self, certificate_pem: str, reason: RevocationReason, now: datetime) -> Revocation | None:
        """revokeCert with the account key. A certificate the CA revoked already (a process
        died before recording the revocation) counts as revoked now; one the CA refuses to
        revoke for this account (it did not issue it, or forgot it) is None. A CA that did
        not answer is a CaError: the job is tried again later."""
        try:
            certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
        except ValueError:
            return None

        def work(acme: client.ClientV2) -> bool:
            try:
                acme.revoke(certificate, _REASON_CODE[reason])
            except messages.Error as error:
                code = error.code or str(error.typ).rsplit(":", 1)[-1]
                if code == "alreadyRevoked":
                    return True
                if code in _NOT_OURS:
                    log.warning("the ACME CA will not revoke serial %x: %s", certificate.serial_number, _problem(error))
                    return False
                raise
            return True

        return Revocation(now, reason) if await self._call(work) else None

    async def sign(self, csr_pem, domain, not_after, now, *, brand, level, organization=None) -> SignedCertificate:
        """Issuance without a validated order of our own: only when the CA already holds a
        valid authorization for the domain (it reuses one)."""
        order = await self.open_order(csr_pem, domain, "dns-01")
        if order.status not in ("ready", "processing", "valid"):
            raise CaError("unauthorized", f"the CA requires validation of {domain} first (order {order.url})")
        return await self.finalize(order.url, csr_pem)

    # -- orders ---------------------------------------------------------------------------

    async def open_order(self, csr_pem: str, domain: str, kind: str) -> CaOrder:
        def work(acme: client.ClientV2) -> CaOrder:
            identifier = messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=domain)
            response = acme._post(acme.directory["newOrder"], messages.NewOrder(identifiers=[identifier]))
            url = response.headers.get("Location")
            if not url:
                raise CaError("serverInternal", "the CA's new order has no Location")
            return self._order_of(acme, url, messages.Order.from_json(response.json()), kind)

        return await self._call(work)

    async def order(self, order_url: str, kind: str) -> CaOrder:
        def work(acme: client.ClientV2) -> CaOrder:
            return self._order_of(acme, order_url, self._read_order(acme, order_url), kind)

        return await self._call(work)

    async def validate(self, order: CaOrder) -> None:
        def work(acme: client.ClientV2) -> None:
            body = self._read_order(acme, order.url)
            assert self._key is not None
            for url in body.authorizations:
                authz = messages.Authorization.from_json(acme._post_as_get(url).json())
                if authz.status == messages.STATUS_PENDING:
                    challenge = _challenge(authz, order.challenge.kind if order.challenge else "dns-01")
                    if challenge is None:
                        raise CaError("unsupportedChallenge", f"the CA offers no {order.challenge} challenge")
                    if challenge.status == messages.STATUS_PENDING:
                        try:
                            acme.answer_challenge(challenge, challenge.chall.response(self._key))
                        except messages.Error as error:
                            # Another request answered it a moment ago: its state decides.
                            log.info("answering %s: %s", challenge.uri, _problem(error))
                authz = self._poll(acme, url, lambda a: a.status != messages.STATUS_PENDING, messages.Authorization)
                if authz.status != messages.STATUS_VALID:
                    raise CaError("invalid", "the CA could not validate " + _authz_problem(authz))

        await self._call(work)

    async def finalize(self, order_url: str, csr_pem: str) -> SignedCertificate:
        def work(acme: client.ClientV2) -> SignedCertificate:
            body = self._read_order(acme, order_url)
            if body.status == messages.STATUS_PENDING:
                # Its authorizations are valid a moment before the order says ready.
                body = self._poll(acme, order_url, lambda o: o.status != messages.STATUS_PENDING, messages.Order)
            if body.status == messages.STATUS_READY:
                csr = x509.load_pem_x509_csr(csr_pem.encode())
                acme._post(body.finalize, messages.CertificateRequest(csr=csr))
            body = self._poll(
                acme, order_url, lambda o: o.status not in (messages.STATUS_PROCESSING, messages.STATUS_READY),
                messages.Order,
            )
            if body.status != messages.STATUS_VALID or body.certificate is None:
                problem = f": {body.error.detail or body.error}" if body.error is not None else ""
                raise CaError("invalid", f"the CA did not issue order {order_url} (it is {body.status.name}){problem}")
            chain = acme._post_as_get(body.certificate).text
            certificates = x509.load_pem_x509_certificates(chain.encode())
            pem = [c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates]
            return SignedCertificate(certificate_pem=pem[0], chain_pem="".join(pem[1:]))

        return await self._call(work)

    # -- in the worker thread -------------------------------------------------------------

    def _read_order(self, acme: client.ClientV2, url: str) -> messages.Order:
        if urlsplit(url).netloc != urlsplit(self._directory_url).netloc:
            # CERTS_ACME_DIRECTORY changed while the reissue waited: that CA's order is lost to us.
            raise CaError("orderGone", f"order {url} belongs to another ACME directory than {self._directory_url}")
        try:
            return messages.Order.from_json(acme._post_as_get(url).json())
        except messages.Error as error:
            if error.code in ("malformed", "unauthorized") or str(error.typ).endswith(":notFound"):
                raise CaError("orderGone", f"the CA no longer knows order {url} ({_problem(error)})") from None
            raise
        except errors.ClientError as error:
            response = error.args[0] if error.args else None
            if isinstance(response, requests.Response) and response.status_code == 404:
                raise CaError("orderGone", f"the CA no longer knows order {url} (HTTP 404)") from None
            raise

    def _order_of(self, acme: client.ClientV2, url: str, body: messages.Order, kind: str) -> CaOrder:
        challenge = None
        if body.status == messages.STATUS_PENDING:
            assert self._key is not None
            for authz_url in body.authorizations:
                authz = messages.Authorization.from_json(acme._post_as_get(authz_url).json())
                if authz.status != messages.STATUS_PENDING:
                    continue
                found = _challenge(authz, kind)
                if found is None:
                    raise CaError("unsupportedChallenge", f"the CA offers no {kind} challenge for {authz.identifier.value}")
                challenge = CaChallenge(
                    order_url=url, kind=kind, token=found.chall.encode("token"),
                    value=found.chall.validation(self._key),
                )
                break
        return CaOrder(url=url, status=body.status.name, challenge=challenge)

    def _poll(self, acme: client.ClientV2, url: str, done: Callable[[Any], bool], kind: type) -> Any:
        """POST-as-GET `url` until `done`, with backoff (and the CA's Retry-After), for at
        most poll_seconds; then a timeout (the order goes on at the CA)."""
        deadline = time.monotonic() + self._poll_seconds
        delay = 0.25
        while True:
            response = acme._post_as_get(url)
            body = kind.from_json(response.json())
            if done(body):
                return body
            retry_after = response.headers.get("Retry-After", "")
            wait = min(float(retry_after), 5.0) if retry_after.isdigit() else delay
            if time.monotonic() + wait > deadline:
                raise CaError("timeout", f"the CA had not finished {url} after {self._poll_seconds:g} s")
            time.sleep(wait)
            delay = min(delay * 2, 2.0)

    # -- the account and the client -------------------------------------------------------

    async def _call(self, work: Callable[[client.ClientV2], Any]) -> Any:
        """Runs `work` with the client in a thread; ACME problems and network failures come
        out as CaError. An account the CA forgot is registered again, once."""
        for attempt in range(2):
            acme = await self._ensure_client()
            try:
                return await asyncio.to_thread(_translated, work, acme)
            except CaError as error:
                if error.kind != "accountDoesNotExist" or attempt:
                    raise
                log.warning("the ACME CA no longer knows our account; registering it again")
                await self._register(acme, known_uri=None)
        raise AssertionError("unreachable")

    async def _ensure_client(self) -> client.ClientV2:
        async with self._lock:
            if self._client is not None:
                return self._client
            key, uri = await self._account_key()
            self._key = key
            net = client.ClientNetwork(
                key, alg=jose.ES256, verify_ssl=self._verify, user_agent=USER_AGENT, timeout=NETWORK_TIMEOUT_SECONDS
            )
            directory = await asyncio.to_thread(
                _translated, lambda _: client.ClientV2.get_directory(self._directory_url, net), None
            )
            acme = client.ClientV2(directory, net)
            await self._register(acme, known_uri=uri)
            self._client = acme
            return acme

    async def _account_key(self) -> tuple[jose.JWK, str | None]:
        """The directory's account key: created once for every process (a unique _id)."""
        context = f"acme-account {self._directory_url}"
        doc = await self._accounts.find_one({"_id": self._directory_url})
        if doc is None:
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            try:
                await self._accounts.insert_one(
                    {"_id": self._directory_url, "key": self._sealer.seal(pem, context=context),
                     "uri": None, "createdAt": datetime.now(UTC)}
                )
            except DuplicateKeyError:
                pass  # another process created it first: use that one
            doc = await self._accounts.find_one({"_id": self._directory_url})
        assert doc is not None
        private = serialization.load_pem_private_key(self._sealer.open(bytes(doc["key"]), context=context), None)
        return jose.JWKEC(key=private), doc.get("uri")

    async def _register(self, acme: client.ClientV2, *, known_uri: str | None) -> None:
        if known_uri:
            acme.net.account = messages.RegistrationResource(uri=known_uri, body=messages.Registration())
            return
        assert self._key is not None
        key = self._key

        def register(_: Any) -> str:
            acme.net.account = None
            eab = None
            if self._eab is not None:
                eab = messages.ExternalAccountBinding.from_data(
                    account_public_key=key.public_key(), kid=self._eab[0], hmac_key=self._eab[1],
                    directory=acme.directory,
                )
            try:
                regr = acme.new_account(messages.NewRegistration.from_data(
                    terms_of_service_agreed=True, external_account_binding=eab))
                return regr.uri
            except errors.ConflictError as existing:  # this key is registered already
                uri = str(existing.location)
                acme.net.account = messages.RegistrationResource(uri=uri, body=messages.Registration())
                return uri

        uri = await asyncio.to_thread(_translated, register, None)
        await self._accounts.update_one({"_id": self._directory_url}, {"$set": {"uri": uri}})
        log.info("ACME account %s at %s", uri, self._directory_url)


def _translated(work: Callable[[Any], Any], argument: Any) -> Any:
    try:
        return work(argument)
    except CaError:
        raise
    except messages.Error as error:
        raise CaError(error.code or str(error.typ).rsplit(":", 1)[-1], _problem(error)) from None
    except errors.TimeoutError:
        raise CaError("timeout", "the CA did not finish in time") from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
        raise CaError("unavailable", f"the CA could not be reached ({type(error).__name__})") from None
    except (errors.ClientError, requests.exceptions.RequestException, ValueError) as error:
        raise CaError("unavailable", f"the CA's answer could not be used ({type(error).__name__}: {error})") from None


def _problem(error: messages.Error) -> str:
    text = error.detail or error.description or str(error.typ)
    for sub in error.subproblems or ():
        text += f"; {sub.detail}"
    return text


def _challenge(authz: messages.Authorization, kind: str) -> messages.ChallengeBody | None:
    wanted = {"dns-01": challenges.DNS01, "http-01": challenges.HTTP01}[kind]
    return next((c for c in authz.challenges if isinstance(c.chall, wanted)), None)


def _authz_problem(authz: messages.Authorization) -> str:
    name = authz.identifier.value
    for challenge in authz.challenges:
        if challenge.error is not None:
            return f"{name}: {_problem(challenge.error)}"
    return f"{name} (the authorization is {authz.status.name})"
