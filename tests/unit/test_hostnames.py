"""Hostnames and primary domains (DOMAIN.md "Words")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import ErrorCode, InvalidInput
from domain.hostnames import normalize_hostname, primary_domain, to_unicode

# -- normalize_hostname: lower case, no trailing dot, punycode ------------------------------


@pytest.mark.parametrize(
    "name,expected",
    [
        ("www.example.com", "www.example.com"),
        ("WWW.Example.COM", "www.example.com"),
        ("www.example.com.", "www.example.com"),
        ("  www.example.com  ", "www.example.com"),
        ("*.example.com", "*.example.com"),
        ("*.EXAMPLE.com.", "*.example.com"),
        ("ssl.tencent.com", "ssl.tencent.com"),
        ("www.bücher.de", "www.xn--bcher-kva.de"),
        ("WWW.BÜCHER.DE", "www.xn--bcher-kva.de"),
        ("www.xn--bcher-kva.de", "www.xn--bcher-kva.de"),
        ("WWW.XN--BCHER-KVA.DE.", "www.xn--bcher-kva.de"),
        ("*.bücher.de", "*.xn--bcher-kva.de"),
        ("example.中国", "example.xn--fiqs8s"),
        ("a-b.example.com", "a-b.example.com"),
        ("123.example.com", "123.example.com"),
    ],
)
def test_normalize_hostname_gives_the_canonical_form(name, expected):
    # "Words": case-insensitive, no trailing dot, IDNA (punycode) form
    assert normalize_hostname(name) == expected


@pytest.mark.parametrize(
    "unicode_form,punycode_form",
    [
        ("www.bücher.de", "www.xn--bcher-kva.de"),
        ("example.中国", "example.xn--fiqs8s"),
        ("münchen.example.com", "xn--mnchen-3ya.example.com"),
        ("*.bücher.de", "*.xn--bcher-kva.de"),
    ],
)
def test_unicode_and_punycode_forms_normalize_and_resolve_the_same(unicode_form, punycode_form):
    # "Words": names are compared in their IDNA (punycode) form
    assert normalize_hostname(unicode_form) == normalize_hostname(punycode_form)
    assert primary_domain(unicode_form) == primary_domain(punycode_form)


def test_to_unicode_shows_the_unicode_form_of_a_canonical_name():
    assert to_unicode("www.xn--bcher-kva.de") == "www.bücher.de"
    assert to_unicode("*.xn--bcher-kva.de") == "*.bücher.de"


def test_a_label_of_63_characters_is_accepted():
    # "Words": DNS limits, 63 per label
    label = "a" * 63
    assert normalize_hostname(f"{label}.example.com") == f"{label}.example.com"


def test_a_name_of_253_characters_is_accepted_with_or_without_a_trailing_dot():
    # "Words": DNS limits, 253 per name
    name = ".".join(["a" * 63] * 3) + "." + "b" * 57 + ".com"
    assert len(name) == 253
    assert normalize_hostname(name) == name
    assert normalize_hostname(name + ".") == name


def test_a_wildcard_is_refused_where_it_is_not_allowed():
    with pytest.raises(InvalidInput):
        normalize_hostname("*.example.com", allow_wildcard=False)


def test_an_invalid_hostname_names_the_field_given():
    with pytest.raises(InvalidInput) as info:
        normalize_hostname("a..b.com", field=["input", "domain"])
    assert info.value.code == ErrorCode.INVALID_INPUT
    assert info.value.field == ["input", "domain"]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param(".", id="only-dot"),
        pytest.param("..", id="two-dots"),
        pytest.param("a..example.com", id="empty-inner-label"),
        pytest.param(".example.com", id="empty-first-label"),
        pytest.param("example.com..", id="empty-last-label"),
        pytest.param("a" * 64 + ".example.com", id="label-64"),
        pytest.param(".".join(["a" * 63] * 3) + "." + "b" * 58 + ".com", id="name-254"),
        pytest.param("www.*.example.com", id="wildcard-not-leftmost"),
        pytest.param("www.example.*", id="wildcard-rightmost"),
        pytest.param("*.*.example.com", id="two-wildcards"),
        pytest.param("*www.example.com", id="partial-wildcard"),
        pytest.param("w*w.example.com", id="star-inside-label"),
        pytest.param("*", id="bare-wildcard"),
        pytest.param("*.", id="wildcard-dot"),
        pytest.param("-www.example.com", id="leading-hyphen"),
        pytest.param("www-.example.com", id="trailing-hyphen"),
        pytest.param("ww_w.example.com", id="underscore"),
        pytest.param("www example.com", id="space"),
        pytest.param("www.example.com/path", id="slash"),
        pytest.param("xn--zz-.example.com", id="bad-punycode"),
    ],
)
def test_bad_hostnames_are_invalid_input(name):
    # "Words": a hostname is LDH labels of 1-63 characters, at most 253 in all,
    # with a wildcard only as the whole leftmost label
    with pytest.raises(InvalidInput) as info:
        normalize_hostname(name)
    assert info.value.code == ErrorCode.INVALID_INPUT


def test_a_unicode_label_whose_punycode_is_over_63_characters_is_invalid_input():
    # "Words": the limit applies to the IDNA form
    with pytest.raises(InvalidInput):
        normalize_hostname("ü" * 60 + ".example.com")


# -- primary_domain: registrable domain under the PSL, private section included ------------


@pytest.mark.parametrize(
    "name,expected",
    [
        ("ssl.tencent.com", "tencent.com"),
        ("a.b.example.co.uk", "example.co.uk"),
        ("*.example.com", "example.com"),
        ("x.github.io", "x.github.io"),
        ("a.x.github.io", "x.github.io"),
        ("*.x.github.io", "x.github.io"),
        ("example.com", "example.com"),
        ("Www.Example.COM.", "example.com"),
        ("example.co.uk", "example.co.uk"),
        ("www.bücher.de", "xn--bcher-kva.de"),
        ("shop.example.中国", "example.xn--fiqs8s"),
    ],
)
def test_primary_domain_is_the_registrable_domain(name, expected):
    # "Words": ssl.tencent.com -> tencent.com, a.b.example.co.uk -> example.co.uk,
    # *.example.com -> example.com, x.github.io -> x.github.io
    assert primary_domain(name) == expected


@pytest.mark.parametrize("name", ["co.uk", "github.io", "com", "*.co.uk", "*.github.io", "中国", "CO.UK."])
def test_a_public_suffix_alone_has_no_primary_domain(name):
    # "Words": github.io is a public suffix (private section); co.uk an ICANN one
    with pytest.raises(InvalidInput) as info:
        primary_domain(name, field=["input", "domain"])
    assert info.value.code == ErrorCode.INVALID_INPUT
    assert info.value.field == ["input", "domain"]


@pytest.mark.parametrize("name", ["", "a..example.com", "a" * 64 + ".example.com", "www.*.example.com"])
def test_primary_domain_of_a_bad_hostname_is_invalid_input(name):
    with pytest.raises(InvalidInput):
        primary_domain(name)


# -- properties ------------------------------------------------------------------------------

_LDH_LABEL = st.from_regex(r"\A[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\Z").filter(
    # "xn--" labels are A-labels and must be valid punycode: not plain LDH names
    lambda label: not label.lower().startswith("xn--")
)
_SUBDOMAINS = st.lists(_LDH_LABEL, min_size=1, max_size=4).map(".".join)


@given(sub=_SUBDOMAINS, wildcard=st.booleans(), trailing_dot=st.booleans())
def test_any_ldh_hostname_under_example_com_has_primary_domain_example_com(sub, wildcard, trailing_dot):
    # "Words": the primary domain is the registrable domain
    name = ("*." if wildcard else "") + sub + ".Example.com" + ("." if trailing_dot else "")
    assert primary_domain(name) == "example.com"


@given(sub=_SUBDOMAINS, wildcard=st.booleans(), trailing_dot=st.booleans())
def test_normalize_hostname_is_idempotent_and_case_insensitive(sub, wildcard, trailing_dot):
    # "Words": one canonical form, whatever the case or trailing dot
    name = ("*." if wildcard else "") + sub + ".example.com" + ("." if trailing_dot else "")
    once = normalize_hostname(name)
    assert normalize_hostname(once) == once
    assert once == once.lower()
    assert not once.endswith(".")
    assert normalize_hostname(name.upper()) == once
    assert once.removeprefix("*.") == (sub + ".example.com").lower()


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("1.2.3.4", "IP address"),
        ("[::1]", "IP address"),
        ("::ffff:127.0.0.1", "IP address"),
        ("intranet.corp", "no registrable domain"),
        ("printer.local", "no registrable domain"),
        ("db.internal", "no registrable domain"),
        ("shop.example", "no registrable domain"),
    ],
)
def test_ip_addresses_and_names_under_unknown_suffixes_have_no_primary_domain(name, says):
    # R27: only names under a registrable domain of the Public Suffix List
    with pytest.raises(InvalidInput) as info:
        primary_domain(name)
    assert says in info.value.message


@pytest.mark.parametrize(
    "name",
    ["shop.example.com\n.mallory-owned.com", "shop.example.com\n", "www\n.example.com", "a\r\n.example.com", "x.example.com\x00"],
)
def test_a_name_with_a_line_break_or_control_character_anywhere_is_refused(name):
    # A label must be letters, digits and inner hyphens to its very end: a regex `$` that
    # matched before a trailing newline let "com\n" through, and the CA signed it.
    with pytest.raises(InvalidInput):
        normalize_hostname(name)
