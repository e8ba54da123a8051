"""Hostnames and primary domains (DOMAIN.md "Words").

A `Hostname` is compared case-insensitively, without a trailing dot, in its IDNA
(punycode) form. The primary domain is the registrable domain under the Public Suffix
List *including its private section* (`x.github.io` stays `x.github.io`).
"""

from __future__ import annotations

import functools
import ipaddress
import re

import idna
from publicsuffixlist import PublicSuffixList

from domain.errors import ErrorCode, InvalidInput
from domain.text import shown

MAX_HOSTNAME_LENGTH = 253
MAX_LABEL_LENGTH = 63
_LDH_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


@functools.cache
def _public_suffix_list() -> PublicSuffixList:
    # only_icann=False keeps the private section (github.io, ...) as DOMAIN.md requires;
    # accept_unknown=False: a name under a TLD the list does not know (`.internal`,
    # `.local`, `.example`) is under no registrable domain (R27).
    return PublicSuffixList(only_icann=False, accept_unknown=False)


def normalize_hostname(
    name: str, *, allow_wildcard: bool = True, field: list[str] | None = None
) -> str:
    """Returns the canonical form: lower case, no trailing dot, punycode labels.

    A leading `*.` is kept (and only there) when `allow_wildcard` is true.
    Raises InvalidInput naming the rule that was broken.
    """
    if not isinstance(name, str) or not name.strip(" \t"):
        raise InvalidInput("a hostname is required", field=field)
    text = name.strip(" \t")
    if text.endswith("."):
        text = text[:-1]
    wildcard = False
    if text.startswith("*."):
        if not allow_wildcard:
            raise InvalidInput(f"{shown(name)}: a wildcard is not allowed here", field=field)
        wildcard = True
        text = text[2:]
    if not text:
        raise InvalidInput(f"{shown(name)} is not a hostname", field=field)
    labels = text.split(".")
    ascii_labels = []
    for label in labels:
        if not label:
            raise InvalidInput(f"{shown(name)} has an empty label", field=field)
        if "*" in label:
            raise InvalidInput(
                f"{shown(name)}: a wildcard may only be the whole leftmost label (*.example.com)",
                field=field,
            )
        try:
            if label.isascii():
                ascii_label = label.lower()
                if ascii_label.startswith("xn--"):
                    # Validates the punycode and its Unicode form (IDNA 2008).
                    idna.decode(ascii_label)
            else:
                ascii_label = idna.encode(label, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise InvalidInput(f"{shown(name)}: label {shown(label)} is not a valid IDN label ({exc})", field=field) from exc
        except UnicodeError as exc:
            raise InvalidInput(f"{shown(name)}: label {shown(label)} is not valid ({exc})", field=field) from exc
        if len(ascii_label) > MAX_LABEL_LENGTH:
            raise InvalidInput(f"{shown(name)}: label {shown(label)} is longer than 63 characters", field=field)
        if not _LDH_LABEL.fullmatch(ascii_label):
            raise InvalidInput(
                f"{shown(name)}: label {shown(label)} may hold only letters, digits and inner hyphens",
                field=field,
            )
        ascii_labels.append(ascii_label)
    result = ".".join(ascii_labels)
    if len(result) > MAX_HOSTNAME_LENGTH:
        raise InvalidInput(f"{shown(name)} is longer than 253 characters", field=field)
    return f"*.{result}" if wildcard else result


def primary_domain(name: str, *, field: list[str] | None = None) -> str:
    """The registrable domain of `name`: `a.b.example.co.uk` -> `example.co.uk`.

    `*.example.com` -> `example.com`. An IP address, a name that is itself a public suffix,
    and a name under a suffix the Public Suffix List does not know have no primary domain
    and are refused (R27).
    """
    if _is_ip_literal(name):
        raise InvalidInput(f"{shown(name)} is an IP address, not a domain name", code=ErrorCode.INVALID_INPUT, field=field)
    canonical = normalize_hostname(name, field=field)
    if canonical.startswith("*."):
        canonical = canonical[2:]
    psl = _public_suffix_list()
    registrable = psl.privatesuffix(canonical)
    if registrable is None:
        known = psl.publicsuffix(canonical) is not None
        why = "is a public suffix, not a registrable domain" if known else (
            "is not under a public suffix the Public Suffix List knows, so it has no registrable domain"
        )
        raise InvalidInput(f"{shown(name)} {why}", code=ErrorCode.INVALID_INPUT, field=field)
    return registrable


def _is_ip_literal(name: str) -> bool:
    if not isinstance(name, str):
        return False
    try:
        ipaddress.ip_address(name.strip(" \t").rstrip(".").strip("[]"))
    except ValueError:
        return False
    return True


def to_unicode(name: str) -> str:
    """For display: the Unicode form of a canonical hostname."""
    try:
        prefix = "*." if name.startswith("*.") else ""
        return prefix + idna.decode(name.removeprefix("*."))
    except idna.IDNAError:
        return name
