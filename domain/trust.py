"""Trust decisions (R27, R28), each in one function whose name says what it decides.

Their results are stored on the certificate version as facts (`chainTrusted`,
`keyVerified`, `provenance`) that later rules read; nothing recomputes them ad hoc.
Path validation is pyca/cryptography's RFC 5280 verifier with the CA/Browser Forum
(webpki) profile: every issuer must be a CA by basicConstraints with keyCertSign, the
leaf must allow serverAuth, validity and name constraints are checked. No chain is walked
here by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from domain.x509 import public_key_der

MAX_REASON = 300


@dataclass(frozen=True)
class ChainVerdict:
    """R27 `chainTrusted`, with path validation's reason when it is false."""

    trusted: bool
    reason: str | None = None


def _name_to_verify(hostname: str) -> str:
    """The verifier matches a name a client would connect to: a wildcard's any label."""
    return "wildcard-check." + hostname[2:] if hostname.startswith("*.") else hostname


def verify_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    hostname: str,
    now: datetime,
) -> ChainVerdict:
    """R27: the chain passes path validation as a TLS server certificate for `hostname`
    (the bound domain, A-label form) at `now`, up to one of `roots`. The intermediates are
    a pool, in any order; certificates that are not on the path are ignored."""
    if not roots:
        return ChainVerdict(False, "the service trusts no root certificate")
    try:
        verifier = (
            PolicyBuilder()
            .store(Store(list(roots)))
            .time(now)
            .build_server_verifier(x509.DNSName(_name_to_verify(hostname)))
        )
        verifier.verify(leaf, list(intermediates))
    except VerificationError as exc:
        return ChainVerdict(False, _reason(exc))
    except (ValueError, TypeError) as exc:  # a name or certificate the verifier cannot take
        return ChainVerdict(False, _reason(exc))
    return ChainVerdict(True)


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."


def prove_key_possession(private_key, leaf: x509.Certificate) -> bool:
    """R27 `keyVerified`: the private key (already decrypted) is the leaf's."""
    return public_key_der(private_key.public_key()) == public_key_der(leaf.public_key())
