"""The `certificates` connection: keyset pagination, the page-size cap, argument errors
and every filter of `CertificateFilter` (contract.graphql; DOMAIN.md "Words")."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta, timezone

import uuid

import pytest

from domain.certificates import MAX_PAGE_SIZE
from domain.model import Role
from tests import certs
from tests.conftest import GraphQLClient, new_token
from tests.integration.test_upload_certificate import upload

LIST = """
query List($first: Int, $after: String, $filter: CertificateFilter) {
  certificates(first: $first, after: $after, filter: $filter) {
    edges { cursor node { id domain primaryDomain status notAfter } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
"""

NOW = datetime.now(UTC)


async def upload_ok(client, issued: certs.Issued) -> dict:
    result = await upload(client, issued)
    assert result["userErrors"] == [], result["userErrors"]
    return result["certificate"]


async def upload_many(client, names: list[str], *, batch: int = 10) -> list[str]:
    """Uploads one certificate per name (a few at a time); returns their IDs."""
    ids: list[str] = []
    for start in range(0, len(names), batch):
        chunk = [certs.issue(n) for n in names[start : start + batch]]
        done = await asyncio.gather(*(upload_ok(client, i) for i in chunk))
        ids.extend(c["id"] for c in done)
    return ids


async def listing(client, *, first: int | None = None, after: str | None = None, filter: dict | None = None) -> dict:
    variables: dict = {}
    if first is not None:
        variables["first"] = first
    if after is not None:
        variables["after"] = after
    if filter is not None:
        variables["filter"] = filter
    return (await client(LIST, variables))["certificates"]


def ids_of(connection: dict) -> list[str]:
    return [e["node"]["id"] for e in connection["edges"]]


def domains_of(connection: dict) -> set[str]:
    return {e["node"]["domain"] for e in connection["edges"]}


async def walk(client, *, first: int, between_pages=None, filter: dict | None = None) -> list[dict]:
    """Every page from the start, following endCursor; `between_pages(n)` runs after page n."""
    pages: list[dict] = []
    after = None
    while True:
        page = await listing(client, first=first, after=after, filter=filter)
        pages.append(page)
        assert len(pages) < 100, "the walk does not end"
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]
        if between_pages is not None:
            await between_pages(len(pages))


# -- pagination ---------------------------------------------------------------------------


async def test_walking_the_pages_sees_every_certificate_exactly_once(owner):
    uploaded = await upload_many(owner, [f"h{i}.example{i % 3}.com" for i in range(25)])

    pages = await walk(owner, first=7)

    seen = [i for page in pages for i in ids_of(page)]
    assert len(seen) == len(set(seen)) == 25
    assert set(seen) == set(uploaded)
    assert [len(p["edges"]) for p in pages] == [7, 7, 7, 4]
    assert all(p["totalCount"] == 25 for p in pages)
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [True, True, True, False]
    for page in pages:
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        assert all(isinstance(e["cursor"], str) and e["cursor"] for e in page["edges"])


async def test_the_end_cursor_of_a_page_resumes_right_after_its_last_certificate(owner):
    await upload_many(owner, [f"r{i}.resume.example.com" for i in range(9)])
    whole = await listing(owner, first=9)
    assert whole["pageInfo"]["hasNextPage"] is False
    order = ids_of(whole)

    first_page = await listing(owner, first=4)
    assert ids_of(first_page) == order[:4]
    rest = await listing(owner, first=20, after=first_page["pageInfo"]["endCursor"])
    assert ids_of(rest) == order[4:]
    # The cursor of any edge works as `after`, not only the page's last one.
    from_middle = await listing(owner, first=3, after=whole["edges"][1]["cursor"])
    assert ids_of(from_middle) == order[2:5]


async def test_a_page_past_the_last_certificate_is_empty_with_no_end_cursor(owner):
    await upload_many(owner, ["only.example.com", "second.example.com"])
    page = await listing(owner, first=2)
    assert page["pageInfo"]["hasNextPage"] is False
    after_last = await listing(owner, first=2, after=page["pageInfo"]["endCursor"])
    assert after_last["edges"] == []
    assert after_last["pageInfo"] == {"hasNextPage": False, "endCursor": None}
    assert after_last["totalCount"] == 2


async def test_an_empty_account_has_an_empty_first_page(client_for, new_account):
    client = await client_for(new_account("empty"), "owner")
    page = await listing(client)
    assert page == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}, "totalCount": 0}


async def test_uploads_during_a_walk_neither_repeat_nor_hide_certificates_that_existed_before(owner):
    before = await upload_many(owner, [f"c{i}.concurrent{i % 4}.example.com" for i in range(20)])
    added: list[str] = []
    counter = iter(range(1000))

    async def upload_more(n: int) -> None:
        # Between page fetches...
        batch = [certs.issue(f"new{next(counter)}.during.example.com") for _ in range(3)]
        done = await asyncio.gather(*(upload_ok(owner, i) for i in batch))
        added.extend(c["id"] for c in done)

    pages: list[dict] = []
    after = None
    while True:
        # ...and at the same time as the fetch itself.
        racing = [certs.issue(f"race{next(counter)}.during.example.com") for _ in range(2)]
        page, *raced = await asyncio.gather(
            listing(owner, first=7, after=after), *(upload_ok(owner, i) for i in racing)
        )
        added.extend(c["id"] for c in raced)
        pages.append(page)
        assert len(pages) < 50, "the walk does not end"
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        await upload_more(len(pages))

    seen = [i for page in pages for i in ids_of(page)]
    assert len(seen) == len(set(seen)), "a certificate appeared on two pages"
    assert set(before) <= set(seen)
    assert set(seen) <= set(before) | set(added)
    assert len(added) >= 6
    # Nothing was lost: the account now holds them all.
    final = await listing(owner, first=1)
    assert final["totalCount"] == len(before) + len(added)


async def test_first_larger_than_the_cap_is_accepted_and_returns_everything_below_it(owner):
    uploaded = await upload_many(owner, ["x1.cap.example.com", "x2.cap.example.com", "x3.cap.example.com"])
    page = await listing(owner, first=500)
    assert set(ids_of(page)) == set(uploaded)
    assert page["pageInfo"]["hasNextPage"] is False
    assert page["totalCount"] == 3


async def test_first_is_capped_at_one_hundred(owner):
    assert MAX_PAGE_SIZE == 100  # the contract: "first is capped at 100."
    total = MAX_PAGE_SIZE + 2
    uploaded = await upload_many(owner, [f"n{i}.many{i % 5}.example.com" for i in range(total)], batch=17)

    page = await listing(owner, first=MAX_PAGE_SIZE + 1)
    assert len(page["edges"]) == MAX_PAGE_SIZE
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["totalCount"] == total

    rest = await listing(owner, first=MAX_PAGE_SIZE + 1, after=page["pageInfo"]["endCursor"])
    assert len(rest["edges"]) == 2 and rest["pageInfo"]["hasNextPage"] is False
    assert set(ids_of(page)) | set(ids_of(rest)) == set(uploaded)


async def test_the_default_page_is_twenty_certificates(owner):
    await upload_many(owner, [f"d{i}.default.example.com" for i in range(21)])
    page = await listing(owner)
    assert len(page["edges"]) == 20 and page["pageInfo"]["hasNextPage"] is True


# -- argument errors ------------------------------------------------------------------------


def assert_top_level_error_naming(response, argument: str) -> None:
    assert response.status_code < 500, response.text
    body = response.json()
    errors = body.get("errors")
    assert errors, body
    message = errors[0]["message"]
    assert argument in message, message
    assert message != "Internal error."
    text = response.text
    assert "Traceback" not in text and "stacktrace" not in text.lower() and ".py" not in text
    assert (body.get("data") or {}).get("certificates") is None


async def test_first_zero_returns_no_edges_but_says_there_is_a_next_page(owner):
    await upload_many(owner, ["zero.example.com"])
    page = (await owner(LIST, {"first": 0}))["certificates"]
    assert page["edges"] == [] and page["pageInfo"]["hasNextPage"] is True and page["totalCount"] == 1


async def test_a_negative_first_is_a_top_level_error_naming_first(owner):
    await upload_many(owner, ["neg.example.com"])
    response = await owner.raw(LIST, {"first": -1})
    assert_top_level_error_naming(response, "first")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!***",
        "é-not-ascii",
        base64.urlsafe_b64encode(b"crt_not-an-object-id").decode(),
        base64.urlsafe_b64encode(b'{"$gt": ""}').decode(),
        # A reissue's cursor, or an ID with a made-up prefix, is not a certificate cursor.
        base64.urlsafe_b64encode(b"rei_" + b"0" * 24).decode().rstrip("="),
        base64.urlsafe_b64encode(b"xyz_" + b"0" * 24).decode().rstrip("="),
    ],
)
async def test_a_cursor_this_api_did_not_return_is_a_top_level_error_naming_after(owner, cursor):
    await upload_many(owner, ["cursor.example.com"])
    response = await owner.raw(LIST, {"first": 5, "after": cursor})
    assert_top_level_error_naming(response, "after")


# -- filters ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def catalogue(services, http):
    """An account with certificates that tell the filters apart (read-only: shared by the
    filter tests of this module)."""
    token = await new_token(services, f"filters-{uuid.uuid4().hex[:10]}")
    client = GraphQLClient(http, token)
    named = {
        "soon": certs.issue("soon.example.com", not_before=NOW - timedelta(days=300), not_after=NOW + timedelta(days=10)),
        "later": certs.issue("abc.example.com", not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=100)),
        "dotted": certs.issue("a.c.sub.example.com", not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=400)),
        "wild": certs.issue("*.wild.example.com", not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=200)),
        "expired": certs.issue("old.example.com", not_before=NOW - timedelta(days=400), not_after=NOW - timedelta(days=5)),
        "other": certs.issue("www.example.org", not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=50)),
        "idn": certs.issue(
            "shop.bücher.de",
            [certs.a_label("shop.bücher.de")],
            not_before=NOW - timedelta(days=1),
            not_after=NOW + timedelta(days=300),
        ),
        "old_org": certs.issue("gone.example.org", not_before=NOW - timedelta(days=500), not_after=NOW - timedelta(days=1)),
    }
    stored = {}
    for key, issued in named.items():
        stored[key] = await upload_ok(client, issued)
    return client, stored


async def filtered(client, filter: dict, stored: dict) -> set[str]:
    """The keys of `stored` that the filter returns; checks totalCount agrees."""
    page = await listing(client, first=100, filter=filter)
    by_id = {c["id"]: k for k, c in stored.items()}
    found = ids_of(page)
    assert page["totalCount"] == len(found), (filter, page["totalCount"], len(found))
    assert all(i in by_id for i in found)
    return {by_id[i] for i in found}


async def test_an_uploaded_certificate_past_its_not_after_lists_as_expired(catalogue):
    client, stored = catalogue
    assert stored["expired"]["status"] == "EXPIRED"
    assert stored["later"]["status"] == "ISSUED"


async def test_status_issued_lists_only_certificates_still_valid(catalogue):
    client, stored = catalogue
    assert await filtered(client, {"status": "ISSUED"}, stored) == {"soon", "later", "dotted", "wild", "other", "idn"}


async def test_status_expired_lists_only_certificates_whose_not_after_has_passed(catalogue):
    client, stored = catalogue
    found = await filtered(client, {"status": "EXPIRED"}, stored)
    assert found == {"expired", "old_org"}
    page = await listing(client, filter={"status": "EXPIRED"})
    assert {e["node"]["status"] for e in page["edges"]} == {"EXPIRED"}


async def test_status_revoked_lists_nothing_when_no_certificate_is_revoked(catalogue):
    client, stored = catalogue
    assert await filtered(client, {"status": "REVOKED"}, stored) == set()


async def test_primary_domain_filter_reduces_a_hostname_to_its_registrable_domain(catalogue):
    client, stored = catalogue
    example_com = {"soon", "later", "dotted", "wild", "expired"}
    assert await filtered(client, {"primaryDomain": "example.com"}, stored) == example_com
    assert await filtered(client, {"primaryDomain": "Sub.Example.COM."}, stored) == example_com
    assert await filtered(client, {"primaryDomain": "*.example.com"}, stored) == example_com
    assert await filtered(client, {"primaryDomain": "example.org"}, stored) == {"other", "old_org"}
    assert await filtered(client, {"primaryDomain": "example.net"}, stored) == set()


async def test_primary_domain_filter_in_unicode_matches_the_punycode_form(catalogue):
    client, stored = catalogue
    assert stored["idn"]["primaryDomain"] == "xn--bcher-kva.de"
    assert await filtered(client, {"primaryDomain": "bücher.de"}, stored) == {"idn"}
    assert await filtered(client, {"primaryDomain": "www.BÜCHER.de."}, stored) == {"idn"}
    assert await filtered(client, {"primaryDomain": "xn--bcher-kva.de"}, stored) == {"idn"}


async def test_domain_contains_is_a_plain_substring_of_the_bound_domain(catalogue):
    client, stored = catalogue
    assert await filtered(client, {"domainContains": "example.org"}, stored) == {"other", "old_org"}
    assert await filtered(client, {"domainContains": "soon"}, stored) == {"soon"}
    assert await filtered(client, {"domainContains": "SOON.Example"}, stored) == {"soon"}
    assert await filtered(client, {"domainContains": "bcher"}, stored) == {"idn"}
    # Bound domains are kept in IDNA form: a Unicode substring is compared in that form.
    assert await filtered(client, {"domainContains": "bücher"}, stored) == {"idn"}


async def test_domain_contains_matches_regex_characters_literally(catalogue):
    client, stored = catalogue
    # "a.c" as a regex would match "abc.example.com" too.
    assert await filtered(client, {"domainContains": "a.c"}, stored) == {"dotted"}
    assert await filtered(client, {"domainContains": "*"}, stored) == {"wild"}
    assert await filtered(client, {"domainContains": "*.wild"}, stored) == {"wild"}
    # ".*" as a regex would match everything; no bound domain holds it literally.
    assert await filtered(client, {"domainContains": ".*"}, stored) == set()
    for text in ["^abc", "com$", "[a-z]", "(", "a|b", "\\d", "ab+c", "a{1}"]:
        assert await filtered(client, {"domainContains": text}, stored) == set(), text


async def test_expires_before_lists_certificates_whose_not_after_is_earlier(catalogue):
    client, stored = catalogue
    bound = NOW + timedelta(days=60)
    assert await filtered(client, {"expiresBefore": bound.isoformat()}, stored) == {"soon", "other", "expired", "old_org"}
    # The same instant written with another offset is the same bound.
    in_shanghai = bound.astimezone(timezone_plus_8()).isoformat()
    assert await filtered(client, {"expiresBefore": in_shanghai}, stored) == {"soon", "other", "expired", "old_org"}
    assert await filtered(client, {"expiresBefore": (NOW - timedelta(days=1000)).isoformat()}, stored) == set()


def timezone_plus_8():
    return timezone(timedelta(hours=8))


async def test_filters_combine_as_all_of_them(catalogue):
    client, stored = catalogue
    soon = (NOW + timedelta(days=60)).isoformat()
    assert await filtered(client, {"status": "ISSUED", "expiresBefore": soon}, stored) == {"soon", "other"}
    assert await filtered(client, {"status": "EXPIRED", "primaryDomain": "example.org"}, stored) == {"old_org"}
    assert await filtered(client, {"primaryDomain": "example.com", "domainContains": "b"}, stored) == {"later", "dotted"}
    assert await filtered(
        client, {"status": "ISSUED", "primaryDomain": "www.example.com", "expiresBefore": soon}, stored
    ) == {"soon"}
    assert await filtered(client, {"status": "EXPIRED", "domainContains": "soon"}, stored) == set()


async def test_a_filtered_list_pages_with_the_filter_applied(catalogue):
    client, stored = catalogue
    pages = await walk(client, first=2, filter={"primaryDomain": "example.com"})
    seen = [i for page in pages for i in ids_of(page)]
    expected = {stored[k]["id"] for k in ("soon", "later", "dotted", "wild", "expired")}
    assert len(seen) == len(set(seen)) and set(seen) == expected
    assert all(p["totalCount"] == 5 for p in pages)
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [True, True, False]
