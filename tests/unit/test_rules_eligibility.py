"""Flow selection (DOMAIN.md "Words") and eligibility (R1-R4): pure, with `now` fixed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import ErrorCode
from domain.model import Brand, CertificateStatus, KeyAlgorithm, ValidationLevel
from domain.reissues import ReissueFlow, ReissueStatus
from domain.rules import LockHolder, eligibility_errors, flow_for
from tests.unit.factories import NOW, free_dv, make_certificate, make_reissue, organization_cert, paid_dv

OTHER_BRANDS = [Brand.TRUSTASIA, Brand.DIGICERT, Brand.GEOTRUST, Brand.GLOBALSIGN, Brand.SECTIGO]


def codes(errors) -> list[ErrorCode]:
    return [e.code for e in errors]


def check(certificate, *, active_reissue=None, lock=None, now=NOW):
    return eligibility_errors(certificate, now, active_reissue=active_reissue, domain_lock_holder=lock)


# -- flow_for: the flow table ------------------------------------------------------------


@pytest.mark.parametrize("level", [ValidationLevel.OV, ValidationLevel.EV])
@pytest.mark.parametrize("brand", [Brand.WOTRUS, Brand.DNSPOD])
def test_ov_and_ev_of_wotrus_or_dnspod_follow_the_wotrus_dnspod_organization_flow(brand, level):
    """Flow table row 1: OV/EV, brand WoTrus or DNSPod."""
    assert flow_for(organization_cert(brand, level)) == ReissueFlow.ORGANIZATION_WOTRUS_DNSPOD


@pytest.mark.parametrize("level", [ValidationLevel.OV, ValidationLevel.EV])
def test_dnspod_sm2_organization_certificate_follows_the_wotrus_dnspod_flow(level):
    """Flow table row 1: "incl. DNSPod SM2"."""
    cert = organization_cert(Brand.DNSPOD, level, key_algorithm=KeyAlgorithm.SM2, key_parameter="sm2p256v1")
    assert flow_for(cert) == ReissueFlow.ORGANIZATION_WOTRUS_DNSPOD


@pytest.mark.parametrize("level", [ValidationLevel.OV, ValidationLevel.EV])
@pytest.mark.parametrize("brand", OTHER_BRANDS)
def test_ov_and_ev_of_any_other_brand_follow_the_other_brand_flow(brand, level):
    """Flow table row 2: OV/EV, any other brand."""
    assert flow_for(organization_cert(brand, level)) == ReissueFlow.ORGANIZATION_OTHER_BRAND


@pytest.mark.parametrize("brand", list(Brand))
def test_paid_dv_follows_the_paid_dv_flow_whatever_the_brand(brand):
    """Flow table row 3: DV, paid."""
    assert flow_for(paid_dv(brand=brand)) == ReissueFlow.PAID_DV


@pytest.mark.parametrize("brand", list(Brand))
def test_free_dv_follows_the_free_dv_flow_whatever_the_brand(brand):
    """Flow table row 4: DV, free."""
    assert flow_for(free_dv(brand=brand)) == ReissueFlow.FREE_DV


# -- R1: issued, and more than 30 days left ------------------------------------------------


def test_an_issued_certificate_with_a_year_left_and_no_reissue_is_eligible():
    # R1-R4 all satisfied
    assert check(make_certificate()) == []


@pytest.mark.parametrize(
    "status", [CertificateStatus.REVOKED, CertificateStatus.PENDING_ISSUE, CertificateStatus.EXPIRED]
)
def test_a_certificate_that_is_not_issued_gets_certificate_not_issued(status):
    # R1
    errors = check(make_certificate(status=status))
    assert codes(errors) == [ErrorCode.CERTIFICATE_NOT_ISSUED]
    assert errors[0].field == ["input", "certificateId"]
    assert status.value in errors[0].message


def test_an_issued_certificate_past_its_not_after_counts_as_expired_and_not_issued():
    # R1: the stored status says ISSUED but notAfter has passed
    cert = make_certificate(not_after=NOW - timedelta(seconds=1))
    errors = check(cert)
    assert codes(errors) == [ErrorCode.CERTIFICATE_NOT_ISSUED]
    assert "EXPIRED" in errors[0].message


def test_not_after_exactly_now_counts_as_expired():
    # R1
    assert codes(check(make_certificate(not_after=NOW))) == [ErrorCode.CERTIFICATE_NOT_ISSUED]


def test_exactly_30_days_left_is_refused_with_expires_within_30_days():
    # R1: notAfter must be *more* than 30 days after now
    errors = check(make_certificate(not_after=NOW + timedelta(days=30)))
    assert codes(errors) == [ErrorCode.EXPIRES_WITHIN_30_DAYS]
    assert errors[0].field == ["input", "certificateId"]


def test_30_days_and_one_second_left_is_eligible():
    # R1
    assert check(make_certificate(not_after=NOW + timedelta(days=30, seconds=1))) == []


def test_a_day_left_is_refused_with_expires_within_30_days():
    # R1
    assert codes(check(make_certificate(not_after=NOW + timedelta(days=1)))) == [ErrorCode.EXPIRES_WITHIN_30_DAYS]


# -- R2: one reissue in the life of a free DV certificate ---------------------------------


def test_a_free_dv_certificate_never_reissued_is_eligible():
    # R2
    assert check(free_dv(reissue_count=0)) == []


def test_a_free_dv_certificate_reissued_once_gets_free_reissue_limit_reached():
    # R2
    errors = check(free_dv(reissue_count=1))
    assert codes(errors) == [ErrorCode.FREE_REISSUE_LIMIT_REACHED]
    assert errors[0].field == ["input", "certificateId"]


def test_a_paid_dv_certificate_reissued_five_times_is_still_eligible():
    # R2 limits only free DV
    assert check(paid_dv(reissue_count=5)) == []


def test_an_organization_certificate_reissued_many_times_is_still_eligible():
    # R2 limits only free DV
    assert check(organization_cert(reissue_count=7)) == []


# -- R4: one reissue at a time per certificate ---------------------------------------------


def test_a_certificate_with_an_active_reissue_gets_reissue_in_progress():
    # R4
    active = make_reissue(id="reissue-42", status=ReissueStatus.PENDING_MANUAL_REVIEW)
    errors = check(make_certificate(), active_reissue=active)
    assert codes(errors) == [ErrorCode.REISSUE_IN_PROGRESS]
    assert "reissue-42" in errors[0].message
    assert errors[0].field == ["input", "certificateId"]


def test_reissue_in_progress_wins_over_the_lock_its_own_reissue_holds():
    # R4 (and R3: the lock is held for this very certificate)
    active = make_reissue(id="reissue-42")
    lock = LockHolder(reissue_id="reissue-42", certificate_id="cert-1", certificate_domain="www.example.com")
    assert codes(check(make_certificate(), active_reissue=active, lock=lock)) == [ErrorCode.REISSUE_IN_PROGRESS]


# -- R3: the primary-domain lock ------------------------------------------------------------


def test_a_domain_lock_held_by_another_certificate_gets_primary_domain_locked_naming_it():
    # R3: the message names the certificate being reissued
    lock = LockHolder(reissue_id="reissue-9", certificate_id="cert-other", certificate_domain="shop.example.com")
    errors = check(make_certificate(id="cert-1"), lock=lock)
    assert codes(errors) == [ErrorCode.PRIMARY_DOMAIN_LOCKED]
    message = errors[0].message
    assert "cert-other" in message
    assert "shop.example.com" in message
    assert "example.com" in message
    assert errors[0].field == ["input", "certificateId"]


def test_a_domain_lock_without_a_known_domain_still_names_the_certificate():
    # R3
    lock = LockHolder(reissue_id="reissue-9", certificate_id="cert-other")
    errors = check(make_certificate(id="cert-1"), lock=lock)
    assert codes(errors) == [ErrorCode.PRIMARY_DOMAIN_LOCKED]
    assert "cert-other" in errors[0].message


def test_a_domain_lock_held_for_the_same_certificate_is_not_primary_domain_locked():
    # R3 is about *another* certificate under the same primary domain
    lock = LockHolder(reissue_id="reissue-9", certificate_id="cert-1", certificate_domain="www.example.com")
    assert ErrorCode.PRIMARY_DOMAIN_LOCKED not in codes(check(make_certificate(id="cert-1"), lock=lock))


# -- several reasons at once -------------------------------------------------------------


def test_every_reason_is_reported_at_once():
    # R1 + R2 + R3
    cert = free_dv(reissue_count=1, not_after=NOW + timedelta(days=10))
    lock = LockHolder(reissue_id="reissue-9", certificate_id="cert-other", certificate_domain="a.example.com")
    assert set(codes(check(cert, lock=lock))) == {
        ErrorCode.EXPIRES_WITHIN_30_DAYS,
        ErrorCode.FREE_REISSUE_LIMIT_REACHED,
        ErrorCode.PRIMARY_DOMAIN_LOCKED,
    }


def test_not_issued_limit_reached_and_in_progress_are_all_reported():
    # R1 + R2 + R4
    cert = free_dv(reissue_count=1, status=CertificateStatus.REVOKED)
    errors = check(cert, active_reissue=make_reissue())
    assert set(codes(errors)) == {
        ErrorCode.CERTIFICATE_NOT_ISSUED,
        ErrorCode.FREE_REISSUE_LIMIT_REACHED,
        ErrorCode.REISSUE_IN_PROGRESS,
    }
