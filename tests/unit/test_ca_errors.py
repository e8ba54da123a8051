"""R23 with an ACME CA: what a CA's refusal or silence becomes for the caller. Pebble has no
rate limits and never hangs, so these answers are checked here, on the pure mapping the
request path uses (domain.reissuing.ca_user_error); the outage and the refusals Pebble can
give are checked end to end in tests/integration/test_acme_issuance.py."""

from __future__ import annotations

import pytest

from domain.errors import ErrorCode
from domain.ports import CaError
from domain.reissuing import ca_user_error


def test_a_ca_rate_limit_is_a_rate_limited_user_error_naming_the_ca():
    error = ca_user_error(CaError("rateLimited", "too many certificates for example.com this week"))
    assert error.code == ErrorCode.RATE_LIMITED
    assert "rate-limiting" in error.message and "example.com this week" in error.message


@pytest.mark.parametrize("kind", ["timeout", "unavailable", "serverInternal"])
def test_a_ca_that_does_not_answer_is_ca_unavailable_and_nothing_is_stored(kind):
    error = ca_user_error(CaError(kind, "no answer within 10 s"))
    assert error.code == ErrorCode.CA_UNAVAILABLE and "nothing was stored" in error.message


@pytest.mark.parametrize("kind", ["rejectedIdentifier", "badCSR", "unauthorized", "caa"])
def test_a_ca_refusal_is_ca_rejected_with_the_ca_s_reason(kind):
    error = ca_user_error(CaError(kind, f"the CA says {kind}"), field=("input", "csr"))
    assert error.code == ErrorCode.CA_REJECTED and f"the CA says {kind}" in error.message
    assert list(error.field) == ["input", "csr"]


@pytest.mark.parametrize(("kind", "kept"), [("timeout", True), ("rateLimited", True), ("unavailable", True),
                                            ("badCSR", False), ("invalid", False), ("orderGone", False)])
def test_only_a_ca_s_silence_or_rate_limit_keeps_the_order_for_a_later_check(kind, kept):
    assert CaError(kind, "x").retryable is kept
