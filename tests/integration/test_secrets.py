"""Secrets stay secret, and every log line is JSON with a request ID, checked against a real
`certreissue serve` process (R9, R26; certreissue/logs.py, RequestIdMiddleware).

One scenario runs once for the module against a database of its own: tokens made with
`certreissue token create`, uploads with and without a password-protected key, a paid DV
reissue with an ONLINE key and a password validated through real DNS, bad tokens,
userErrors, GraphQL errors whose input carries the password, and a body with a marker in
a comment. The server is then stopped, every document of every collection is read back,
and the tests below search them and every line the process wrote for the passwords, the
plaintext private keys, the raw API tokens and the body markers.
"""

from __future__ import annotations

import base64
import inspect
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import bson
import httpx
import pytest
from bson import json_util
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pymongo import MongoClient

from adapters.mongo import MongoTokenStore
from certreissue.app import logged_path
from tests import certs
from tests.conftest import free_port
from tests.integration.reissue_api import CHECK, GET, PREVIEW, REQUEST, days_ago, unique_zone
from tests.integration.test_upload_certificate import UPLOAD

CLI = str(Path(sys.executable).parent / "certreissue")
TOKEN = re.compile(r"crt1_[A-Za-z0-9_-]{43}")

CERT_KEY = "query Key($id: ID!) { certificate(id: $id) { id privateKeyPem } }"
DOWNLOAD = """mutation D($input: CreateDownloadInput!) {
  createDownload(input: $input) { download { url } userErrors { code field } } }"""
# A client's typo: an input field that does not exist, next to the password.
REQUEST_WITH_TYPO = "mutation R($input: RequestReissueInput!) { requestReissue(input: $input) { reissue { id } } }"


# --------------------------------------------------------------------------- secrets


@dataclass
class Secret:
    """One secret and the forms it may take in a log line or a stored document."""

    label: str
    texts: list[str]  # searched in text, with and without whitespace and "\n" escapes
    blobs: list[bytes] = field(default_factory=list)  # searched in raw bytes as they are


def _pem_body(text: str) -> str:
    """The base64 between the BEGIN and END lines, without line breaks."""
    return "".join(line.strip() for line in text.strip().splitlines() if line.strip() and not line.startswith("-----"))


def key_secret(label: str, key) -> Secret:
    """A private key in every plaintext form it could leak in: PKCS#8 and traditional PEM
    bodies, their DER, and the private number itself."""
    texts, blobs = [], []
    for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        pem_text = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()
        texts.append(_pem_body(pem_text))
        blobs.append(key.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption()))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        number = key.private_numbers().private_value
        size = (key.curve.key_size + 7) // 8
    elif isinstance(key, rsa.RSAPrivateKey):
        number = key.private_numbers().d
        size = (key.key_size + 7) // 8
    else:  # pragma: no cover - the scenario uses EC and RSA keys only
        raise TypeError(type(key))
    blobs.append(number.to_bytes(size, "big"))
    texts.append(format(number, "x"))
    return Secret(label, texts, blobs)


def password_secret(label: str, password: str, distinctive: str) -> Secret:
    """The password, and its random part alone (found even if the rest was escaped)."""
    return Secret(label, [password, distinctive], [password.encode(), distinctive.encode()])


def token_secret(label: str, token: str) -> Secret:
    random_part = token.removeprefix("crt1_").removeprefix("dl1_")
    return Secret(label, [token, random_part], [token.encode(), random_part.encode()])


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text.replace("\\r", "").replace("\\n", ""))


def found_in(secret: Secret, texts: list[str], blobs: list[bytes]) -> list[str]:
    """Which forms of `secret` occur in the haystacks."""
    hits = []
    squeezed = [_squeeze(t) for t in texts]
    squeezed_blobs = [re.sub(rb"\s+", b"", b) for b in blobs]
    for form in secret.texts:
        needle = _squeeze(form)
        if any(form in t for t in texts) or any(needle in t for t in squeezed) or any(
            needle.encode() in b for b in squeezed_blobs
        ):
            hits.append(f"text {form[:24]}...")
    for form in secret.blobs:
        if any(form in b for b in blobs):
            hits.append(f"bytes {form[:12].hex()}...")
    return hits


def _strings_and_bytes(value, texts: list[str], blobs: list[bytes]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            texts.append(str(k))
            _strings_and_bytes(v, texts, blobs)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _strings_and_bytes(v, texts, blobs)
    elif isinstance(value, (bytes, bytearray)):  # bson Binary is a bytes subclass
        blobs.append(bytes(value))
        texts.append(bytes(value).decode("utf-8", "replace"))
    elif isinstance(value, str):
        texts.append(value)
        blobs.append(value.encode())


# --------------------------------------------------------------------------- the scenario


@dataclass
class Exchange:
    label: str
    path: str
    status: int
    request_id: str  # the response's X-Request-ID
    sent_request_id: str | None = None


@dataclass
class LogLine:
    stream: str
    number: int
    text: str

    def where(self) -> str:
        return f"{self.stream} line {self.number}: {self.text[:300]}"


@dataclass
class Scenario:
    db_name: str
    secrets: list[Secret]
    markers: list[Secret]
    documents: dict[str, list[dict]]
    lines: list[LogLine]
    exchanges: list[Exchange]
    returned_encrypted_key: str  # the reissue's encrypted PKCS#8, for a positive control
    uploaded_leaf_pem: str


def _env(database_uri: str, db_name: str, data_dir: Path, dns_port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTS_", "MONGODB_"))}
    env.update(
        MONGODB_URI=database_uri,
        CERTS_DB_NAME=db_name,
        CERTS_DATA_DIR=str(data_dir),
        CERTS_DNS_NAMESERVERS=f"127.0.0.1:{dns_port}",
    )
    return env


def _create_token(env: dict, account: str, role: str) -> str:
    subprocess.run([CLI, "account", "create", account], env=env, capture_output=True, timeout=120, check=True)
    result = subprocess.run(
        [CLI, "token", "create", *(["--staff"] if role in ("reviewer", "operator") else ["--account", account]),
         "--role", role],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert TOKEN.fullmatch(token), result.stdout
    return token


class Api:
    """Sequential HTTP calls to the served process; each response's request ID is kept."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60)
        self.exchanges: list[Exchange] = []

    def get(self, label: str, path: str) -> httpx.Response:
        response = self.http.get(path)
        self._keep(label, path, response, None)
        return response

    def post(
        self,
        label: str,
        query: str,
        variables: dict | None = None,
        *,
        token: str | None = None,
        authorization: str | None = None,
        request_id: str | None = None,
    ) -> httpx.Response:
        headers = {}
        if authorization is not None:
            headers["Authorization"] = authorization
        elif token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if request_id is not None:
            headers["X-Request-ID"] = request_id
        response = self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        self._keep(label, "/graphql", response, request_id)
        return response

    def data(self, label: str, query: str, variables: dict | None = None, **kw) -> dict:
        response = self.post(label, query, variables, **kw)
        assert response.status_code == 200, (label, response.text)
        body = response.json()
        assert not body.get("errors"), (label, body["errors"])
        return body["data"]

    def _keep(self, label: str, path: str, response: httpx.Response, sent: str | None) -> None:
        self.exchanges.append(
            Exchange(label, path, response.status_code, response.headers.get("x-request-id", ""), sent)
        )


def _wait_ready(api: Api, process: subprocess.Popen, stderr_path: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if api.get("readyz", "/readyz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"serve did not become ready:\n{stderr_path.read_text()[-3000:]}")
        time.sleep(0.2)


def _run_traffic(api: Api, owner: str, reviewer: str, dns_server, secrets_: list[Secret], markers: list[Secret]):
    """Everything a client does; returns what the positive controls need."""
    hexes = [secrets.token_hex(10) for _ in range(3)]
    upload_password = "Tr0ub4dor&3-" + hexes[0]
    wrong_password = "Wr0ng-pa55-" + hexes[1]
    reissue_password = "Tr0ub4dor&3-" + hexes[2]
    secrets_ += [
        password_secret("upload password", upload_password, hexes[0]),
        password_secret("wrong upload password", wrong_password, hexes[1]),
        password_secret("reissue password", reissue_password, hexes[2]),
        token_secret("owner token", owner),
        token_secret("reviewer token", reviewer),
    ]

    # R26: refused tokens; an unknown token that looks real must not be logged either.
    unknown = "crt1_" + secrets.token_urlsafe(32)
    tampered = owner[:-1] + ("A" if owner[-1] != "A" else "B")
    secrets_ += [token_secret("unknown token", unknown), token_secret("tampered owner token", tampered)]
    for label, authorization in [
        ("no token", None),
        ("unknown token", f"Bearer {unknown}"),
        ("tampered token", f"Bearer {tampered}"),
        ("not a bearer", f"Basic {owner}"),
        ("garbage token", "Bearer not-a-token"),
    ]:
        response = api.post(label, "{ certificates { totalCount } }", authorization=authorization or None)
        assert response.status_code == 401, (label, response.text)

    # Bodies are never logged: a marker in a comment, in a good request and in one that fails
    # validation (the failing field right after the comment).
    good_marker, bad_marker = f"body-marker-{secrets.token_hex(8)}", f"body-marker-{secrets.token_hex(8)}"
    markers += [Secret("marker of a valid body", [good_marker]), Secret("marker of an invalid body", [bad_marker])]
    api.data("marker, valid", f"# {good_marker}\n{{ certificates {{ totalCount }} }}", token=owner,
             request_id=f"secrets-{secrets.token_hex(6)}")
    response = api.post("marker, invalid", f"{{\n  # {bad_marker}\n  certificates {{ noSuchField }}\n}}", token=owner)
    assert response.json().get("errors"), response.text

    # Upload with a password-protected key: first the wrong password (a userError), then the right one.
    protected_zone, plain_zone = unique_zone(), unique_zone()
    protected = certs.issue(f"shop.{protected_zone}", not_before=days_ago(10))
    plain = certs.issue(f"www.{plain_zone}", not_before=days_ago(10))
    secrets_ += [key_secret("uploaded protected key (plaintext)", protected.key),
                 key_secret("uploaded unencrypted key", plain.key)]
    base = {"validationMethod": "DNS"}
    refused = api.data("upload, wrong password", UPLOAD, {"input": {
        **base, "certificatePem": protected.chain_pem, "csrPem": protected.csr_pem,
        "privateKeyPem": protected.key_pem(upload_password), "privateKeyPassword": wrong_password,
    }}, token=owner)["uploadCertificate"]
    assert [e["field"] for e in refused["userErrors"]] == [["input", "privateKeyPassword"]], refused
    uploaded = api.data("upload, password", UPLOAD, {"input": {
        **base, "certificatePem": protected.chain_pem, "csrPem": protected.csr_pem,
        "privateKeyPem": protected.key_pem(upload_password), "privateKeyPassword": upload_password,
    }}, token=owner, request_id=f"secrets-{secrets.token_hex(6)}")["uploadCertificate"]
    assert uploaded["userErrors"] == [], uploaded
    protected_id = uploaded["certificate"]["id"]
    # The owner downloads it as they gave it: encrypted with their password.
    assert "ENCRYPTED PRIVATE KEY" in uploaded["certificate"]["privateKeyPem"]
    uploaded_plain = api.data("upload, no password", UPLOAD, {"input": {
        **base, "certificatePem": plain.chain_pem, "privateKeyPem": plain.key_pem(),
    }}, token=owner)["uploadCertificate"]
    assert uploaded_plain["userErrors"] == [], uploaded_plain
    plain_id = uploaded_plain["certificate"]["id"]
    # Reading the keys back (the unencrypted one is unsealed for the owner).
    read_back = api.data("read key", CERT_KEY, {"id": plain_id}, token=owner)["certificate"]["privateKeyPem"]
    assert read_back == plain.key_pem()
    api.data("read protected key", CERT_KEY, {"id": protected_id}, token=owner)

    # Downloads: the protected key's own password opens it for a PFX (R9: used in memory);
    # a store password for the sealed key; the URLs' tokens are bearer secrets too. One URL
    # is used (then 410), one is left unused, so its grant (and sealed password) is stored.
    dl_hex = [secrets.token_hex(10) for _ in range(2)]
    store_password, wrong_key_password = "St0re-pa55-" + dl_hex[0], "Wr0ng-key-" + dl_hex[1]
    secrets_ += [password_secret("store password", store_password, dl_hex[0]),
                 password_secret("wrong key password", wrong_key_password, dl_hex[1])]
    wrong = api.data("download, wrong key password", DOWNLOAD, {"input": {
        "certificateId": protected_id, "format": "IIS", "keyPassword": wrong_key_password,
    }}, token=owner)["createDownload"]
    assert [e["field"] for e in wrong["userErrors"]] == [["input", "keyPassword"]], wrong
    for label, cert_id, password, fetched in (
        ("download protected key", protected_id, upload_password, True),
        ("download sealed key", plain_id, store_password, True),
        ("download left unused", plain_id, store_password, False),
    ):
        made = api.data(label, DOWNLOAD, {"input": {
            "certificateId": cert_id, "format": "TOMCAT", "keyPassword": password,
        }}, token=owner)["createDownload"]
        assert made["userErrors"] == [], made
        path = "/" + made["download"]["url"].split("/", 3)[3]
        secrets_.append(token_secret(f"{label} URL token", path.removeprefix("/downloads/")))
        if fetched:
            assert api.get(f"{label}, fetch", path).status_code == 200
            assert api.get(f"{label}, fetch again", path).status_code == 410

    reissue_input = {
        "certificateId": protected_id, "csrSource": "ONLINE", "keyAlgorithm": "RSA", "keyParameter": "2048",
        "privateKeyPassword": reissue_password, "reason": "key compromised",
    }
    # A reviewer may not request (FORBIDDEN), a typo in the input is a GraphQL error, a
    # preview has no side effect: all three carry the password.
    forbidden = api.data("reviewer requests", REQUEST, {"input": reissue_input}, token=reviewer)["requestReissue"]
    assert [e["code"] for e in forbidden["userErrors"]] == ["FORBIDDEN"], forbidden
    typo = api.post("typo in input", REQUEST_WITH_TYPO, {"input": {**reissue_input, "keyAlgoritm": "RSA"}}, token=owner)
    assert typo.json().get("errors"), typo.text
    preview = api.data("preview", PREVIEW, {"input": reissue_input}, token=owner)["previewReissue"]
    assert preview["userErrors"] == [] and preview["domainValidationRequired"] is True, preview

    # The reissue: ONLINE key with a password, 10 days after issue, so DNS validation (R15, R17).
    idempotency = f"secrets-{uuid.uuid4().hex}"
    started = api.data("request", REQUEST, {"input": {**reissue_input, "idempotencyKey": idempotency}},
                       token=owner, request_id=f"secrets-{secrets.token_hex(6)}")["requestReissue"]
    assert started["userErrors"] == [], started
    reissue = started["reissue"]
    assert reissue["status"] == "PENDING_DOMAIN_VALIDATION" and reissue["privateKeyProtected"] is True, reissue
    encrypted_pem = started["privateKeyPem"]
    assert encrypted_pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----"), encrypted_pem
    generated = serialization.load_pem_private_key(encrypted_pem.encode(), reissue_password.encode())
    secrets_.append(key_secret("generated key (decrypted)", generated))
    replay = api.data("request replay", REQUEST, {"input": {**reissue_input, "idempotencyKey": idempotency}},
                      token=owner)["requestReissue"]
    assert replay["userErrors"] == [] and replay["reissue"]["id"] == reissue["id"], replay

    dns = reissue["domainValidation"]["dns"]
    first = api.data("check, no record", CHECK, {"id": reissue["id"]}, token=owner)["checkDomainValidation"]
    assert first["reissue"]["status"] == "PENDING_DOMAIN_VALIDATION", first
    dns_server.resolver.set(dns["name"], "TXT", [dns["value"]])
    for attempt in range(5):
        checked = api.data(f"check {attempt}", CHECK, {"id": reissue["id"]}, token=owner)["checkDomainValidation"]
        if checked["reissue"]["status"] == "ISSUED":
            break
        time.sleep(0.5)
    assert checked["userErrors"] == [] and checked["reissue"]["status"] == "ISSUED", checked
    assert checked["reissue"]["deployableToCloudServices"] is False  # R9
    api.data("reviewer reads", GET, {"id": reissue["id"]}, token=reviewer)
    # The certificate now carries the new key, still only as the owner's encrypted PKCS#8.
    after = api.data("read reissued key", CERT_KEY, {"id": protected_id}, token=owner)["certificate"]["privateKeyPem"]
    assert after is None or "ENCRYPTED PRIVATE KEY" in after, after[:40]

    # Webhook signing secrets: shown once (create, rotate), kept sealed, never logged.
    hooks_host = f"hooks.{unique_zone()}"
    dns_server.resolver.set(hooks_host, "A", ["93.184.216.34"])  # public; only expiry events, none due
    created = api.data("create webhook", """mutation($input: CreateWebhookEndpointInput!) {
      createWebhookEndpoint(input: $input) { webhookEndpoint { id } secret userErrors { code message } } }""",
        {"input": {"url": f"https://{hooks_host}/in", "events": ["certificate.expiring"]}}, token=owner,
    )["createWebhookEndpoint"]
    assert created["userErrors"] == [] and created["secret"].startswith("whsec_"), created
    rotated = api.data("rotate webhook secret", """mutation($id: ID!) {
      rotateWebhookSecret(input: {endpointId: $id}) { secret userErrors { code message } } }""",
        {"id": created["webhookEndpoint"]["id"]}, token=owner)["rotateWebhookSecret"]
    for label, secret in (("webhook secret", created["secret"]), ("rotated webhook secret", rotated["secret"])):
        raw = base64.b64decode(secret.removeprefix("whsec_"))
        secrets_.append(Secret(label, [secret, secret.removeprefix("whsec_")], [secret.encode(), raw]))
    return encrypted_pem, protected.leaf_pem


@pytest.fixture(scope="module")
def scenario(database_uri: str, dns_server, tmp_path_factory) -> Iterator[Scenario]:
    work = tmp_path_factory.mktemp("secrets")
    db_name = f"secrets_{uuid.uuid4().hex[:10]}"
    env = _env(database_uri, db_name, work / "data", dns_server.port)
    (work / "data").mkdir()
    stderr_path, stdout_path = work / "serve.stderr", work / "serve.stdout"
    port = free_port()
    with stderr_path.open("wb") as err, stdout_path.open("wb") as out:
        process = subprocess.Popen(
            [CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "debug"],
            env=env, stdout=out, stderr=err,
        )
    api = Api(f"http://127.0.0.1:{port}")
    found_secrets: list[Secret] = []
    markers: list[Secret] = []
    try:
        _wait_ready(api, process, stderr_path)
        account = f"secrets-{uuid.uuid4().hex[:8]}"
        owner = _create_token(env, account, "owner")
        reviewer = _create_token(env, account, "reviewer")
        encrypted_pem, leaf_pem = _run_traffic(api, owner, reviewer, dns_server, found_secrets, markers)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        api.http.close()
    assert process.returncode is not None

    client = MongoClient(database_uri, serverSelectionTimeoutMS=10_000)
    try:
        db = client[db_name]
        documents = {name: list(db[name].find({})) for name in sorted(db.list_collection_names())}
    finally:
        client.drop_database(db_name)
        client.close()

    lines = [
        LogLine(stream, number, text)
        for stream, path in (("stderr", stderr_path), ("stdout", stdout_path))
        for number, text in enumerate(path.read_text(errors="replace").splitlines(), 1)
    ]
    yield Scenario(db_name, found_secrets, markers, documents, lines, api.exchanges, encrypted_pem, leaf_pem)


# --------------------------------------------------------------------------- the tests


def _json_strings(value, out: list[str]) -> None:
    if isinstance(value, dict):
        for v in value.values():
            _json_strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _json_strings(v, out)
    elif isinstance(value, str):
        out.append(value)


def _parsed(line: LogLine) -> dict | None:
    try:
        entry = json.loads(line.text)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def _document_haystacks(doc: dict) -> tuple[list[str], list[bytes]]:
    texts = [json_util.dumps(doc), repr(doc)]
    blobs = [bson.encode(doc)]
    _strings_and_bytes(doc, texts, blobs)
    return texts, blobs


def test_the_search_finds_what_is_stored(scenario: Scenario):
    """Positive controls: the search reads binary fields and PEM text as stored, so a
    secret stored the same way would be found."""
    assert {"certificates", "api_tokens", "reissues"} <= set(scenario.documents), list(scenario.documents)
    assert len(scenario.documents["api_tokens"]) == 2
    stored_encrypted = Secret("the reissue's encrypted key", [_pem_body(scenario.returned_encrypted_key)])
    leaf = Secret("the uploaded leaf", [_pem_body(scenario.uploaded_leaf_pem)])
    for control, collection in ((stored_encrypted, "reissues"), (leaf, "certificates")):
        hits = [
            doc["_id"]
            for doc in scenario.documents[collection]
            if found_in(control, *_document_haystacks(doc))
        ]
        assert hits, f"{control.label} not found in {collection}: the search is blind"
    assert {s.label for s in scenario.secrets} >= {
        "upload password", "wrong upload password", "reissue password", "owner token", "reviewer token",
        "uploaded protected key (plaintext)", "uploaded unencrypted key", "generated key (decrypted)",
    }


def test_no_password_plaintext_key_token_or_body_is_stored(scenario: Scenario):
    """R9: passwords are never stored; private keys only sealed or password-encrypted;
    tokens only as keyed hashes."""
    leaks = []
    for collection, docs in scenario.documents.items():
        for doc in docs:
            texts, blobs = _document_haystacks(doc)
            for secret in scenario.secrets + scenario.markers:
                hits = found_in(secret, texts, blobs)
                if hits:
                    leaks.append(f"{secret.label} in {scenario.db_name}.{collection} _id={doc.get('_id')!r}: {hits}")
    assert not leaks, "secrets found in the database:\n" + "\n".join(leaks)


def test_no_password_plaintext_key_token_or_body_is_logged(scenario: Scenario):
    """R9 (passwords never logged), and logs.py: request bodies are never logged."""
    assert any(_parsed(line) for line in scenario.lines), "the server logged nothing"
    leaks = []
    for line in scenario.lines:
        texts = [line.text]
        entry = _parsed(line)
        if entry is not None:
            _json_strings(entry, texts)
        for secret in scenario.secrets + scenario.markers:
            hits = found_in(secret, texts, [line.text.encode()])
            if hits:
                leaks.append(f"{secret.label} ({hits}) in {line.where()}")
    assert not leaks, "secrets found in the logs:\n" + "\n".join(leaks)


def test_every_log_line_is_json_with_a_request_id(scenario: Scenario):
    bad = []
    for line in scenario.lines:
        entry = _parsed(line)
        if entry is None:
            bad.append(f"not a JSON object: {line.where()}")
        elif not isinstance(entry.get("request_id"), str) or not entry["request_id"]:
            bad.append(f"no request_id: {line.where()}")
    assert not bad, "\n".join(bad)


def _is_background(entry: dict) -> bool:
    """Lines written outside any request: the periodic sweep."""
    return entry.get("logger") == "certreissue" and str(entry.get("message", "")).startswith("sweep")


def test_lines_logged_during_a_request_carry_its_request_id(scenario: Scenario):
    """Every response has an X-Request-ID (the client's when it sent a valid one); the
    request line with that ID is logged; and every line logged while a request was served
    carries its ID. The calls are sequential, so the lines a request wrote are the ones
    between the previous request line and its own."""
    exchanges = scenario.exchanges
    assert all(e.request_id for e in exchanges), [e.label for e in exchanges if not e.request_id]
    for e in exchanges:
        if e.sent_request_id:
            assert e.request_id == e.sent_request_id, e
    generated = [e.request_id for e in exchanges if not e.sent_request_id]
    assert len(set(generated)) == len(generated), "request IDs repeat"

    entries = [(line, _parsed(line)) for line in scenario.lines if line.stream == "stderr"]
    request_lines = [
        (line, entry) for line, entry in entries
        if entry and entry.get("logger") == "certreissue" and entry.get("message") == "request"
    ]
    logged = [(entry.get("request_id"), entry.get("path"), entry.get("status")) for _, entry in request_lines]
    # A download URL's token is logged as <token> (certreissue.app.logged_path).
    sent = [(e.request_id, logged_path(e.path), e.status) for e in exchanges]
    assert logged == sent, "the request lines do not match the responses (X-Request-ID, path, status)"

    wrong = []
    pending: list[tuple[LogLine, dict]] = []
    seen_requests = 0
    for line, entry in entries:
        if entry is None:
            continue  # reported by test_every_log_line_is_json_with_a_request_id
        if entry.get("logger") == "certreissue" and entry.get("message") == "request":
            rid = entry["request_id"]
            for other_line, other in pending:
                if other.get("request_id") == rid:
                    continue
                if other.get("request_id") == "-" and (seen_requests == 0 or _is_background(other)):
                    continue  # startup (before the first request), or the sweep
                wrong.append(f"logged while request {rid} was served, with request_id "
                             f"{other.get('request_id')!r}: {other_line.where()}")
            pending = []
            seen_requests += 1
        else:
            pending.append((line, entry))
    # After the last request line: shutdown only, outside any request.
    for other_line, other in pending:
        if other.get("request_id") != "-":
            wrong.append(f"logged after the last request with request_id {other.get('request_id')!r}: "
                         f"{other_line.where()}")
    assert not wrong, "\n".join(wrong)


def test_tokens_are_compared_in_constant_time():
    """A guard on the code path every call goes through (R26): the token store's
    authenticate compares with hmac.compare_digest, never with ==; it is the store wired."""
    from certreissue import bootstrap

    source = inspect.getsource(MongoTokenStore.authenticate)
    assert "hmac.compare_digest(" in source, source
    assert not re.search(r"(digest|token|_id\"\])\s*[!=]=|[!=]=\s*(digest|token)\b", source), source
    assert "MongoTokenStore(" in inspect.getsource(bootstrap)
