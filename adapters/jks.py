"""JKS key stores (Sun's `JavaKeyStore`, version 2), written with cryptography's hashes.

Why a writer of our own: the one Python JKS library, pyjks 20.0.0 (2020), declares
`twofish` as a dependency (used only to read BouncyCastle UBER stores), and twofish is
published only as C source, so pyjks does not install without a compiler (the
Dockerfile's python:3.11-slim has none). Installing it with `--no-deps` would leave a
broken requirement behind `pip check` and every `pip install .`, and its wheel also
installs a top-level `tests` package. Writing one PrivateKeyEntry takes the few lines below.

The format, as `sun.security.provider.JavaKeyStore` reads it (all integers big-endian):

    0xFEEDFEED, version 2, number of entries            (three 4-byte integers)
    per PrivateKeyEntry:
        tag 1 (4 bytes), alias (Java modified UTF-8, 2-byte length),
        creation time (8 bytes, ms since 1970),
        the protected key (4-byte length, then an EncryptedPrivateKeyInfo, DER),
        the chain: count (4 bytes), then per certificate "X.509" (as the alias),
        its DER (4-byte length, then the bytes), leaf first
    SHA-1(password as UTF-16BE || "Mighty Aphrodite" || everything above)

The key is protected by Sun's JKS key protector (`sun.security.provider.KeyProtector`,
OID 1.3.6.1.4.1.42.2.17.1.1): a random 20-byte salt; a keystream of SHA-1 blocks, the
first SHA-1(password || salt), each next SHA-1(password || previous block); the PKCS#8
key XORed with it; then SHA-1(password || PKCS#8 key) as the check a reader compares. The
password is UTF-16BE, as Java's `char[]` is. This is JKS's own (weak, SHA-1) protection,
which is why PKCS#12 is the store Tomcat is pointed at first (README); the JKS is for
setups that still ask for one.
"""

from __future__ import annotations

import os
import struct
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

MAGIC = 0xFEEDFEED
VERSION = 2
PRIVATE_KEY_ENTRY = 1
KEY_PROTECTOR_OID = "1.3.6.1.4.1.42.2.17.1.1"
DIGEST_WHITENER = b"Mighty Aphrodite"
SALT_LENGTH = 20


def _sha1(*parts: bytes) -> bytes:
    digest = hashes.Hash(hashes.SHA1())
    for part in parts:
        digest.update(part)
    return digest.finalize()


def _password_bytes(password: str) -> bytes:
    return password.encode("utf-16-be")  # Java's char[], two bytes a char, high byte first


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def _der(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


def _der_oid(dotted: str) -> bytes:
    arcs = [int(arc) for arc in dotted.split(".")]
    body = bytearray([arcs[0] * 40 + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return _der(0x06, bytes(body))


def protect_key(pkcs8: bytes, password: str, salt: bytes | None = None) -> bytes:
    """The EncryptedPrivateKeyInfo (DER) JKS stores for `pkcs8` under `password`."""
    salt = os.urandom(SALT_LENGTH) if salt is None else salt
    if len(salt) != SALT_LENGTH:
        raise ValueError("the JKS key protector's salt is 20 bytes")
    secret = _password_bytes(password)
    stream = bytearray()
    block = salt
    while len(stream) < len(pkcs8):
        block = _sha1(secret, block)
        stream.extend(block)
    encrypted = bytes(a ^ b for a, b in zip(pkcs8, stream))
    protected = salt + encrypted + _sha1(secret, pkcs8)
    algorithm = _der(0x30, _der_oid(KEY_PROTECTOR_OID) + b"\x05\x00")
    return _der(0x30, algorithm + _der(0x04, protected))


def java_utf(text: str) -> bytes:
    """`DataOutputStream.writeUTF`: a 2-byte length, then modified UTF-8 (NUL as two bytes,
    characters beyond the BMP as their two UTF-16 surrogates of three bytes each)."""
    out = bytearray()
    units = text.encode("utf-16-be")
    for index in range(0, len(units), 2):
        unit = int.from_bytes(units[index:index + 2], "big")
        if 0 < unit < 0x80:
            out.append(unit)
        elif unit < 0x800:
            out.extend((0xC0 | unit >> 6, 0x80 | unit & 0x3F))
        else:
            out.extend((0xE0 | unit >> 12, 0x80 | unit >> 6 & 0x3F, 0x80 | unit & 0x3F))
    if len(out) > 0xFFFF:
        raise ValueError("a JKS alias is at most 65535 bytes of modified UTF-8")
    return struct.pack(">H", len(out)) + bytes(out)


def write_jks(
    alias: str, private_key, chain: list[x509.Certificate], password: str, created: datetime,
    *, salt: bytes | None = None,
) -> bytes:
    """A JKS holding one PrivateKeyEntry: `alias` (JKS aliases are lower case: keytool finds
    an entry by its alias lowered), `private_key` protected with `password`, the store's
    integrity digest under the same password, `chain` leaf first."""
    if alias != alias.lower():
        raise ValueError("a JKS alias is lower case")
    if not password:
        raise ValueError("a JKS needs a password")
    if not chain:
        raise ValueError("a JKS private key entry needs its certificate")
    pkcs8 = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    protected = protect_key(pkcs8, password, salt)
    body = bytearray(struct.pack(">III", MAGIC, VERSION, 1))
    body += struct.pack(">I", PRIVATE_KEY_ENTRY) + java_utf(alias)
    body += struct.pack(">q", int(created.timestamp() * 1000))
    body += struct.pack(">I", len(protected)) + protected
    body += struct.pack(">I", len(chain))
    for certificate in chain:
        der = certificate.public_bytes(serialization.Encoding.DER)
        body += java_utf("X.509") + struct.pack(">I", len(der)) + der
    return bytes(body) + _sha1(_password_bytes(password), DIGEST_WHITENER, bytes(body))
