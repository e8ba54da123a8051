"""The reissue status machine, overdue reissues, lock liveness and reminders
(R13-R16, R19, R22, R24, R25)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from domain.errors import ErrorCode, InvalidInput
from domain.reissues import ACTIVE_STATUSES, ReissueFlow, ReissueStatus
from domain.rules import (
    ALLOWED_TRANSITIONS,
    LOCK_GRACE,
    after_domain_validation,
    check_reminder,
    check_transition,
    is_overdue,
    is_valid_history,
    lock_is_live,
)
from tests.unit.factories import NOW, make_reissue

S = ReissueStatus
TERMINAL = [S.ISSUED, S.REJECTED, S.CANCELLED, S.EXPIRED]

# The machine as DOMAIN.md describes it, written out independently of domain/rules.py.
SPEC_EDGES = {
    # creation: the initial status chosen by required_steps (R13-R16, R19)
    (None, S.PENDING_DOMAIN_VALIDATION),
    (None, S.PENDING_MANUAL_REVIEW),
    (None, S.PENDING_CA_VERIFICATION),
    (None, S.ISSUED),
    # R13 / R15 / R16: validation, then review or issuance
    (S.PENDING_DOMAIN_VALIDATION, S.PENDING_MANUAL_REVIEW),
    (S.PENDING_DOMAIN_VALIDATION, S.ISSUED),
    # R22: approve or reject
    (S.PENDING_MANUAL_REVIEW, S.ISSUED),
    (S.PENDING_MANUAL_REVIEW, S.REJECTED),
    # R14: the operator records the CA's confirmation
    (S.PENDING_CA_VERIFICATION, S.ISSUED),
    # R28 + R14: a certificate without provenance is validated before the CA's check
    (S.PENDING_DOMAIN_VALIDATION, S.PENDING_CA_VERIFICATION),
    # R24: cancel or expire anything not yet issued
    *((s, S.CANCELLED) for s in ACTIVE_STATUSES),
    *((s, S.EXPIRED) for s in ACTIVE_STATUSES),
}


def test_the_active_statuses_are_the_three_pending_ones():
    # R24: "not yet issued" and not ended
    assert ACTIVE_STATUSES == {S.PENDING_DOMAIN_VALIDATION, S.PENDING_MANUAL_REVIEW, S.PENDING_CA_VERIFICATION}
    assert all(s.is_active for s in ACTIVE_STATUSES)
    assert not any(s.is_active for s in TERMINAL)


def test_the_allowed_transitions_are_the_machine_of_domain_md():
    # R13-R16, R19, R22, R24
    assert set(ALLOWED_TRANSITIONS) == SPEC_EDGES


@pytest.mark.parametrize("source,target", list(itertools.product(list(S), list(S))))
def test_check_transition_allows_exactly_the_edges_of_the_machine(source, target):
    # R25: every state change is an edge of the machine
    reissue = make_reissue(status=source)
    if (source, target) in ALLOWED_TRANSITIONS:
        check_transition(reissue, target, "move")
    else:
        with pytest.raises(InvalidInput) as info:
            check_transition(reissue, target, "move")
        assert info.value.code == ErrorCode.INVALID_STATE


def test_cancelling_an_issued_reissue_is_invalid_state():
    # R24: only a reissue that is not yet issued can be cancelled
    with pytest.raises(InvalidInput) as info:
        check_transition(make_reissue(id="reissue-7", status=S.ISSUED), S.CANCELLED, "cancel")
    err = info.value
    assert err.code == ErrorCode.INVALID_STATE
    assert err.field == ["reissueId"]
    assert "cancel" in err.message and "reissue-7" in err.message and "ISSUED" in err.message


def test_rejecting_a_reissue_pending_domain_validation_is_invalid_state():
    # R13 / R22: a review decision comes after validation. (Approving is PDV -> ISSUED, the same
    # edge as a successful validation, so check_transition alone cannot refuse it: the service
    # checks the status as well.)
    with pytest.raises(InvalidInput) as info:
        check_transition(make_reissue(status=S.PENDING_DOMAIN_VALIDATION), S.REJECTED, "reject")
    assert info.value.code == ErrorCode.INVALID_STATE


def test_approving_a_rejected_reissue_is_invalid_state():
    # R22: a rejection is final
    with pytest.raises(InvalidInput) as info:
        check_transition(make_reissue(status=S.REJECTED), S.ISSUED, "approve")
    assert info.value.code == ErrorCode.INVALID_STATE


def test_a_reissue_pending_ca_verification_cannot_go_to_review():
    # R14: the other-brand flow has no manual review
    with pytest.raises(InvalidInput) as info:
        check_transition(make_reissue(status=S.PENDING_CA_VERIFICATION), S.PENDING_MANUAL_REVIEW, "review")
    assert info.value.code == ErrorCode.INVALID_STATE


@pytest.mark.parametrize("status", sorted(ACTIVE_STATUSES))
def test_any_active_reissue_can_be_cancelled_or_expire(status):
    # R24
    check_transition(make_reissue(status=status), S.CANCELLED, "cancel")
    check_transition(make_reissue(status=status), S.EXPIRED, "expire")


@pytest.mark.parametrize("status", TERMINAL)
@pytest.mark.parametrize("target", list(S))
def test_a_terminal_reissue_never_moves_again(status, target):
    # R24 / R25: ended is ended
    with pytest.raises(InvalidInput) as info:
        check_transition(make_reissue(status=status), target, "move")
    assert info.value.code == ErrorCode.INVALID_STATE


# -- is_valid_history (R25) ------------------------------------------------------------------


@pytest.mark.parametrize(
    "history",
    [
        [S.ISSUED],
        [S.PENDING_DOMAIN_VALIDATION, S.ISSUED],
        [S.PENDING_DOMAIN_VALIDATION, S.PENDING_MANUAL_REVIEW, S.ISSUED],
        [S.PENDING_DOMAIN_VALIDATION, S.PENDING_MANUAL_REVIEW, S.REJECTED],
        [S.PENDING_MANUAL_REVIEW, S.ISSUED],
        [S.PENDING_CA_VERIFICATION, S.ISSUED],
        [S.PENDING_CA_VERIFICATION, S.CANCELLED],
        [S.PENDING_DOMAIN_VALIDATION, S.EXPIRED],
        [S.PENDING_DOMAIN_VALIDATION, S.PENDING_MANUAL_REVIEW, S.CANCELLED],
        [S.PENDING_DOMAIN_VALIDATION],
    ],
)
def test_paths_of_the_machine_are_valid_histories(history):
    # R25
    assert is_valid_history(history) is True


@pytest.mark.parametrize(
    "history",
    [
        [],
        [S.REJECTED],
        [S.CANCELLED],
        [S.EXPIRED],
        [S.ISSUED, S.CANCELLED],
        [S.PENDING_DOMAIN_VALIDATION, S.REJECTED],
        [S.PENDING_CA_VERIFICATION, S.PENDING_MANUAL_REVIEW],
        [S.PENDING_MANUAL_REVIEW, S.PENDING_DOMAIN_VALIDATION],
        [S.PENDING_DOMAIN_VALIDATION, S.PENDING_DOMAIN_VALIDATION],
        [S.PENDING_DOMAIN_VALIDATION, S.CANCELLED, S.ISSUED],
        [S.PENDING_MANUAL_REVIEW, S.REJECTED, S.ISSUED],
    ],
)
def test_other_sequences_are_not_valid_histories(history):
    # R25
    assert is_valid_history(history) is False


# -- after_domain_validation (R13, R15, R16) -------------------------------------------------


def test_after_validation_a_reissue_needing_review_goes_to_review():
    # R13
    reissue = make_reissue(manual_review_required=True)
    assert after_domain_validation(reissue) == S.PENDING_MANUAL_REVIEW


def test_after_validation_a_reissue_without_review_is_issued():
    # R15 / R16
    reissue = make_reissue(manual_review_required=False)
    assert after_domain_validation(reissue) == S.ISSUED


def test_after_validation_an_other_brand_reissue_waits_for_the_ca():
    # R28 then R14: validation first (no provenance), then the CA's offline check
    reissue = make_reissue(flow=ReissueFlow.ORGANIZATION_OTHER_BRAND, manual_review_required=False)
    assert after_domain_validation(reissue) == S.PENDING_CA_VERIFICATION


# -- is_overdue (R24) --------------------------------------------------------------------


@pytest.mark.parametrize("status", sorted(ACTIVE_STATUSES))
def test_an_active_reissue_past_its_lifetime_is_overdue(status):
    # R24
    assert is_overdue(make_reissue(status=status, expires_at=NOW - timedelta(seconds=1)), NOW) is True


def test_an_active_reissue_at_exactly_its_expiry_is_overdue():
    # R24
    assert is_overdue(make_reissue(expires_at=NOW), NOW) is True


def test_an_active_reissue_within_its_lifetime_is_not_overdue():
    # R24
    assert is_overdue(make_reissue(expires_at=NOW + timedelta(seconds=1)), NOW) is False


@pytest.mark.parametrize("status", TERMINAL)
def test_an_ended_reissue_is_never_overdue(status):
    # R24: only active reissues expire
    assert is_overdue(make_reissue(status=status, expires_at=NOW - timedelta(days=30)), NOW) is False


# -- lock_is_live (R24: a lock carries a lease) ----------------------------------------------


def test_a_lock_without_a_reissue_is_live_within_its_grace():
    # R24
    taken = NOW - timedelta(seconds=5)
    assert lock_is_live(pending_until=taken + LOCK_GRACE, reissue=None, now=NOW) is True


def test_a_lock_without_a_reissue_is_dead_after_its_grace():
    # R24: a lock whose holder died is never permanent
    assert lock_is_live(pending_until=NOW - timedelta(seconds=1), reissue=None, now=NOW) is False
    assert lock_is_live(pending_until=NOW, reissue=None, now=NOW) is False


@pytest.mark.parametrize("status", sorted(ACTIVE_STATUSES))
def test_a_lock_of_an_active_reissue_within_its_lifetime_is_live(status):
    # R3 / R24
    reissue = make_reissue(status=status, expires_at=NOW + timedelta(days=1))
    assert lock_is_live(pending_until=NOW - timedelta(days=1), reissue=reissue, now=NOW) is True


@pytest.mark.parametrize("status", TERMINAL)
def test_a_lock_of_an_ended_reissue_is_dead(status):
    # R23 / R24: issuing (once the certificate has the new version), cancelling,
    # rejecting or expiring releases the lock
    reissue = make_reissue(status=status, expires_at=NOW + timedelta(days=1), applied=True)
    assert lock_is_live(pending_until=NOW + timedelta(days=1), reissue=reissue, now=NOW) is False


def test_a_lock_of_an_issued_reissue_lives_until_the_certificate_has_the_new_version():
    # R23: the locks are released only after the new version is recorded, so a second
    # reissue cannot start from the certificate as it was before.
    reissue = make_reissue(status=S.ISSUED, expires_at=NOW - timedelta(days=1), applied=False)
    assert lock_is_live(pending_until=NOW - timedelta(days=1), reissue=reissue, now=NOW) is True


def test_a_lock_of_an_active_reissue_past_its_lifetime_is_dead():
    # R24: the lease ends with the reissue's lifetime even before the sweeper expires it
    reissue = make_reissue(status=S.PENDING_MANUAL_REVIEW, expires_at=NOW - timedelta(seconds=1))
    assert lock_is_live(pending_until=NOW + timedelta(days=1), reissue=reissue, now=NOW) is False


# -- check_reminder (R22) --------------------------------------------------------------------


@pytest.mark.parametrize("status", [s for s in S if s != S.PENDING_MANUAL_REVIEW])
def test_reminding_a_reissue_not_in_review_is_invalid_state(status):
    # R22: reminders only while in review
    with pytest.raises(InvalidInput) as info:
        check_reminder(make_reissue(status=status), NOW)
    assert info.value.code == ErrorCode.INVALID_STATE
    assert info.value.field == ["reissueId"]


def test_a_first_reminder_is_allowed():
    # R22
    check_reminder(make_reissue(status=S.PENDING_MANUAL_REVIEW, reminded_at=None), NOW)


def test_reminding_23_hours_after_the_last_reminder_is_rate_limited_naming_when():
    # R22: at most once per 24 hours per reissue
    last = NOW - timedelta(hours=23)
    with pytest.raises(InvalidInput) as info:
        check_reminder(make_reissue(status=S.PENDING_MANUAL_REVIEW, reminded_at=last, reminder_count=1), NOW)
    err = info.value
    assert err.code == ErrorCode.RATE_LIMITED
    assert err.field == ["reissueId"]
    assert (last + timedelta(hours=24)).isoformat() in err.message
    assert "1 h" in err.message


def test_reminding_one_second_after_the_last_reminder_is_rate_limited_for_about_24_hours():
    # R22
    last = NOW - timedelta(seconds=1)
    with pytest.raises(InvalidInput) as info:
        check_reminder(make_reissue(status=S.PENDING_MANUAL_REVIEW, reminded_at=last), NOW)
    assert info.value.code == ErrorCode.RATE_LIMITED
    assert "24 h" in info.value.message


def test_reminding_24_hours_after_the_last_reminder_is_allowed():
    # R22
    last = NOW - timedelta(hours=24)
    check_reminder(make_reissue(status=S.PENDING_MANUAL_REVIEW, reminded_at=last, reminder_count=1), NOW)
