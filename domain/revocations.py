"""Revoking superseded versions on schedule: a version a reissue replaced (R23) is revoked
through the CA that issued it, reason superseded, once CERTS_REVOKE_SUPERSEDED_AFTER has
passed since it was superseded (`None`: never). Calls ports only.

The job is stored when the issuance is applied, so it survives restarts; each attempt is
claimed by one process (RevocationJobs.claim), and the CA's revocation is idempotent, so a
process dying half-way costs a retry, never a second revocation.

Which CA: the one the version names as its issuer (CertificateVersion.issued_by, recorded
at issuance), not the one configured now: a version the built-in CA signed is revoked in
its CRLs, one an ACME CA issued with that CA's revokeCert, even after CERTS_CA changed.
A version that names no issuer (an upload, or one issued before issuers were recorded) is
asked of `fallback`, the built-in CA, which revokes only what its intermediates signed: an
upload issued elsewhere is left as it is (only its issuer could revoke it). A job whose CA
is not configured here (or cannot revoke) waits, without holding back the others. A CA
that does not answer (CaError) leaves its job due: the next attempt is taken once the
claim's lease has passed, and that CA's other jobs wait for the next sweep rather than
each for its own timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from domain.model import CertificateVersion, RevocationReason
from domain.ports import CaError, CertificateAuthority, CertificateRepository, Clock, RevocationJobs

log = logging.getLogger("certreissue.revocations")
CLAIM_LEASE = timedelta(minutes=2)  # also the wait before a CA that failed is asked again
DEFAULT_DELAY = timedelta(hours=72)


class RevocationService:
    def __init__(
        self,
        *,
        jobs: RevocationJobs,
        certificates: CertificateRepository,
        authorities: Sequence[CertificateAuthority],
        fallback: CertificateAuthority,
        clock: Clock,
        delay: timedelta | None = DEFAULT_DELAY,
    ) -> None:
        """`authorities`: every CA configured here, found by issuer_id; `fallback`: the one
        asked about a version that names no issuer."""
        self._jobs = jobs
        self._certificates = certificates
        self._authorities = {ca.issuer_id: ca for ca in (fallback, *authorities)}
        self._fallback = fallback
        self._clock = clock
        self.delay = delay

    def _authority_for(self, version: CertificateVersion) -> CertificateAuthority | None:
        if version.issued_by is None:
            return self._fallback
        return self._authorities.get(version.issued_by)

    async def sweep(self) -> dict[str, int]:
        counts = {"revoked": 0, "not_revocable": 0}
        issuers: set[str | None] = {key for key, ca in self._authorities.items() if ca.can_revoke}
        if self._fallback.can_revoke:
            issuers.add(None)
        if self.delay is None or not issuers:
            return counts  # `never`, or no CA here that can revoke: the jobs wait
        now = self._clock.now()
        unanswered: set[str] = set()  # CAs that failed in this sweep: not asked again until the next
        for job in await self._jobs.due(now - self.delay, issuers):
            certificate = await self._certificates.get(None, job.certificate_id)
            version = next(
                (v for v in certificate.versions if v.serial_number == job.serial_number), None
            ) if certificate else None
            authority = self._authority_for(version) if version is not None else None
            if version is not None and (authority is None or not authority.can_revoke):
                continue  # its CA is not configured here: the job waits for a process where it is
            if authority is not None and authority.issuer_id in unanswered:
                continue  # each of its jobs would wait for the same timeout: the next sweep
            if not await self._jobs.claim(job, now, now + CLAIM_LEASE):
                continue
            if version is None or authority is None:
                await self._jobs.finish(job, "gone", now)
                continue
            try:
                revocation = await authority.revoke(version.certificate_pem, RevocationReason.SUPERSEDED, now)
            except CaError as error:
                # The CA did not answer, or refused for now: the job stays due, and its next
                # attempt is claimed once this one's lease has passed.
                log.warning("revoking version %s of %s through %s failed (%s): %s; tried again later",
                            version.serial_number, certificate.id, authority.issuer_id, error.kind, error.message)
                unanswered.add(authority.issuer_id)
                continue
            if revocation is None:
                await self._jobs.finish(job, "not issued by this CA", now)
                counts["not_revocable"] += 1
                continue
            await self._certificates.record_revocation(
                certificate.id, version.serial_number, revocation.revoked_at, revocation.reason
            )
            await self._jobs.finish(job, "revoked", now)
            log.info("revoked superseded version %s of %s through %s",
                     version.serial_number, certificate.id, authority.issuer_id)
            counts["revoked"] += 1
        return counts
