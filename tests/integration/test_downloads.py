"""createDownload and its one-time URLs (R26), through the real API and real consumers:
OpenSSL opens the PKCS#12/PFX, Java's keytool the PKCS#12 and the JKS (and converts the
JKS to a PKCS#12 OpenSSL opens)."""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from tests import certs
from tests.integration.reissue_api import request, unique_zone, upload_cert
from tests.support.serve import ServeProcess

CREATE = """
mutation D($input: CreateDownloadInput!) {
  createDownload(input: $input) {
    download { url expiresAt format fileName }
    userErrors { code message field }
  }
}
"""
VERSIONS = "query V($id: ID!) { certificate(id: $id) { versions { version serialNumber supersededAt } } }"


async def create(client, certificate_id: str, format: str, **extra) -> dict:
    data = await client(CREATE, {"input": {"certificateId": certificate_id, "format": format, **extra}})
    return data["createDownload"]


async def download(client, certificate_id: str, format: str, **extra) -> dict:
    payload = await create(client, certificate_id, format, **extra)
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload["download"]


def codes(payload: dict) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


async def fetch(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.get(url)


def unzip(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def public_numbers(key_or_cert):
    return key_or_cert.public_key().public_numbers()


# --------------------------------------------------------------------------- formats


async def test_an_owner_gets_an_nginx_bundle_once_then_the_url_is_gone(owner):
    cert, issued = await upload_cert(owner, f"www.{unique_zone()}")
    found = await download(owner, cert["id"], "NGINX")
    assert found["format"] == "NGINX" and found["url"].startswith("http://127.0.0.1:")
    expires = datetime.fromisoformat(found["expiresAt"].replace("Z", "+00:00"))
    assert timedelta(minutes=4) < expires - datetime.now(UTC) <= timedelta(minutes=5, seconds=5)

    first = await fetch(found["url"])
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "application/zip"
    assert first.headers["cache-control"] == "no-store"
    assert first.headers["content-disposition"] == f'attachment; filename="{found["fileName"]}"'
    files = unzip(first.content)
    assert sorted(files) == ["fullchain.pem", "privkey.pem"]
    chain = x509.load_pem_x509_certificates(files["fullchain.pem"])
    assert chain[0].serial_number == issued.cert.serial_number and len(chain) == 2
    key = serialization.load_pem_private_key(files["privkey.pem"], None)
    assert public_numbers(key) == public_numbers(issued.key)

    again = await fetch(found["url"])
    assert again.status_code == 410 and "used or has expired" in again.text


async def test_the_pem_bundle_holds_certificate_chain_and_fullchain_and_never_a_key(owner):
    cert, issued = await upload_cert(owner, f"www.{unique_zone()}")
    files = unzip((await fetch((await download(owner, cert["id"], "PEM"))["url"])).content)
    assert sorted(files) == ["certificate.pem", "chain.pem", "fullchain.pem"]
    assert x509.load_pem_x509_certificate(files["certificate.pem"]).serial_number == issued.cert.serial_number
    assert files["fullchain.pem"] == files["certificate.pem"] + files["chain.pem"]
    assert b"PRIVATE KEY" not in b"".join(files.values())


async def test_apache_bundle_has_certificate_chain_and_the_key_encrypted_with_the_password_given(owner):
    cert, issued = await upload_cert(owner, f"www.{unique_zone()}")
    files = unzip((await fetch((await download(owner, cert["id"], "APACHE", keyPassword="apache-pw"))["url"])).content)
    assert sorted(files) == ["certificate.pem", "chain.pem", "privkey.pem"]
    assert b"ENCRYPTED PRIVATE KEY" in files["privkey.pem"]
    key = serialization.load_pem_private_key(files["privkey.pem"], b"apache-pw")
    assert public_numbers(key) == public_numbers(issued.key)


async def test_a_certificate_uploaded_without_its_key_gets_bundles_without_a_key_and_no_key_store(owner):
    cert, _ = await upload_cert(owner, f"www.{unique_zone()}", with_key=False)
    files = unzip((await fetch((await download(owner, cert["id"], "NGINX"))["url"])).content)
    assert sorted(files) == ["fullchain.pem"]
    refused = await create(owner, cert["id"], "IIS", keyPassword="pw")
    assert codes(refused) == ["INVALID_STATE"] and refused["download"] is None


needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
needs_keytool = pytest.mark.skipif(shutil.which("keytool") is None, reason="Java's keytool is not installed")


def openssl_opens(path: Path, password: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["openssl", "pkcs12", "-info", "-noout", "-passin", f"pass:{password}", "-in", str(path)],
        capture_output=True, text=True, timeout=60,
    )


def keytool_lists(path: Path, password: str, store_type: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["keytool", "-list", "-v", "-keystore", str(path), "-storetype", store_type, "-storepass", password],
        capture_output=True, text=True, timeout=120,
    )


@needs_openssl
async def test_the_iis_pfx_opens_in_openssl_with_its_password_only(owner, tmp_path):
    cert, _ = await upload_cert(owner, f"www.{unique_zone()}")
    files = unzip((await fetch((await download(owner, cert["id"], "IIS", keyPassword="pfx-Secret-1"))["url"])).content)
    assert sorted(files) == ["certificate.pfx"]
    pfx = tmp_path / "certificate.pfx"
    pfx.write_bytes(files["certificate.pfx"])
    assert openssl_opens(pfx, "pfx-Secret-1").returncode == 0
    assert openssl_opens(pfx, "wrong").returncode != 0


@needs_openssl
@needs_keytool
async def test_the_tomcat_zip_holds_a_pkcs12_and_a_jks_that_keytool_and_openssl_open(owner, tmp_path):
    name = f"www.{unique_zone()}"
    cert, issued = await upload_cert(owner, name)
    files = unzip((await fetch((await download(owner, cert["id"], "TOMCAT", keyPassword="changeit-2"))["url"])).content)
    assert sorted(files) == ["keystore.jks", "keystore.p12"]
    p12, jks, converted = tmp_path / "keystore.p12", tmp_path / "keystore.jks", tmp_path / "from-jks.p12"
    p12.write_bytes(files["keystore.p12"])
    jks.write_bytes(files["keystore.jks"])
    assert openssl_opens(p12, "changeit-2").returncode == 0
    serial = format(issued.cert.serial_number, "x")
    for path, store_type in ((p12, "PKCS12"), (jks, "JKS")):
        listed = keytool_lists(path, "changeit-2", store_type)
        assert listed.returncode == 0, listed.stdout + listed.stderr
        assert "PrivateKeyEntry" in listed.stdout and f"Alias name: {name}" in listed.stdout
        assert "Certificate chain length: 2" in listed.stdout and serial in listed.stdout.lower()
        assert keytool_lists(path, "not-it", store_type).returncode != 0
    # keytool recovers the JKS's key with the same password and writes it to PKCS#12;
    # OpenSSL then shows the very certificate the service holds, with its key.
    imported = subprocess.run(
        ["keytool", "-importkeystore", "-noprompt", "-srckeystore", str(jks), "-srcstoretype", "JKS",
         "-srcstorepass", "changeit-2", "-destkeystore", str(converted), "-deststoretype", "PKCS12",
         "-deststorepass", "changeit-2"],
        capture_output=True, text=True, timeout=120,
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    opened = subprocess.run(
        ["openssl", "pkcs12", "-in", str(converted), "-passin", "pass:changeit-2", "-nodes"],
        capture_output=True, text=True, timeout=60,
    )
    assert opened.returncode == 0, opened.stderr
    shown = x509.load_pem_x509_certificates(opened.stdout.encode())
    assert shown[0].fingerprint(hashes.SHA256()) == issued.cert.fingerprint(hashes.SHA256())
    key = serialization.load_pem_private_key(opened.stdout[opened.stdout.index("-----BEGIN PRIVATE KEY"):].encode(), None)
    assert public_numbers(key) == public_numbers(issued.cert)


# --------------------------------------------------------------------------- who may


async def test_a_viewer_downloads_pem_but_no_format_with_a_key(owner, client_for):
    cert, _ = await upload_cert(owner, f"www.{unique_zone()}")
    viewer = await client_for(owner.account, "viewer")
    files = unzip((await fetch((await download(viewer, cert["id"], "PEM"))["url"])).content)
    assert b"PRIVATE KEY" not in b"".join(files.values())
    for format in ("NGINX", "APACHE"):
        assert codes(await create(viewer, cert["id"], format)) == ["FORBIDDEN"]
    for format in ("TOMCAT", "IIS"):
        assert codes(await create(viewer, cert["id"], format, keyPassword="pw")) == ["FORBIDDEN"]


async def test_staff_have_no_downloads(owner):
    cert, _ = await upload_cert(owner, f"www.{unique_zone()}")
    for role in ("reviewer", "operator"):
        refused = await create(owner.as_staff(role), cert["id"], "PEM")
        assert codes(refused) == ["FORBIDDEN"] and refused["download"] is None


async def test_another_accounts_certificate_is_not_found(owner, client_for, new_account):
    cert, _ = await upload_cert(owner, f"www.{unique_zone()}")
    stranger = await client_for(new_account("stranger"), "owner")
    refused = await create(stranger, cert["id"], "NGINX")
    assert codes(refused) == ["NOT_FOUND"] and refused["download"] is None
    assert codes(await create(stranger, "crt_000000000000000000000000", "PEM")) == ["NOT_FOUND"]


async def test_key_stores_need_a_password_and_pem_takes_none(owner):
    cert, _ = await upload_cert(owner, f"www.{unique_zone()}")
    for format in ("TOMCAT", "IIS"):
        refused = await create(owner, cert["id"], format)
        assert codes(refused) == ["INVALID_INPUT"] and refused["userErrors"][0]["field"] == ["input", "keyPassword"]
    assert codes(await create(owner, cert["id"], "PEM", keyPassword="x")) == ["INVALID_INPUT"]
    assert codes(await create(owner, cert["id"], "IIS", keyPassword="")) == ["INVALID_INPUT"]


@needs_openssl
async def test_a_password_protected_key_needs_its_own_password(owner, tmp_path):
    name = f"www.{unique_zone()}"
    key = certs.rsa_key()
    issued = certs.issue(name, key=key)
    from tests.integration.test_upload_certificate import UPLOAD

    uploaded = (await owner(UPLOAD, {"input": {
        "certificatePem": issued.chain_pem, "privateKeyPem": certs.key_pem(key, "own-pass"),
        "privateKeyPassword": "own-pass",
    }}))["uploadCertificate"]
    assert uploaded["userErrors"] == []
    cert_id = uploaded["certificate"]["id"]
    missing = await create(owner, cert_id, "NGINX")
    assert codes(missing) == ["INVALID_INPUT"] and missing["userErrors"][0]["field"] == ["input", "keyPassword"]
    wrong = await create(owner, cert_id, "IIS", keyPassword="not-the-pass")
    assert codes(wrong) == ["INVALID_INPUT"] and "password is wrong" in wrong["userErrors"][0]["message"]
    files = unzip((await fetch((await download(owner, cert_id, "IIS", keyPassword="own-pass"))["url"])).content)
    (tmp_path / "c.pfx").write_bytes(files["certificate.pfx"])
    assert openssl_opens(tmp_path / "c.pfx", "own-pass").returncode == 0


async def test_an_older_version_needs_no_password_for_a_protected_key_it_does_not_have(owner):
    cert, _ = await upload_cert(owner, f"new.{unique_zone()}", issued_days_ago=1)
    result = await request(owner, certificateId=cert["id"], csrSource="ONLINE", keyAlgorithm="ECC",
                           privateKeyPassword="new-key-pass", reason="new key")
    assert result["reissue"]["status"] == "ISSUED" and result["reissue"]["privateKeyProtected"] is True
    old = unzip((await fetch((await download(owner, cert["id"], "NGINX", version=1))["url"])).content)
    assert sorted(old) == ["fullchain.pem"]
    assert codes(await create(owner, cert["id"], "NGINX")) == ["INVALID_INPUT"]  # the current one needs it
    current = unzip((await fetch((await download(owner, cert["id"], "NGINX", keyPassword="new-key-pass"))["url"])).content)
    key = serialization.load_pem_private_key(current["privkey.pem"], b"new-key-pass")
    assert public_numbers(key) == public_numbers(x509.load_pem_x509_certificates(current["fullchain.pem"])[0])


async def test_versions_are_numbered_and_an_older_version_comes_without_the_key_it_no_longer_has(owner):
    cert, issued = await upload_cert(owner, f"new.{unique_zone()}", issued_days_ago=1)
    result = await request(owner, certificateId=cert["id"], csrSource="ONLINE", keyAlgorithm="ECC", reason="new key")
    assert result["reissue"]["status"] == "ISSUED"
    versions = (await owner(VERSIONS, {"id": cert["id"]}))["certificate"]["versions"]
    assert [v["version"] for v in versions] == [2, 1]
    old = unzip((await fetch((await download(owner, cert["id"], "NGINX", version=1))["url"])).content)
    assert sorted(old) == ["fullchain.pem"]
    assert x509.load_pem_x509_certificates(old["fullchain.pem"])[0].serial_number == issued.cert.serial_number
    current = await download(owner, cert["id"], "NGINX")
    assert current["fileName"].endswith("-v2-nginx.zip")
    files = unzip((await fetch(current["url"])).content)
    key = serialization.load_pem_private_key(files["privkey.pem"], None)
    leaf = x509.load_pem_x509_certificates(files["fullchain.pem"])[0]
    assert public_numbers(key) == public_numbers(leaf)
    for number in (0, 3, -1):
        assert codes(await create(owner, cert["id"], "PEM", version=number)) == ["INVALID_INPUT"]


# --------------------------------------------------------------------------- the URL


async def test_a_wildcards_file_name_and_the_zip_entries_hold_no_path(owner):
    zone = unique_zone()
    cert, _ = await upload_cert(owner, f"*.{zone}", brand="TRUSTASIA")
    found = await download(owner, cert["id"], "APACHE")
    assert found["fileName"] == f"wildcard.{zone}-v1-apache.zip"
    response = await fetch(found["url"])
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        for info in archive.infolist():
            assert "/" not in info.filename and "\\" not in info.filename and ".." not in info.filename
            assert (info.external_attr >> 16) & 0o077 == 0  # unzipped, readable by its owner only


async def test_an_expired_url_answers_410(owner, services):
    cert, _ = await upload_cert(owner, f"www.{unique_zone()}")
    found = await download(owner, cert["id"], "PEM")
    moved = await services.database.db.downloads.update_many(
        {"certificateId": cert["id"]}, {"$set": {"expiresAt": datetime.now(UTC) - timedelta(seconds=1)}}
    )
    assert moved.modified_count == 1
    assert (await fetch(found["url"])).status_code == 410
    assert (await fetch(found["url"])).status_code == 410  # and again: expired stays expired


async def test_a_head_request_does_not_use_the_url_up(owner):
    cert, _ = await upload_cert(owner, f"www.{unique_zone()}")
    url = (await download(owner, cert["id"], "PEM"))["url"]
    async with httpx.AsyncClient(timeout=30) as client:
        assert (await client.head(url)).status_code == 405
        assert (await client.post(url)).status_code == 405
        assert (await client.get(url)).status_code == 200


async def test_the_sweep_drops_an_unused_grant_and_its_sealed_password_when_it_expires(owner, services):
    cert, _ = await upload_cert(owner, f"www.{unique_zone()}")
    url = (await download(owner, cert["id"], "IIS", keyPassword="to-be-purged"))["url"]
    grants = services.database.db.downloads
    stored = await grants.find_one({"certificateId": cert["id"]})
    assert stored["sealedPassword"] and b"to-be-purged" not in bytes(stored["sealedPassword"])
    await grants.update_one({"_id": stored["_id"]}, {"$set": {"expiresAt": datetime.now(UTC) - timedelta(seconds=1)}})
    assert await services.downloads.purge() >= 1
    assert await grants.find_one({"_id": stored["_id"]}) is None
    assert (await fetch(url)).status_code == 410  # expired, as the README says, not "no such URL"
    assert (await fetch(url)).status_code == 410


async def test_unknown_and_malformed_download_urls_are_not_found(api):
    for path in ("/downloads/dl1_" + "A" * 43, "/downloads/nothing", "/downloads/..%2F..%2Fetc%2Fpasswd",
                 "/downloads/dl1_%00", "/downloads/" + "x" * 5000):
        response = await fetch(api.url + path)
        assert response.status_code == 404, path


async def test_one_url_fetched_at_once_by_two_processes_is_delivered_once(owner, settings, database_uri, tmp_path):
    cert, _ = await upload_cert(owner, f"www.{unique_zone()}")
    second = ServeProcess(settings, database_uri, tmp_path)
    try:
        await second.wait_ready()
        for _ in range(3):
            url = (await download(owner, cert["id"], "NGINX"))["url"]
            path = url.split("/", 3)[3]
            targets = [url, f"{second.url}/{path}"] * 5
            async with httpx.AsyncClient(timeout=60) as client:
                statuses = sorted(r.status_code for r in await asyncio.gather(*(client.get(t) for t in targets)))
            assert statuses == [200] + [410] * 9
    finally:
        second.stop()


async def test_createdownload_counts_against_the_rate_limit():
    from graphql import parse

    from schema import build_schema
    from schema.cost import operation_cost

    document = parse('mutation { createDownload(input: {certificateId: "crt_1", format: PEM}) { download { url } } }')
    assert operation_cost(build_schema()._schema, document, None, {}).mutation_weight == 1
