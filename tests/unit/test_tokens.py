"""R26: account tokens hold owner or viewer, staff tokens reviewer or operator; tokens
expire and can be revoked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import InvalidInput
from domain.model import Caller, Role
from domain.tokens import TokenRecord, check_token_request, parse_lifetime

NOW = datetime(2026, 11, 30, tzinfo=UTC)


@pytest.mark.parametrize("role", [Role.OWNER, Role.VIEWER])
def test_an_account_token_holds_an_account_role(role):
    assert check_token_request(account=" acme ", staff=False, role=role) == "acme"


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.OPERATOR])
def test_a_staff_token_holds_a_staff_role_and_no_account(role):
    assert check_token_request(account=None, staff=True, role=role) is None


@pytest.mark.parametrize(
    ("account", "staff", "role"),
    [
        ("acme", False, Role.REVIEWER),  # a customer never reviews
        ("acme", False, Role.OPERATOR),  # nor confirms its own reissue
        (None, True, Role.OWNER),
        (None, True, Role.VIEWER),
        ("acme", True, Role.REVIEWER),  # staff belong to no account
        (None, False, Role.OWNER),
        ("", False, Role.OWNER),
        ("a\nb", False, Role.OWNER),
        ("x" * 101, False, Role.OWNER),
    ],
)
def test_a_role_of_the_wrong_kind_is_refused(account, staff, role):
    # R26
    with pytest.raises(InvalidInput):
        check_token_request(account=account, staff=staff, role=role)


@pytest.mark.parametrize(
    ("text", "lifetime"),
    [("90d", timedelta(days=90)), ("12h", timedelta(hours=12)), ("30m", timedelta(minutes=30)),
     ("3600s", timedelta(hours=1)), ("2w", timedelta(weeks=2)), (" 7 d ", timedelta(days=7))],
)
def test_a_lifetime_is_a_number_and_a_unit(text, lifetime):
    assert parse_lifetime(text) == lifetime


@pytest.mark.parametrize("text", ["", "90", "d", "1y", "-5d", "0m", "59s", "3651d", "1.5d"])
def test_a_bad_lifetime_is_refused(text):
    with pytest.raises(InvalidInput):
        parse_lifetime(text)


def test_a_token_works_until_it_expires_or_is_revoked():
    # R26
    record = TokenRecord("tok_1", "acme", Role.OWNER, NOW, NOW + timedelta(days=90))
    assert record.usable_at(NOW) is True
    assert record.usable_at(NOW + timedelta(days=90)) is False
    revoked = TokenRecord("tok_1", "acme", Role.OWNER, NOW, NOW + timedelta(days=90), revoked_at=NOW)
    assert revoked.usable_at(NOW) is False


def test_a_staff_caller_reads_any_account_and_an_account_caller_only_its_own():
    # R26
    staff = Caller(None, Role.REVIEWER, "tok_s")
    owner = Caller("acme", Role.OWNER, "tok_o")
    assert staff.is_staff and staff.scope is None and staff.may_read("acme") and staff.may_read("other")
    assert not owner.is_staff and owner.scope == "acme" and owner.may_read("acme") and not owner.may_read("other")
    assert staff.actor == "staff/reviewer/tok_s" and owner.actor == "acme/owner"
