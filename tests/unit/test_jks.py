"""The JKS writer (adapters.jks) and the TOMCAT zip that carries its store: read back by
Java's keytool (the real consumer), converted by keytool to PKCS#12 and opened by OpenSSL,
and, where keytool is missing, by a reader written here from the format's description."""

from __future__ import annotations

import hashlib
import io
import shutil
import struct
import subprocess
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from adapters.bundles import build_zip
from adapters.jks import java_utf, protect_key, write_jks
from domain.downloads import DownloadFormat
from tests import certs

needs_keytool = pytest.mark.skipif(shutil.which("keytool") is None, reason="Java's keytool is not installed")
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
CREATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def chain_of(issued: certs.Issued) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(issued.chain_pem.encode()) + [certs.root_ca().cert]


def keytool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["keytool", *args], capture_output=True, text=True, timeout=120)


def read_jks(data: bytes, password: str) -> tuple[str, datetime, bytes, list[bytes]]:
    """The one PrivateKeyEntry of a JKS, checked as JavaKeyStore.engineLoad and
    KeyProtector.recover check it: (alias, created, PKCS#8 key, certificates as DER)."""
    secret = password.encode("utf-16-be")
    body, digest = data[:-20], data[-20:]
    if hashlib.sha1(secret + b"Mighty Aphrodite" + body).digest() != digest:
        raise ValueError("the key store was tampered with, or the password is incorrect")
    magic, version, count = struct.unpack_from(">III", body, 0)
    assert (magic, version, count) == (0xFEEDFEED, 2, 1)
    offset = 12
    (tag,) = struct.unpack_from(">I", body, offset)
    assert tag == 1
    (length,) = struct.unpack_from(">H", body, offset + 4)
    alias = body[offset + 6:offset + 6 + length].decode()
    offset += 6 + length
    (millis,) = struct.unpack_from(">q", body, offset)
    (key_length,) = struct.unpack_from(">I", body, offset + 8)
    info = body[offset + 12:offset + 12 + key_length]
    offset += 12 + key_length
    # EncryptedPrivateKeyInfo: SEQUENCE { SEQUENCE { OID, NULL }, OCTET STRING }
    algorithm = bytes.fromhex("300e060a2b060104012a021101010500")  # 1.3.6.1.4.1.42.2.17.1.1, NULL
    assert algorithm in info
    protected = info[info.index(algorithm) + len(algorithm):]
    assert protected[0] == 0x04
    header = 2 + (protected[1] & 0x7F if protected[1] & 0x80 else 0)
    protected = protected[header:]
    salt, encrypted, check = protected[:20], protected[20:-20], protected[-20:]
    stream, block = b"", salt
    while len(stream) < len(encrypted):
        block = hashlib.sha1(secret + block).digest()
        stream += block
    plain = bytes(a ^ b for a, b in zip(encrypted, stream))
    if hashlib.sha1(secret + plain).digest() != check:
        raise ValueError("Cannot recover key")
    (chain_count,) = struct.unpack_from(">I", body, offset)
    offset += 4
    chain = []
    for _ in range(chain_count):
        (length,) = struct.unpack_from(">H", body, offset)
        assert body[offset + 2:offset + 2 + length] == b"X.509"
        offset += 2 + length
        (length,) = struct.unpack_from(">I", body, offset)
        chain.append(body[offset + 4:offset + 4 + length])
        offset += 4 + length
    assert offset == len(body)
    return alias, datetime.fromtimestamp(millis / 1000, UTC), plain, chain


def test_a_jks_holds_the_alias_the_key_and_the_chain_leaf_first_behind_its_password():
    issued = certs.issue("www.example.com")
    chain = chain_of(issued)
    store = write_jks("www.example.com", issued.key, chain, "changeit-2", CREATED)
    alias, created, pkcs8, ders = read_jks(store, "changeit-2")
    assert (alias, created) == ("www.example.com", CREATED)
    assert serialization.load_der_private_key(pkcs8, None).private_numbers() == issued.key.private_numbers()
    assert ders == [c.public_bytes(serialization.Encoding.DER) for c in chain]
    with pytest.raises(ValueError, match="password is incorrect"):
        read_jks(store, "changeit-3")


def test_the_key_protector_refuses_another_password_by_its_check():
    pkcs8 = certs.rsa_key().private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    info = protect_key(pkcs8, "right", salt=bytes(20))
    assert info == protect_key(pkcs8, "right", salt=bytes(20))  # the salt is the only randomness
    assert info != protect_key(pkcs8, "right")
    assert pkcs8 not in info  # XORed with the keystream, not stored as is
    # Known answer from the protector's definition: the first keystream block is
    # SHA-1(password as UTF-16BE || salt); the key's first 20 bytes are XORed with it.
    first = hashlib.sha1("right".encode("utf-16-be") + bytes(20)).digest()
    assert bytes(a ^ b for a, b in zip(pkcs8[:20], first)) in info


def test_java_utf_is_modified_utf8_with_a_two_byte_length():
    assert java_utf("X.509") == b"\x00\x05X.509"
    assert java_utf("\x00é") == b"\x00\x04\xc0\x80\xc3\xa9"
    assert java_utf("😀") == b"\x00\x06\xed\xa0\xbd\xed\xb8\x80"  # two surrogates of three bytes


def test_an_alias_keytool_could_not_find_is_refused():
    issued = certs.issue("www.example.com")
    with pytest.raises(ValueError, match="lower case"):
        write_jks("WWW.example.com", issued.key, chain_of(issued), "pw", CREATED)


def test_the_tomcat_zip_holds_a_jks_beside_the_pkcs12_with_the_same_alias_and_password():
    issued = certs.issue("www.example.com")
    content = build_zip(
        DownloadFormat.TOMCAT, certificate_pem=issued.leaf_pem, chain_pem=issued.chain_pem.replace(issued.leaf_pem, ""),
        private_key=issued.key, password="tomcat-Pw1", alias="www.example.com",
    )
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert sorted(archive.namelist()) == ["keystore.jks", "keystore.p12"]
        store = archive.read("keystore.jks")
        assert archive.getinfo("keystore.jks").external_attr >> 16 == 0o600
    alias, created, _, ders = read_jks(store, "tomcat-Pw1")
    assert alias == "www.example.com" and len(ders) == 2
    assert created == issued.cert.not_valid_before_utc  # the certificate's date, not the build's


@needs_keytool
@needs_openssl
@pytest.mark.parametrize("make_key", [certs.ec_key, certs.rsa_key], ids=["ecdsa-p256", "rsa-2048"])
def test_keytool_lists_the_jks_and_converts_it_to_pkcs12_with_the_same_certificate(make_key, tmp_path: Path):
    key = make_key()
    issued = certs.issue("www.example.com", key=key)
    jks, p12 = tmp_path / "keystore.jks", tmp_path / "converted.p12"
    jks.write_bytes(write_jks("www.example.com", key, chain_of(issued), "s3cret-Pw", CREATED))
    listed = keytool("-list", "-v", "-keystore", str(jks), "-storepass", "s3cret-Pw", "-storetype", "JKS")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "Alias name: www.example.com" in listed.stdout and "Entry type: PrivateKeyEntry" in listed.stdout
    assert "Certificate chain length: 3" in listed.stdout
    assert format(issued.cert.serial_number, "x") in listed.stdout.lower()
    refused = keytool("-list", "-keystore", str(jks), "-storepass", "s3cret-Px", "-storetype", "JKS")
    assert refused.returncode != 0 and "password was incorrect" in refused.stdout + refused.stderr
    # Converting recovers the key through the JKS key protector (the key password is the store's).
    converted = keytool(
        "-importkeystore", "-noprompt", "-srckeystore", str(jks), "-srcstoretype", "JKS",
        "-srcstorepass", "s3cret-Pw", "-destkeystore", str(p12), "-deststoretype", "PKCS12",
        "-deststorepass", "s3cret-Pw",
    )
    assert converted.returncode == 0, converted.stdout + converted.stderr
    opened = subprocess.run(
        ["openssl", "pkcs12", "-in", str(p12), "-passin", "pass:s3cret-Pw", "-nodes"],
        capture_output=True, text=True, timeout=60,
    )
    assert opened.returncode == 0, opened.stderr
    leaf = x509.load_pem_x509_certificates(opened.stdout.encode())
    assert issued.cert.fingerprint(hashes.SHA256()) in [c.fingerprint(hashes.SHA256()) for c in leaf]
    key_out = serialization.load_pem_private_key(
        opened.stdout[opened.stdout.index("-----BEGIN PRIVATE KEY-----"):].encode(), None
    )
    assert key_out.private_numbers() == key.private_numbers()
