"""The service master key and AES-GCM sealing of private keys at rest."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from adapters.private_files import private_dir
from domain.ports import KeySealer

MASTER_KEY_FILE = "master.key"
_VERSION = b"\x01"


def load_or_create_master_key(data_dir: Path, configured: str | None = None) -> bytes:
    """The 32-byte master key: from CERTS_MASTER_KEY (base64) when set, else from
    `<data_dir>/master.key`, created (mode 0600) on first start. Processes racing to
    create it agree: the file is created exclusively and the loser reads the winner's."""
    if configured:
        key = base64.b64decode(configured)
        if len(key) != 32:
            raise ValueError("CERTS_MASTER_KEY must be 32 bytes, base64-encoded")
        return key
    private_dir(data_dir)
    path = data_dir / MASTER_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            text = path.read_text().strip()
            if text:
                key = base64.b64decode(text)
                if len(key) == 32:
                    return key

            time.sleep(0.02)
        raise RuntimeError(f"{path} is not a valid master key")
    key = AESGCM.generate_key(bit_length=256)
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.b64encode(key).decode() + "\n")
    return key


def derive_key(master_key: bytes, purpose: str) -> bytes:
    """A separate key per purpose (sealing, token hashing), from the one master key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(master_key)


class AesGcmSealer(KeySealer):
    """Seals with AES-256-GCM; the context (the certificate's ID) is bound as associated
    data, so a sealed key copied onto another certificate does not open."""

    def __init__(self, master_key: bytes) -> None:
        self._aead = AESGCM(derive_key(master_key, "certreissue private-key sealing v1"))

    def seal(self, plaintext: bytes, *, context: str) -> bytes:
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, *, context: str) -> bytes:
        if sealed[:1] != _VERSION:
            raise ValueError("unknown sealed-key format")
        return self._aead.decrypt(sealed[1:13], sealed[13:], context.encode())
