"""Hostile input through the real HTTP API, property-based (hypothesis): hostnames, PEM
text, CSRs with odd subjects and keys, free text. Every case must end in a clean answer
(contract conventions): HTTP 200, no top-level `errors`, one `userErrors` entry with a
code of the contract's ErrorCode enum, a message and the `field` at fault; never a 500 and
never a masked "Internal error.".

Each test has an account of its own (the `owner` fixture) and uploads its certificates
once, for all of its examples. Requests go through `previewReissue` (no side effects,
R12) wherever it answers the same validation as `requestReissue`; where `requestReissue`
itself is called, it is on a certificate whose reissue would stop in
PENDING_CA_VERIFICATION, and a request that got through is cancelled at once.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import json
import re
import string
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtensionOID, NameOID
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests import certs
from tests.conftest import GraphQLClient
from tests.integration.reissue_api import CANCEL, PREVIEW, REQUEST, unique_zone, upload_cert
from tests.integration.test_upload_certificate import UPLOAD

CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "spec" / "contract.graphql"
MAX_PEM_BYTES = 64 * 1024  # the PEM size limit (domain/x509.py): over it, INVALID_INPUT naming the field


def _contract_error_codes() -> frozenset[str]:
    if CONTRACT.exists():
        enum = re.search(r"enum ErrorCode \{(.*?)\}", CONTRACT.read_text(), re.DOTALL)
        assert enum, "the contract has no ErrorCode enum"
        return frozenset(enum.group(1).split())
    from domain.errors import ErrorCode

    return frozenset(c.value for c in ErrorCode)


ERROR_CODES = _contract_error_codes()


def examples(n: int):
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# -- what a clean answer is ---------------------------------------------------------------


async def call(client: GraphQLClient, document: str, variables: dict) -> dict:
    """The operation's payload; fails on anything but a clean HTTP 200 without top-level errors."""
    response = await client.raw(document, variables)
    assert response.status_code == 200, (response.status_code, response.text[:500])
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return next(iter(body["data"].values()))


def one_clean_error(payload: dict, *, fields: list[list[str]], codes: set[str] | None = None) -> dict:
    """Exactly one userErrors entry: a contract code, a message, one of `fields`."""
    errors = payload["userErrors"]
    assert len(errors) == 1, errors
    error = errors[0]
    assert error["code"] in ERROR_CODES, error
    assert codes is None or error["code"] in codes, error
    assert isinstance(error["message"], str) and error["message"].strip(), error
    assert "Internal error" not in error["message"], error
    assert error["field"] in fields, error
    return error


def assert_not_masked(response) -> None:
    assert response.status_code != 500, response.text[:500]
    assert response.status_code in (200, 400), (response.status_code, response.text[:500])
    text = response.text
    assert "Internal error" not in text, text[:500]
    assert "INTERNAL_ERROR" not in text, text[:500]


# -- the account's certificates (uploaded once per test) ---------------------------------


@dataclass
class Account:
    """A fresh account's owner and certificates made on first use."""

    client: GraphQLClient
    zone: str = field(default_factory=unique_zone)
    _certs: dict = field(default_factory=dict)

    async def cert(self, kind: str) -> dict:
        if kind not in self._certs:
            if kind == "dv":  # paid DV, issued 10 days ago (R17 does not waive validation)
                name = f"www.{self.zone}"
                cert, _ = await upload_cert(self.client, name, sans=[name, f"api.{self.zone}"])
            elif kind == "digicert":  # ORGANIZATION_OTHER_BRAND: a request stops in PENDING_CA_VERIFICATION
                cert, _ = await upload_cert(self.client, f"pay.{self.zone}", brand="DIGICERT", level="OV", org="Pay Org Ltd")
            elif kind == "wotrus":  # ORGANIZATION_WOTRUS_DNSPOD
                cert, _ = await upload_cert(self.client, f"corp.{self.zone}", brand="WOTRUS", level="OV", org="Old Org Ltd")
            else:
                raise AssertionError(kind)
            self._certs[kind] = cert
        return self._certs[kind]

    async def cancel_if_created(self, payload: dict) -> None:
        reissue = payload.get("reissue")
        if reissue and reissue["status"] not in ("ISSUED", "CANCELLED", "REJECTED", "EXPIRED"):
            cancelled = await call(self.client, CANCEL, {"id": reissue["id"]})
            assert cancelled["userErrors"] == [], cancelled


@pytest.fixture
def account(owner) -> Account:
    return Account(owner)


# -- PEM material, made once for the module ---------------------------------------------


@dataclass(frozen=True)
class Material:
    leaf: certs.Issued  # never uploaded: the upload tests give it a hostile key or CSR
    other: certs.Issued  # another key, another CSR, another certificate

    @property
    def blocks(self) -> dict[str, str]:
        return {
            "leaf": self.leaf.leaf_pem,
            "intermediate": certs.pem(certs.intermediate_ca().cert),
            "key": self.leaf.key_pem(),
            "csr": self.leaf.csr_pem,
            "other_key": self.other.key_pem(),
            "other_key_traditional": certs.key_pem(self.other.key, traditional=True),
            "other_key_encrypted": self.other.key_pem("hostile-pw"),
            "other_csr": self.other.csr_pem,
            "other_cert": self.other.leaf_pem,
            "public_key": self.other.key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode(),
        }


@functools.cache
def material() -> Material:
    return Material(leaf=certs.issue("hostile.example.net"), other=certs.issue("other.example.net"))


@functools.cache
def keys() -> dict[str, object]:
    """Keys for CSRs, by what R8 makes of them."""
    return {
        "p256": certs.ec_key(ec.SECP256R1),
        "p384": certs.ec_key(ec.SECP384R1),
        "rsa2048": certs.rsa_key(2048),
        "rsa1024": certs.rsa_key(1024),  # WEAK_KEY
        "rsa2056": certs.rsa_key(2056),  # not 2048/3072/4096: UNSUPPORTED_ALGORITHM
        "p521": certs.ec_key(ec.SECP521R1),  # UNSUPPORTED_ALGORITHM
        "secp256k1": certs.ec_key(ec.SECP256K1),  # UNSUPPORTED_ALGORITHM
        "ed25519": ed25519.Ed25519PrivateKey.generate(),  # UNSUPPORTED_ALGORITHM
    }


KEY_VERDICT = {
    "p256": None, "p384": None, "rsa2048": None,
    "rsa1024": "WEAK_KEY",
    "rsa2056": "UNSUPPORTED_ALGORITHM", "p521": "UNSUPPORTED_ALGORITHM",
    "secp256k1": "UNSUPPORTED_ALGORITHM", "ed25519": "UNSUPPORTED_ALGORITHM",
}


def build_csr(key_name: str, subject: x509.Name, general_names: list | None, extra_extensions=()) -> str:
    key = keys()[key_name]
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    if general_names is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(general_names), critical=False)
    for extension in extra_extensions:
        builder = builder.add_extension(extension, critical=False)
    digest = None if key_name == "ed25519" else hashes.SHA256()
    return certs.pem(builder.sign(key, digest))


# -- strategies: hostnames ----------------------------------------------------------------

LDH = string.ascii_lowercase + string.digits
ldh_label = st.text(LDH, min_size=1, max_size=12)
unicode_letters = st.characters(categories=("Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Nd"))
# Names under a zone no test certificate is in: valid ones are DOMAIN_NOT_ON_CERTIFICATE.
base_name = st.lists(ldh_label, min_size=1, max_size=3).map(lambda ls: ".".join(ls) + ".hostile-example.org")


def _insert(name: str, junk: str, at: int) -> str:
    at %= len(name) + 1
    return name[:at] + junk + name[at:]


hostile_hostnames = st.one_of(
    # IDN text, any script, with or without a known TLD
    st.lists(st.text(unicode_letters, min_size=1, max_size=15), min_size=1, max_size=4).map(".".join),
    st.tuples(st.text(unicode_letters, min_size=1, max_size=20), st.sampled_from(["com", "中国", "рф", "example", "xn--p1ai"]))
    .map(".".join),
    # overlong labels (64+ octets), in ASCII and as long punycode
    st.text(LDH, min_size=64, max_size=120).map(lambda label: f"{label}.example.com"),
    st.text(st.characters(categories=("Lo",)), min_size=25, max_size=80).map(lambda label: f"{label}.example.com"),
    # too long (254+): five or more labels of 50-63
    st.lists(st.text(LDH, min_size=50, max_size=63), min_size=5, max_size=8).map(".".join),
    # wildcards in odd places
    st.sampled_from(["*", "*.", "**.x.com", "a.*.b.com", "*.*.x.com", "x.*", "*x.com", "x*.y.com", ".*.x.com", "*.com.*"]),
    st.tuples(ldh_label, ldh_label).map(lambda ab: f"{ab[0]}.*.{ab[1]}.com"),
    st.tuples(ldh_label, st.sampled_from(["*", "**", "*-", "-*"])).map(lambda a: f"{a[1]}{a[0]}.example.com"),
    # empty labels
    st.sampled_from([".", "..", "...", ".com", "a..b", "a.b..", "..a.b"]),
    st.tuples(ldh_label, ldh_label).map(lambda ab: f"{ab[0]}..{ab[1]}.com"),
    ldh_label.map(lambda a: f".{a}.example.com"),
    # leading / trailing hyphens
    st.tuples(ldh_label, st.sampled_from(["-{}", "{}-", "-{}-", "--{}"])).map(lambda a: a[1].format(a[0]) + ".example.com"),
    ldh_label.map(lambda a: f"{a}.-example.com"),
    # broken punycode
    st.text(LDH + "-", min_size=0, max_size=20).map(lambda tail: f"xn--{tail}.example.com"),
    # control and format characters anywhere
    st.tuples(base_name, st.text(st.characters(categories=("Cc", "Cf", "Zl", "Zp", "Co")), min_size=1, max_size=3), st.integers(0, 80))
    .map(lambda t: _insert(*t)),
    # whitespace anywhere
    st.tuples(base_name, st.sampled_from([" ", "\t", "\n", "\r\n", "\u00a0", "\u2003", "\u3000", "  "]), st.integers(0, 80))
    .map(lambda t: _insert(*t)),
    # anything at all
    st.text(st.characters(exclude_categories=("Cs",)), max_size=60),
)


# -- strategies: PEM text -----------------------------------------------------------------

B64 = string.ascii_letters + string.digits + "+/="
PEM_LABELS = ["CERTIFICATE", "PRIVATE KEY", "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST", "EC PRIVATE KEY",
              "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "PUBLIC KEY", "X509 CRL", "PKCS7", "TRUSTED CERTIFICATE"]


def _wrap(label: str, body: str) -> str:
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


garbage_body = st.one_of(
    st.binary(max_size=700).map(lambda b: "\n".join(re.findall(".{1,64}", base64.b64encode(b).decode())) or ""),
    st.text(B64 + "\n", max_size=400),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=200),  # not base64 at all, any Unicode
)
garbage_block = st.builds(
    _wrap,
    st.one_of(st.sampled_from(PEM_LABELS), st.text(string.ascii_uppercase + string.digits + " ", min_size=1, max_size=20)),
    garbage_body,
)


def truncated(pem: str) -> st.SearchStrategy[str]:
    """`pem` cut anywhere before its END line is complete."""
    last = pem.rindex("-----END") + len("-----END")
    return st.integers(0, last).map(lambda i: pem[:i])


def line_dropped(pem: str) -> st.SearchStrategy[str]:
    lines = pem.splitlines(keepends=True)
    return st.integers(1, len(lines) - 3).map(lambda i: "".join(lines[:i] + lines[i + 1:]))


def non_ascii_in_body(pem: str) -> st.SearchStrategy[str]:
    start = pem.index("\n") + 1
    end = pem.rindex("-----END")
    return st.tuples(st.integers(start, end - 1), st.text(st.characters(min_codepoint=0x80, exclude_categories=("Cs",)), min_size=1, max_size=4)).map(
        lambda t: pem[: t[0]] + t[1] + pem[t[0]:]
    )


def huge(pem: str) -> st.SearchStrategy[str]:
    """Over 64 KiB: a real PEM drowned in filler, or a block with a huge body."""
    fillers = st.sampled_from(["A", "\n", "# comment\n", "-----BEGIN A-----\n", "é", "MIIB" * 16 + "\n"])
    return st.one_of(
        st.tuples(fillers, st.integers(MAX_PEM_BYTES + 1, 3 * MAX_PEM_BYTES)).map(
            lambda t: pem + t[0] * (t[1] // len(t[0].encode()) + 1)
        ),
        st.sampled_from(PEM_LABELS).map(lambda label: _wrap(label, "\n".join(["A" * 64] * (MAX_PEM_BYTES // 64 + 2)))),
    )


def hostile_pem(right: str, pool: list[str], *, valid=lambda kinds: False) -> st.SearchStrategy[str]:
    """Text for a PEM field whose right content is `right`; `pool` names blocks of
    `Material.blocks` that are wrong there (on their own or together), except the
    sequences `valid` accepts."""
    blocks = material().blocks
    several = st.lists(st.sampled_from(pool), min_size=2, max_size=5).filter(
        lambda kinds: not valid(kinds)
    ).map(lambda kinds: "".join(blocks[k] for k in kinds))
    return st.one_of(
        truncated(right),
        line_dropped(right),
        st.sampled_from([blocks[k] for k in pool]),  # a wrong block type
        several,
        st.lists(garbage_block, min_size=1, max_size=3).map("".join),
        st.tuples(garbage_block, st.sampled_from([blocks[k] for k in pool])).map("".join),
        non_ascii_in_body(right),
        st.text(st.characters(min_codepoint=0x80, exclude_categories=("Cs",)), min_size=1, max_size=300),  # non-ASCII junk
        huge(right),
    )


def too_big(text: str) -> bool:
    return len(text.encode("utf-8")) > MAX_PEM_BYTES


# -- hostnames ----------------------------------------------------------------------------


@examples(90)
@given(domain=hostile_hostnames)
async def test_request_reissue_answers_a_hostile_domain_with_a_user_error_on_the_domain(account, domain):
    cert = await account.cert("digicert")
    input = {"certificateId": cert["id"], "reason": "re-key", "domain": domain}
    payload = await call(account.client, REQUEST, {"input": input})
    await account.cancel_if_created(payload)
    error = one_clean_error(
        payload, fields=[["input", "domain"]], codes={"INVALID_INPUT", "DOMAIN_NOT_ON_CERTIFICATE"}
    )
    # The dry run finds the same fault (R12).
    preview = await call(account.client, PREVIEW, {"input": input})
    assert [(e["code"], e["field"]) for e in preview["userErrors"]] == [(error["code"], error["field"])]


@examples(80)
@given(name=hostile_hostnames)
async def test_a_hostile_primary_domain_filter_is_answered_cleanly(account, name):
    await account.cert("dv")
    response = await account.client.raw(
        "query L($f: CertificateFilter) { certificates(filter: $f) { totalCount edges { node { id } } } }",
        {"f": {"primaryDomain": name}},
    )
    assert_not_masked(response)
    assert response.status_code == 200
    body = response.json()
    if body.get("errors"):
        # A name that has no primary domain is a malformed argument: a top-level error,
        # with a message a person can act on.
        assert body.get("data") is None, body
        assert len(body["errors"]) == 1, body
        assert body["errors"][0]["message"].strip(), body
        assert body["errors"][0]["path"] == ["certificates"], body
    else:
        # Every generated name is outside the account's zone.
        assert body["data"]["certificates"] == {"totalCount": 0, "edges": []}


async def test_a_bad_primary_domain_filter_is_a_top_level_error_that_names_the_argument(account):
    await account.cert("dv")
    for name in ("a..b", "com", "*", "-x.example.com"):
        response = await account.client.raw(
            "query L($f: CertificateFilter) { certificates(filter: $f) { totalCount } }",
            {"f": {"primaryDomain": name}},
        )
        assert_not_masked(response)
        error = response.json()["errors"][0]
        extensions = error.get("extensions") or {}
        assert "primaryDomain" in error["message"] or extensions.get("field") == ["filter", "primaryDomain"], (
            f"{name!r}: the error does not say which argument is wrong: {error}"
        )


# -- PEM text -----------------------------------------------------------------------------

UPLOAD_BASE: dict = {}  # the certificate speaks for itself (R29): nothing else is required


@examples(100)
@given(text=hostile_pem(
    material().leaf.leaf_pem,
    ["leaf", "intermediate", "key", "csr", "other_key_encrypted", "public_key"],
    # The leaf first, then any of its chain in any order (repeats are dropped): a valid
    # upload, as path validation builds the path from a pool (R27).
    valid=lambda kinds: kinds[0] == "leaf" and set(kinds) <= {"leaf", "intermediate"},
))
async def test_upload_answers_a_hostile_certificate_pem_with_a_user_error_on_it(account, text):
    assume(text.strip() != material().leaf.leaf_pem.strip())
    payload = await call(account.client, UPLOAD, {"input": {**UPLOAD_BASE, "certificatePem": text}})
    error = one_clean_error(payload, fields=[["input", "certificatePem"]])
    assert payload["certificate"] is None
    if too_big(text):
        assert error["code"] == "INVALID_INPUT", error
    else:
        assert error["code"] == "INVALID_CERTIFICATE", error


@examples(100)
@given(text=hostile_pem(
    material().leaf.key_pem(),
    ["leaf", "intermediate", "csr", "other_key", "other_key_traditional", "other_key_encrypted", "other_csr", "public_key"],
))
async def test_upload_answers_a_hostile_private_key_pem_with_a_user_error_on_it(account, text):
    assume(text != "")  # an empty key is no key: the upload would store the certificate
    leaf = material().leaf
    payload = await call(
        account.client, UPLOAD, {"input": {**UPLOAD_BASE, "certificatePem": leaf.chain_pem, "privateKeyPem": text}}
    )
    fields = [["input", "privateKeyPem"]] + ([["input", "privateKeyPassword"]] if "ENCRYPTED" in text else [])
    error = one_clean_error(payload, fields=fields)
    assert payload["certificate"] is None
    if too_big(text):
        assert error["code"] == "INVALID_INPUT", error


@examples(100)
@given(text=hostile_pem(
    material().leaf.csr_pem,
    ["leaf", "intermediate", "key", "other_key", "other_csr", "public_key"],
))
async def test_upload_answers_a_hostile_csr_pem_with_a_user_error_on_it(account, text):
    assume(text != "")  # an empty CSR is no CSR: the upload would store the certificate
    leaf = material().leaf
    payload = await call(
        account.client, UPLOAD, {"input": {**UPLOAD_BASE, "certificatePem": leaf.chain_pem, "csrPem": text}}
    )
    error = one_clean_error(payload, fields=[["input", "csrPem"]])
    assert payload["certificate"] is None
    if too_big(text):
        assert error["code"] == "INVALID_INPUT", error
    else:
        assert error["code"] in {"INVALID_CSR", "KEY_MISMATCH"}, error


@functools.cache
def csr_for(domain: str) -> str:
    return build_csr("p256", x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)]), [x509.DNSName(domain)])


@examples(70)
@given(data=st.data())
async def test_request_reissue_answers_a_hostile_uploaded_csr_with_a_user_error_on_it(account, data):
    cert = await account.cert("digicert")
    right = csr_for(cert["domain"])  # the CSR this field would accept
    text = data.draw(hostile_pem(right, ["leaf", "intermediate", "key", "other_key", "other_csr", "public_key"]))
    input = {"certificateId": cert["id"], "reason": "re-key", "csrSource": "UPLOAD", "csrPem": text}
    preview = await call(account.client, PREVIEW, {"input": input})
    error = one_clean_error(preview, fields=[["input", "csrPem"]])
    if too_big(text):
        assert error["code"] == "INVALID_INPUT", error
    else:
        assert error["code"] in {"INVALID_CSR", "CSR_DOMAIN_MISMATCH", "INVALID_INPUT"}, error
    # requestReissue refuses it the same way, and takes no lock.
    payload = await call(account.client, REQUEST, {"input": input})
    await account.cancel_if_created(payload)
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(error["code"], error["field"])]


@pytest.mark.parametrize(
    ("field", "document"),
    [("certificatePem", UPLOAD), ("privateKeyPem", UPLOAD), ("csrPem", UPLOAD), ("csrPem", PREVIEW)],
    ids=["upload-certificatePem", "upload-privateKeyPem", "upload-csrPem", "request-csrPem"],
)
async def test_pem_text_over_64_kib_is_invalid_input_naming_the_field(account, field, document):
    leaf = material().leaf
    padding = "\n" * (MAX_PEM_BYTES + 1)
    if document is UPLOAD:
        input = {**UPLOAD_BASE, "certificatePem": leaf.chain_pem}
        input[field] = {"certificatePem": leaf.chain_pem, "privateKeyPem": leaf.key_pem(), "csrPem": leaf.csr_pem}[field] + padding
    else:
        cert = await account.cert("digicert")
        input = {"certificateId": cert["id"], "reason": "re-key", "csrSource": "UPLOAD",
                 "csrPem": csr_for(cert["domain"]) + padding}
    payload = await call(account.client, document, {"input": input})
    error = one_clean_error(payload, fields=[["input", field]], codes={"INVALID_INPUT"})
    assert "64 KiB" in error["message"]


async def test_pem_text_of_many_begin_lines_is_refused_quickly(account):
    """Just under the 64 KiB limit, BEGIN lines without END lines: the answer must not
    take seconds (the PEM scan runs on the server's event loop, so it stalls every
    request being served)."""
    text = "-----BEGIN A-----\n" * ((MAX_PEM_BYTES - 100) // 18)
    assert not too_big(text)
    started = time.perf_counter()
    payload = await call(account.client, UPLOAD, {"input": {**UPLOAD_BASE, "certificatePem": text}})
    elapsed = time.perf_counter() - started
    one_clean_error(payload, fields=[["input", "certificatePem"]], codes={"INVALID_CERTIFICATE"})
    assert elapsed < 1.0, f"{len(text)} bytes of BEGIN lines took {elapsed:.1f} s to refuse"


# -- CSRs with odd subjects and keys ------------------------------------------------------


def _fits_an_attribute(text: str) -> bool:
    """cryptography bounds CN and O at 64 bytes of UTF-8 (not 64 characters)."""
    return len(text.encode("utf-8")) <= 64


def subjects(target: str) -> st.SearchStrategy[x509.Name]:
    cn = st.one_of(
        st.sampled_from([target, target.upper(), target + ".", f"other.{target}", "localhost"]),
        st.text(unicode_letters, min_size=1, max_size=64).filter(_fits_an_attribute),  # CN in any script
        st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=64).filter(_fits_an_attribute),
    )
    org = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=64).filter(_fits_an_attribute)
    return st.one_of(
        st.just(x509.Name([])),  # no subject at all
        org.map(lambda o: x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, o)])),  # no CN
        cn.map(lambda c: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, c)])),
        st.tuples(cn, org).map(lambda t: x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, t[0]), x509.NameAttribute(NameOID.ORGANIZATION_NAME, t[1]),
        ])),
    )


def general_names(target: str) -> st.SearchStrategy[list | None]:
    dns = st.one_of(
        st.sampled_from([target, target.upper(), f"*.{target.split('.', 1)[1]}", "a..b", "*.*.x", "-x-.example.com"]),
        st.lists(ldh_label, min_size=1, max_size=4).map(lambda ls: ".".join(ls) + ".example.org"),
    ).map(x509.DNSName)
    ip = st.ip_addresses().map(lambda a: x509.IPAddress(ipaddress.ip_address(a)))
    email = st.emails().filter(str.isascii).map(x509.RFC822Name)
    return st.one_of(
        st.none(),
        st.lists(ip, min_size=1, max_size=3),  # IP addresses only
        st.lists(email, min_size=1, max_size=3),  # e-mail addresses only
        st.lists(st.one_of(dns, ip, email), min_size=1, max_size=8),
        st.lists(dns, min_size=50, max_size=300),  # many names
    )


def covers(target: str, subject: x509.Name, names: list | None) -> bool:
    """R7/R8, independently of the service: a CN or DNS SAN equal to the domain, compared
    case-insensitively and without a trailing dot."""
    candidates = [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    candidates += [n.value for n in names or () if isinstance(n, x509.DNSName)]
    return any(isinstance(c, str) and c.isascii() and c.lower().rstrip(".") == target for c in candidates)


@examples(80)
@given(data=st.data(), key_name=st.sampled_from(sorted(KEY_VERDICT)))
async def test_an_uploaded_csr_with_odd_subjects_and_keys_gets_the_rules_verdict(account, data, key_name):
    cert = await account.cert("dv")
    target = cert["domain"]
    subject = data.draw(subjects(target), label="subject")
    names = data.draw(general_names(target), label="subjectAltNames")
    csr = build_csr(key_name, subject, names)
    input = {"certificateId": cert["id"], "reason": "re-key", "csrSource": "UPLOAD", "csrPem": csr}
    preview = await call(account.client, PREVIEW, {"input": input})
    expected = KEY_VERDICT[key_name] or (None if covers(target, subject, names) else "CSR_DOMAIN_MISMATCH")
    if expected is None:
        assert preview["userErrors"] == [], preview["userErrors"]
        assert preview["domainValidationRequired"] is True  # a new CSR, issued 10 days ago (R17)
    else:
        one_clean_error(preview, fields=[["input", "csrPem"]], codes={expected})


async def test_a_csr_with_an_unreadable_extension_is_invalid_csr(account):
    cert = await account.cert("dv")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cert["domain"])])
    for garbage in (
        x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"not DER"),
        x509.UnrecognizedExtension(ExtensionOID.BASIC_CONSTRAINTS, b"\x30\x03\x01\x02\x03"),
    ):
        csr = build_csr("p256", subject, None, [garbage])
        input = {"certificateId": cert["id"], "reason": "re-key", "csrSource": "UPLOAD", "csrPem": csr}
        response = await account.client.raw(PREVIEW, {"input": input})
        assert_not_masked(response)
        preview = await call(account.client, PREVIEW, {"input": input})
        one_clean_error(preview, fields=[["input", "csrPem"]], codes={"INVALID_CSR"})


async def test_a_certificate_with_an_unreadable_extension_is_invalid_certificate(account):
    ca = certs.intermediate_ca()
    key = certs.ec_key()
    now = datetime.now(UTC)
    for garbage in (
        x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"not DER"),
        x509.UnrecognizedExtension(ExtensionOID.BASIC_CONSTRAINTS, b"\x30\x03\x01\x02\x03"),
    ):
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"odd.{account.zone}")]))
            .issuer_name(ca.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=300))
            .add_extension(garbage, critical=False)
            .sign(ca.key, hashes.SHA256())
        )
        input = {**UPLOAD_BASE, "certificatePem": certs.pem(leaf) + certs.pem(ca.cert)}
        response = await account.client.raw(UPLOAD, {"input": input})
        assert_not_masked(response)
        payload = await call(account.client, UPLOAD, {"input": input})
        one_clean_error(payload, fields=[["input", "certificatePem"]], codes={"INVALID_CERTIFICATE"})


# -- free text: reasons and organization names --------------------------------------------

ODD_CHARACTERS = ["\n", "\r\n", "\t", "\x00", "\x07", "\x1b[31m", "\x7f", "\x85", "\u200e", "\u200f", "\u202e",
                  "\u2066", "\u200d", "\ufeff", "\u2028", "\u00a0", "\u3000", "😀", "👨\u200d👩\u200d👧", "🇺🇳",
                  "e\u0301", "ﷺ", "𝕏", " "]
free_text = st.one_of(
    st.lists(st.one_of(st.characters(exclude_categories=("Cs",)), st.sampled_from(ODD_CHARACTERS)), max_size=300)
    .map("".join),
    st.tuples(st.text(string.ascii_letters + " ", max_size=5), st.integers(190, 210), st.sampled_from(["x", "é", "😀", " "]))
    .map(lambda t: t[0] + t[2] * t[1]),  # around the 200 limit
    st.sampled_from(["", " ", "\n", "\t \n", "\u3000"]),
)


def has_control_characters(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" for c in text)


def check_free_text(payload: dict, text: str, field: str) -> bool:
    """Either accepted, or one INVALID_INPUT on `field`; empty and over 200 characters
    are refused (R10), and nothing with control characters is accepted. True when accepted."""
    stripped = text.strip()
    if not payload["userErrors"]:
        assert 1 <= len(stripped) <= 200, f"accepted {len(stripped)} characters"
        assert not has_control_characters(stripped), f"accepted control characters: {text!r}"
        return True
    one_clean_error(payload, fields=[["input", field]], codes={"INVALID_INPUT"})
    return False


@examples(100)
@given(reason=free_text)
async def test_a_reason_of_any_text_is_accepted_or_refused_on_the_reason(account, reason):
    cert = await account.cert("digicert")
    input = {"certificateId": cert["id"], "reason": reason}
    preview = await call(account.client, PREVIEW, {"input": input})
    check_free_text(preview, reason, "reason")


@examples(60)
@given(organization=free_text)
async def test_an_organization_name_of_any_text_is_accepted_or_refused_on_it(account, organization):
    cert = await account.cert("wotrus")
    input = {"certificateId": cert["id"], "reason": "company renamed", "organizationName": organization}
    preview = await call(account.client, PREVIEW, {"input": input})
    if check_free_text(preview, organization, "organizationName"):
        # R13: review unless it is the organization on file.
        assert preview["manualReviewRequired"] is (organization.strip() != "Old Org Ltd")


@pytest.mark.parametrize(
    "text",
    [
        "鍵が漏洩しました\u3000再発行します",  # an ideographic space, as Japanese text has
        "Schlüssel kompromittiert\u00a0(Ticket 42)",  # a no-break space
        "key leaked, family laptop 👨\u200d👩\u200d👧",  # an emoji ZWJ sequence
        "\u05de\u05e4\u05ea\u05d7 \u05d3\u05dc\u05e3 \u200fv2",  # Hebrew with a right-to-left mark
    ],
    ids=["ideographic-space", "no-break-space", "emoji-zwj", "rtl-mark"],
)
async def test_ordinary_text_with_unicode_spaces_and_format_characters_is_accepted(account, text):
    """R10 asks for a brief text; these are text, not control characters."""
    cert = await account.cert("wotrus")
    for input in (
        {"certificateId": cert["id"], "reason": text},
        {"certificateId": cert["id"], "reason": "company renamed", "organizationName": text},
    ):
        preview = await call(account.client, PREVIEW, {"input": input})
        assert preview["userErrors"] == [], (input, preview["userErrors"])


# -- text that is not Unicode: lone surrogates ---------------------------------------------

SURROGATE = "\\ud800"  # valid JSON, but no Unicode scalar value


SURROGATE_CASES = [
    ("certificate", "query($id: ID!) { certificate(id: $id) { id } }", '{"id": "crt_%s"}'),
    ("node", "query($id: ID!) { node(id: $id) { id } }", '{"id": "crt_%s"}'),
    ("reissue", "query($id: ID!) { reissue(id: $id) { id } }", '{"id": "rei_%s"}'),
    ("certificates-domainContains", "query($f: CertificateFilter) { certificates(filter: $f) { totalCount } }",
     '{"f": {"domainContains": "x%s"}}'),
    ("reissues-certificateId", "query($f: ReissueFilter) { reissues(filter: $f) { totalCount } }",
     '{"f": {"certificateId": "crt_%s"}}'),
    ("previewReissue-certificateId", PREVIEW, '{"input": {"certificateId": "crt_%s", "reason": "r"}}'),
    ("requestReissue-certificateId", REQUEST, '{"input": {"certificateId": "crt_%s", "reason": "r"}}'),
    ("requestReissue-idempotencyKey", REQUEST,
     '{"input": {"certificateId": "<CERT>", "reason": "r", "idempotencyKey": "k%s"}}'),
    ("requestReissue-privateKeyPassword", REQUEST,
     '{"input": {"certificateId": "<CERT>", "reason": "r", "csrSource": "ONLINE", "privateKeyPassword": "pass%s"}}'),
    ("cancelReissue-reissueId", CANCEL, '{"id": "rei_%s"}'),
]


@pytest.mark.parametrize(("document", "variables"), [pytest.param(d, v, id=n) for n, d, v in SURROGATE_CASES])
async def test_a_lone_surrogate_is_never_an_internal_error(account, document, variables):
    """JSON can carry "\\ud800"; it cannot be stored (BSON wants UTF-8) nor encoded. The
    answer is null / NOT_FOUND / INVALID_INPUT, or a top-level error for a malformed
    request; never a masked internal error."""
    cert = await account.cert("digicert")
    body = '{"query": %s, "variables": %s}' % (
        json.dumps(document), (variables % SURROGATE).replace("<CERT>", cert["id"])
    )
    response = await account.client.http.post(
        "/graphql", content=body.encode(),
        headers={"Authorization": f"Bearer {account.client.token}", "Content-Type": "application/json"},
    )
    assert_not_masked(response)
    payload = response.json()
    if response.status_code == 200 and not payload.get("errors"):
        result = next(iter(payload["data"].values()))
        if isinstance(result, dict) and "userErrors" in result:
            await account.cancel_if_created(result)
            one_clean_error(result, fields=[["input", "certificateId"], ["input", "idempotencyKey"],
                                            ["input", "privateKeyPassword"], ["reissueId"]])
