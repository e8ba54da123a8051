"""Revoking superseded versions on schedule: a version a reissue replaced (R23) is revoked
through the CA that issued it, reason superseded, once CERTS_REVOKE_SUPERSEDED_AFTER has
passed since it was superseded (`None`: never). Calls ports only.

The job is stored when the issuance is applied, so it survives restarts; each attempt is
claimed by one process (RevocationJobs.claim), and the CA's revocation is idempotent, so a
process dying half-way costs a retry, never a second revocation. A version the CA did not
issue (an upload issued elsewhere) is left as it is: only its issuer could revoke it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from domain.model import RevocationReason
from domain.ports import CertificateAuthority, CertificateRepository, Clock, RevocationJobs

log = logging.getLogger("certreissue.revocations")
CLAIM_LEASE = timedelta(minutes=2)
DEFAULT_DELAY = timedelta(hours=72)


class RevocationService:
    def __init__(
        self,
        *,
        jobs: RevocationJobs,
        certificates: CertificateRepository,
        authority: CertificateAuthority,
        clock: Clock,
        delay: timedelta | None = DEFAULT_DELAY,
    ) -> None:
        self._jobs = jobs
        self._certificates = certificates
        self._authority = authority
        self._clock = clock
        self.delay = delay

    async def sweep(self) -> dict[str, int]:
        counts = {"revoked": 0, "not_revocable": 0}
        if self.delay is None or not self._authority.can_revoke:
            return counts  # `never`, or a CA that cannot revoke: the jobs wait
        now = self._clock.now()
        for job in await self._jobs.due(now - self.delay):
            if not await self._jobs.claim(job, now, now + CLAIM_LEASE):
                continue
            certificate = await self._certificates.get(None, job.certificate_id)
            version = next(
                (v for v in certificate.versions if v.serial_number == job.serial_number), None
            ) if certificate else None
            if version is None:
                await self._jobs.finish(job, "gone", now)
                continue
            revocation = await self._authority.revoke(version.certificate_pem, RevocationReason.SUPERSEDED, now)
            if revocation is None:
                await self._jobs.finish(job, "not issued by this CA", now)
                counts["not_revocable"] += 1
                continue
            await self._certificates.record_revocation(
                certificate.id, version.serial_number, revocation.revoked_at, revocation.reason
            )
            await self._jobs.finish(job, "revoked", now)
            log.info("revoked superseded version %s of %s", version.serial_number, certificate.id)
            counts["revoked"] += 1
        return counts
