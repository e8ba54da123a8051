"""An encrypted key's key derivation is checked before it runs: the uploader chooses its
work, and 60 million PBKDF2 iterations once held the service for 20 seconds."""

from __future__ import annotations

import subprocess

import pytest

from domain.errors import InvalidInput
from domain.x509 import check_key_derivation_cost, load_private_key
from tests import certs

FIELD = ["input", "privateKeyPem"]


@pytest.fixture(scope="module")
def plain_key_pem(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("keys") / "key.pem"
    path.write_text(certs.key_pem(certs.ec_key()))
    return str(path)


def openssl_encrypted(path: str, *args: str) -> str:
    return subprocess.run(
        ["openssl", "pkcs8", "-topk8", "-in", path, "-passout", "pass:pw", *args],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout


@pytest.mark.parametrize(
    "args",
    [["-v2", "aes-256-cbc", "-iter", "600000"], ["-v2", "aes-256-cbc"], ["-scrypt"], ["-v1", "PBE-SHA1-3DES"]],
    ids=["pbkdf2-600k", "pbkdf2-default", "scrypt-default", "pkcs12-kdf"],
)
def test_ordinary_encrypted_keys_are_read(plain_key_pem, args):
    text = openssl_encrypted(plain_key_pem, *args)
    check_key_derivation_cost(text, field=FIELD)
    key, encrypted = load_private_key(text, "pw", field=FIELD, password_field=["input", "privateKeyPassword"])
    assert encrypted is True and key is not None


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["-v2", "aes-256-cbc", "-iter", "3000000"], "3,000,000 key-derivation iterations"),
        (["-v1", "PBE-SHA1-3DES", "-iter", "2000000"], "2,000,000 key-derivation iterations"),
        (["-scrypt", "-scrypt_N", "16384", "-scrypt_r", "8", "-scrypt_p", "16"], "scrypt with N=16384, r=8, p=16"),
    ],
    ids=["pbkdf2-3m", "pkcs12-2m", "scrypt-p16"],
)
def test_a_key_derivation_too_costly_to_run_is_refused_before_it_runs(plain_key_pem, args, says):
    text = openssl_encrypted(plain_key_pem, *args)
    with pytest.raises(InvalidInput) as info:
        load_private_key(text, "pw", field=FIELD, password_field=["input", "privateKeyPassword"])
    assert says in info.value.message and info.value.field == FIELD


def test_a_traditional_openssl_encrypted_key_is_read():
    text = certs.key_pem(certs.ec_key(), "pw", traditional=True)
    key, encrypted = load_private_key(text, "pw", field=FIELD, password_field=["input", "privateKeyPassword"])
    assert encrypted is True and key is not None


def test_scrypt_asking_for_a_gigabyte_is_refused_before_it_runs(plain_key_pem):
    # OpenSSL will not even make such a key; an attacker writes the DER by hand.
    import base64

    from asn1crypto import keys

    from domain.x509 import _ScryptParams

    text = openssl_encrypted(plain_key_pem, "-scrypt")
    info = keys.EncryptedPrivateKeyInfo.load(base64.b64decode("".join(text.splitlines()[1:-1])))
    kdf = info["encryption_algorithm"]["parameters"]["key_derivation_func"]
    params = _ScryptParams.load(kdf["parameters"].dump())
    kdf["parameters"] = _ScryptParams({"salt": params["salt"].native, "cost": 1 << 20, "block_size": 8,
                                       "parallelization": 1})
    body = base64.encodebytes(info.dump()).decode()
    forged = f"-----BEGIN ENCRYPTED PRIVATE KEY-----\n{body}-----END ENCRYPTED PRIVATE KEY-----\n"
    with pytest.raises(InvalidInput) as info_:
        check_key_derivation_cost(forged, field=FIELD)
    assert "scrypt with N=1048576, r=8, p=1" in info_.value.message
