"""Which steps a submitted reissue needs, and the status it starts in (R13-R19)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.model import Brand, Provenance, ValidationLevel
from domain.reissues import ReissueFlow, ReissueStatus, Waiver
from domain.rules import months_before, original_issue_time, required_steps
from domain.x509 import same_csr
from tests import certs
from tests.unit.factories import NOW, free_dv, make_checked, make_version, organization_cert, paid_dv

LONG_AGO = NOW - timedelta(days=100)


def steps(certificate, *, same_csr=False, last_verified_at=None, now=NOW, auto_configured=None, **checked):
    """`auto_configured`: R18's fact as the service found it (a DNS provider of the account
    covering the domain, last check passed); by default what the test certificate states."""
    return required_steps(
        certificate,
        make_checked(certificate, **checked),
        now,
        same_csr=same_csr,
        last_verified_at=last_verified_at,
        auto_validation_configured=(
            certificate.auto_validation_configured if auto_configured is None else auto_configured
        ),
    )


def trustasia_wildcard(**overrides):
    overrides.setdefault("brand", Brand.TRUSTASIA)
    overrides.setdefault("domain", "*.example.com")
    overrides.setdefault("subject_alt_names", ("*.example.com", "example.com"))
    overrides.setdefault("purchased_years", 2)
    overrides.setdefault("auto_validation_configured", True)
    return paid_dv(issued_at=LONG_AGO, **overrides)


# -- R16: free DV always validates --------------------------------------------------------


def test_free_dv_always_needs_domain_validation():
    # R16
    s = steps(free_dv(issued_at=LONG_AGO))
    assert s.flow == ReissueFlow.FREE_DV
    assert s.domain_validation_required is True
    assert s.manual_review_required is False
    assert s.waivers == ()
    assert s.initial_status == ReissueStatus.PENDING_DOMAIN_VALIDATION


def test_free_dv_validates_even_within_3_days_with_the_same_csr_and_a_recent_verification():
    # R16: never waived (R17 and R18 do not apply)
    cert = free_dv(issued_at=NOW - timedelta(hours=1))
    s = steps(cert, same_csr=True, last_verified_at=NOW - timedelta(days=1))
    assert s.domain_validation_required is True
    assert s.waivers == ()
    assert s.initial_status == ReissueStatus.PENDING_DOMAIN_VALIDATION


# -- R14: other-brand organization certificates -------------------------------------------


@pytest.mark.parametrize("level", [ValidationLevel.OV, ValidationLevel.EV])
def test_other_brand_organization_certificate_goes_to_ca_verification(level):
    # R14
    s = steps(organization_cert(Brand.DIGICERT, level, issued_at=LONG_AGO))
    assert s.flow == ReissueFlow.ORGANIZATION_OTHER_BRAND
    assert s.initial_status == ReissueStatus.PENDING_CA_VERIFICATION
    assert s.domain_validation_required is False
    assert s.manual_review_required is False


def test_other_brand_organization_certificate_goes_to_ca_verification_even_with_the_same_csr():
    # R14: the CA always verifies offline
    s = steps(organization_cert(Brand.GLOBALSIGN, issued_at=NOW - timedelta(hours=1)), same_csr=True)
    assert s.initial_status == ReissueStatus.PENDING_CA_VERIFICATION


# -- R17: within 3 days, or the same CSR ----------------------------------------------------


def test_paid_dv_submitted_72_hours_minus_a_second_after_issue_is_waived():
    # R17: less than 72 h
    s = steps(paid_dv(issued_at=NOW - timedelta(hours=72) + timedelta(seconds=1)))
    assert s.waivers == (Waiver.SUBMITTED_WITHIN_3_DAYS,)
    assert s.domain_validation_required is False
    assert s.initial_status == ReissueStatus.ISSUED


def test_three_days_count_from_the_original_issue_not_from_the_last_reissue():
    # R17: "the original issue time"; a reissue one day ago does not restart the window.
    from tests.unit.factories import make_version

    reissued = make_version(serial_number="02", issued_at=NOW - timedelta(days=1))
    original = make_version(serial_number="01", issued_at=NOW - timedelta(days=100), superseded_at=NOW - timedelta(days=1))
    s = steps(paid_dv(versions=(reissued, original), reissue_count=1))
    assert Waiver.SUBMITTED_WITHIN_3_DAYS not in s.waivers
    assert s.domain_validation_required is True


def test_paid_dv_submitted_exactly_72_hours_after_issue_needs_validation():
    # R17: "less than 3 days"
    s = steps(paid_dv(issued_at=NOW - timedelta(hours=72)))
    assert Waiver.SUBMITTED_WITHIN_3_DAYS not in s.waivers
    assert s.domain_validation_required is True
    assert s.initial_status == ReissueStatus.PENDING_DOMAIN_VALIDATION


def test_paid_dv_with_the_same_csr_is_waived():
    # R17
    s = steps(paid_dv(issued_at=LONG_AGO), same_csr=True)
    assert s.waivers == (Waiver.SAME_CSR,)
    assert s.domain_validation_required is False
    assert s.initial_status == ReissueStatus.ISSUED


def test_within_3_days_and_same_csr_are_both_recorded():
    # R17
    s = steps(paid_dv(issued_at=NOW - timedelta(hours=1)), same_csr=True)
    assert set(s.waivers) == {Waiver.SUBMITTED_WITHIN_3_DAYS, Waiver.SAME_CSR}


def test_paid_dv_with_a_different_csr_and_nothing_else_needs_domain_validation():
    # R15 / R17: a different CSR needs validation
    s = steps(paid_dv(issued_at=LONG_AGO), same_csr=False)
    assert s.flow == ReissueFlow.PAID_DV
    assert s.waivers == ()
    assert s.domain_validation_required is True
    assert s.manual_review_required is False
    assert s.initial_status == ReissueStatus.PENDING_DOMAIN_VALIDATION


# -- R18: paid DV extra waivers -------------------------------------------------------------


@pytest.mark.parametrize("years", [2, 3])
def test_trustasia_multi_year_wildcard_with_auto_validation_is_waived(years):
    # R18
    s = steps(trustasia_wildcard(purchased_years=years))
    assert s.waivers == (Waiver.AUTO_VALIDATION_CONFIGURED,)
    assert s.domain_validation_required is False
    assert s.initial_status == ReissueStatus.ISSUED


@pytest.mark.parametrize(
    "overrides",
    [
        {"purchased_years": 1},
        {"domain": "www.example.com", "subject_alt_names": ("www.example.com",)},
        {"brand": Brand.DIGICERT},
        {"brand": Brand.SECTIGO},
        {"auto_validation_configured": False},
    ],
    ids=["one-year", "not-wildcard", "digicert", "sectigo", "not-configured"],
)
def test_no_auto_validation_waiver_unless_every_r18_condition_holds(overrides):
    # R18: TrustAsia, 2- or 3-year, wildcard, automatic validation configured
    s = steps(trustasia_wildcard(**overrides))
    assert Waiver.AUTO_VALIDATION_CONFIGURED not in s.waivers
    assert s.domain_validation_required is True
    assert s.initial_status == ReissueStatus.PENDING_DOMAIN_VALIDATION


def test_auto_validation_waiver_comes_from_the_providers_fact_not_the_certificates_flag():
    # R18, R29: a flag stored on the certificate earns nothing; the service's finding decides
    flagged = trustasia_wildcard(auto_validation_configured=True)
    assert Waiver.AUTO_VALIDATION_CONFIGURED not in steps(flagged, auto_configured=False).waivers
    unflagged = trustasia_wildcard(auto_validation_configured=False)
    assert steps(unflagged, auto_configured=True).waivers == (Waiver.AUTO_VALIDATION_CONFIGURED,)


def test_auto_validation_waiver_is_only_for_paid_dv_not_free_dv():
    # R16 overrides R18
    cert = free_dv(
        brand=Brand.TRUSTASIA, domain="*.example.com", purchased_years=2, auto_validation_configured=True
    )
    assert steps(cert).waivers == ()


def test_a_verification_12_months_ago_is_waived():
    # R18: verified within the last 13 months
    s = steps(paid_dv(issued_at=LONG_AGO), last_verified_at=months_before(NOW, 12))
    assert s.waivers == (Waiver.VERIFIED_WITHIN_13_MONTHS,)
    assert s.initial_status == ReissueStatus.ISSUED


def test_a_verification_exactly_13_months_ago_is_still_waived():
    # R18: within the last 13 months, boundary included
    s = steps(paid_dv(issued_at=LONG_AGO), last_verified_at=months_before(NOW, 13))
    assert Waiver.VERIFIED_WITHIN_13_MONTHS in s.waivers


def test_a_verification_14_months_ago_is_not_waived():
    # R18
    s = steps(paid_dv(issued_at=LONG_AGO), last_verified_at=months_before(NOW, 14))
    assert s.waivers == ()
    assert s.initial_status == ReissueStatus.PENDING_DOMAIN_VALIDATION


def test_a_verification_13_months_and_a_second_ago_is_not_waived():
    # R18
    s = steps(paid_dv(issued_at=LONG_AGO), last_verified_at=months_before(NOW, 13) - timedelta(seconds=1))
    assert Waiver.VERIFIED_WITHIN_13_MONTHS not in s.waivers


def test_a_recent_verification_does_not_waive_an_organization_certificate():
    # R18 is for paid DV only; R13 waives validation only by R17
    cert = organization_cert(Brand.WOTRUS, issued_at=LONG_AGO)
    s = steps(cert, last_verified_at=NOW - timedelta(days=10))
    assert Waiver.VERIFIED_WITHIN_13_MONTHS not in s.waivers
    assert s.domain_validation_required is True


@pytest.mark.parametrize(
    "moment,months,expected",
    [
        (datetime(2026, 6, 1, tzinfo=UTC), 13, datetime(2025, 5, 1, tzinfo=UTC)),
        (datetime(2026, 3, 31, 12, tzinfo=UTC), 1, datetime(2026, 2, 28, 12, tzinfo=UTC)),
        (datetime(2024, 3, 31, tzinfo=UTC), 1, datetime(2024, 2, 29, tzinfo=UTC)),
        (datetime(2026, 1, 15, tzinfo=UTC), 1, datetime(2025, 12, 15, tzinfo=UTC)),
        (datetime(2026, 1, 15, tzinfo=UTC), 12, datetime(2025, 1, 15, tzinfo=UTC)),
    ],
)
def test_months_before_goes_back_calendar_months_clamped_to_the_month_end(moment, months, expected):
    # R18: "13 months" are calendar months
    assert months_before(moment, months) == expected


# -- R13: WoTrus / DNSPod organization flow -------------------------------------------------


@pytest.mark.parametrize("brand", [Brand.WOTRUS, Brand.DNSPOD])
def test_wotrus_dnspod_ov_with_the_organization_unchanged_skips_review(brand):
    # R13: ORGANIZATION_UNCHANGED
    cert = organization_cert(brand, organization_name="Example Ltd", issued_at=LONG_AGO)
    s = steps(cert, organization_name="Example Ltd")
    assert s.flow == ReissueFlow.ORGANIZATION_WOTRUS_DNSPOD
    assert Waiver.ORGANIZATION_UNCHANGED in s.waivers
    assert s.manual_review_required is False
    assert s.domain_validation_required is True
    assert s.initial_status == ReissueStatus.PENDING_DOMAIN_VALIDATION


def test_wotrus_ov_with_a_changed_organization_needs_manual_review():
    # R13
    cert = organization_cert(Brand.WOTRUS, organization_name="Example Ltd", issued_at=LONG_AGO)
    s = steps(cert, organization_name="Example Group")
    assert Waiver.ORGANIZATION_UNCHANGED not in s.waivers
    assert s.manual_review_required is True
    assert s.domain_validation_required is True
    assert s.initial_status == ReissueStatus.PENDING_DOMAIN_VALIDATION


def test_wotrus_ov_changed_organization_with_validation_waived_starts_in_review():
    # R13 + R17: validation waived by the same CSR, review still needed
    cert = organization_cert(Brand.WOTRUS, organization_name="Example Ltd", issued_at=LONG_AGO)
    s = steps(cert, same_csr=True, organization_name="Example Group")
    assert s.waivers == (Waiver.SAME_CSR,)
    assert s.domain_validation_required is False
    assert s.manual_review_required is True
    assert s.initial_status == ReissueStatus.PENDING_MANUAL_REVIEW


# -- R19: nothing required -> issued at once ------------------------------------------------


def test_wotrus_ov_same_csr_and_same_organization_is_issued_at_once():
    # R19 (R13 + R17 waive every step)
    cert = organization_cert(Brand.WOTRUS, organization_name="Example Ltd", issued_at=LONG_AGO)
    s = steps(cert, same_csr=True)
    assert set(s.waivers) == {Waiver.SAME_CSR, Waiver.ORGANIZATION_UNCHANGED}
    assert s.domain_validation_required is False
    assert s.manual_review_required is False
    assert s.initial_status == ReissueStatus.ISSUED


def test_dnspod_ev_within_3_days_same_organization_is_issued_at_once():
    # R19
    cert = organization_cert(Brand.DNSPOD, ValidationLevel.EV, issued_at=NOW - timedelta(hours=10))
    assert steps(cert).initial_status == ReissueStatus.ISSUED


def test_paid_dv_with_no_step_required_is_issued_at_once():
    # R19
    s = steps(paid_dv(issued_at=LONG_AGO), same_csr=True)
    assert (s.domain_validation_required, s.manual_review_required) == (False, False)
    assert s.initial_status == ReissueStatus.ISSUED


# -- R17: what "the same CSR" means (domain.x509.same_csr) ---------------------------------


def test_the_same_csr_with_other_pem_line_breaks_is_the_same_csr():
    # R17: compared by DER, not by PEM text
    pem = certs.issue("www.example.com").csr_pem
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    rewrapped = (
        "-----BEGIN CERTIFICATE REQUEST-----\r\n"
        + "\r\n".join(body[i : i + 76] for i in range(0, len(body), 76))
        + "\r\n-----END CERTIFICATE REQUEST-----\r\n"
    )
    assert same_csr(pem, rewrapped) is True


def test_a_csr_for_another_key_is_a_different_csr():
    # R17: a different CSR needs validation
    assert same_csr(certs.issue("www.example.com").csr_pem, certs.issue("www.example.com").csr_pem) is False


@pytest.mark.parametrize("other", [None, "", "not a csr"])
def test_a_missing_or_unreadable_csr_is_never_the_same_csr(other):
    # R17: no original CSR on file -> no SAME_CSR waiver
    pem = certs.issue("www.example.com").csr_pem
    assert same_csr(pem, other) is False
    assert same_csr(other, pem) is False


def test_an_untrusted_chain_earns_no_r17_or_r18_waiver():
    # R17/R18 rest on facts the certificate states about itself; an untrusted chain
    # (self-signed, unknown CA) cannot waive domain validation.
    certificate = paid_dv(
        issued_at=NOW - timedelta(hours=1),
        chain_trusted=False,
        brand=Brand.TRUSTASIA,
        domain="*.example.com",
        purchased_years=2,
        auto_validation_configured=True,
    )
    s = steps(certificate, same_csr=True, last_verified_at=NOW - timedelta(days=1))
    assert s.waivers == () and s.domain_validation_required is True


# -- R28: waivers need provenance -----------------------------------------------------------


def imported(*, chain_trusted: bool = True, key_verified: bool = True, reason: str | None = None, **overrides):
    """A certificate imported with (or without) a trusted chain and its key."""
    version = make_version(
        issued_at=overrides.pop("issued_at", LONG_AGO),
        provenance=Provenance.IMPORTED,
        chain_trusted=chain_trusted,
        key_verified=key_verified,
        chain_untrusted_reason=reason if not chain_trusted else None,
    )
    factory = overrides.pop("factory", paid_dv)
    return factory(version=version, **overrides)


@pytest.mark.parametrize(
    ("chain_trusted", "key_verified", "says"),
    [
        (True, False, "private key was not supplied"),
        (False, True, "path validation"),
        (False, False, "path validation"),
    ],
)
def test_an_import_without_provenance_earns_no_r17_waiver_and_the_preview_says_why(chain_trusted, key_verified, says):
    # R28: SUBMITTED_WITHIN_3_DAYS and SAME_CSR need a trusted chain and the key
    cert = imported(chain_trusted=chain_trusted, key_verified=key_verified, reason="validation failed: x",
                    issued_at=NOW - timedelta(hours=1))
    s = steps(cert, same_csr=True)
    assert s.waivers == () and s.domain_validation_required is True
    assert s.initial_status == ReissueStatus.PENDING_DOMAIN_VALIDATION
    assert says in s.waivers_unavailable_reason and "R28" in s.waivers_unavailable_reason


def test_an_import_with_a_trusted_chain_and_its_key_earns_the_waivers():
    # R28
    s = steps(imported(issued_at=NOW - timedelta(hours=1)), same_csr=True)
    assert s.waivers == (Waiver.SUBMITTED_WITHIN_3_DAYS, Waiver.SAME_CSR)
    assert s.waivers_unavailable_reason is None


def test_without_provenance_r18_waivers_are_withheld_too():
    # R28: AUTO_VALIDATION_CONFIGURED and VERIFIED_WITHIN_13_MONTHS
    cert = imported(key_verified=False, brand=Brand.TRUSTASIA, domain="*.example.com",
                    subject_alt_names=("*.example.com",), purchased_years=2, auto_validation_configured=True)
    s = steps(cert, last_verified_at=NOW - timedelta(days=30))
    assert s.waivers == () and s.domain_validation_required is True
    assert s.waivers_unavailable_reason is not None


def test_no_reason_is_given_when_no_waiver_would_have_applied_anyway():
    # the contract: null unless the timing would allow a waiver
    s = steps(imported(key_verified=False))
    assert s.domain_validation_required is True and s.waivers_unavailable_reason is None


def test_an_other_brand_certificate_without_provenance_is_validated_before_the_cas_check():
    # R28 + R14: "any other certificate needs domain validation on every reissue"
    cert = imported(key_verified=False, factory=organization_cert, brand=Brand.DIGICERT)
    s = steps(cert)
    assert s.flow == ReissueFlow.ORGANIZATION_OTHER_BRAND
    assert s.initial_status == ReissueStatus.PENDING_DOMAIN_VALIDATION and s.domain_validation_required is True
    assert "R28" in s.waivers_unavailable_reason
    trusted = steps(imported(factory=organization_cert, brand=Brand.DIGICERT))
    assert trusted.initial_status == ReissueStatus.PENDING_CA_VERIFICATION and trusted.waivers_unavailable_reason is None


def test_a_not_before_in_the_future_is_not_within_three_days():
    # R17: "less than 3 days after the original issue time" is never before it
    cert = imported(issued_at=NOW + timedelta(days=3650))
    assert Waiver.SUBMITTED_WITHIN_3_DAYS not in steps(cert).waivers


def test_the_original_issue_time_is_the_oldest_version_that_is_evidence():
    # R17 + R28: an untrusted import's notBefore says nothing; the first version issued
    # here does
    untrusted = make_version(serial_number="01", issued_at=NOW - timedelta(hours=1), chain_trusted=False, key_verified=False)
    issued_here = make_version(serial_number="02", issued_at=NOW - timedelta(days=10), provenance=Provenance.ISSUED_HERE,
                               chain_trusted=True, key_verified=True)
    cert = paid_dv(versions=(issued_here, untrusted))
    assert original_issue_time(cert) == NOW - timedelta(days=10)
    assert Waiver.SUBMITTED_WITHIN_3_DAYS not in steps(cert).waivers
    nothing = paid_dv(versions=(untrusted,))
    assert original_issue_time(nothing) is None


def test_a_certificate_issued_here_earns_waivers_whatever_its_import_was():
    # R28: ISSUED_HERE
    untrusted = make_version(serial_number="01", issued_at=NOW - timedelta(days=30), chain_trusted=False, key_verified=False)
    issued_here = make_version(serial_number="02", issued_at=NOW - timedelta(hours=2), provenance=Provenance.ISSUED_HERE,
                               chain_trusted=True, key_verified=False)
    s = steps(paid_dv(versions=(issued_here, untrusted)), same_csr=True)
    assert s.waivers == (Waiver.SUBMITTED_WITHIN_3_DAYS, Waiver.SAME_CSR)
