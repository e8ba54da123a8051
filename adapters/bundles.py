"""The zips of domain.downloads, built in memory: PEM files, PKCS#12 and JKS, all with
cryptography.

Every file name inside is fixed here; nothing from the certificate names a file, so an
entry can never hold a path. PKCS#12 is encrypted with AES-256-CBC, PBKDF2 and an
HMAC-SHA256 MAC (OpenSSL 1.1.1+, Java 8u301+ and Windows Server 2019 and later read it).

Tomcat gets both stores, the same key and chain under the same alias and password:
`keystore.p12`, the one to point Tomcat 8.5+ at (`certificateKeystoreType="PKCS12"`, Java's
default key store type since Java 9, JEP 229), and `keystore.jks` for a setup that still
asks for JKS (keytool calls JKS proprietary and advises PKCS#12). The JKS is written by
adapters.jks (why not pyjks: there).
"""

from __future__ import annotations

import asyncio
import io
import zipfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from adapters.jks import write_jks
from domain.downloads import DownloadFormat
from domain.ports import BundleWriter

# A fixed time for every entry: the zip says nothing about when it was built.
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)


def _key_pem(key, password: str | None) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def _p12(key, leaf: x509.Certificate, chain: list[x509.Certificate], password: str, alias: str) -> bytes:
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(50_000)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(password.encode())
    )
    return pkcs12.serialize_key_and_certificates(alias.encode(), key, leaf, chain or None, encryption)


def build_zip(
    format: DownloadFormat, *, certificate_pem: str, chain_pem: str, private_key, password: str | None, alias: str
) -> bytes:
    leaf_pem = certificate_pem.strip() + "\n"
    chain_text = chain_pem.strip() + "\n" if chain_pem.strip() else ""
    files: dict[str, bytes] = {}
    if format == DownloadFormat.PEM:
        files = {"certificate.pem": leaf_pem.encode(), "chain.pem": chain_text.encode(),
                 "fullchain.pem": (leaf_pem + chain_text).encode()}
    elif format == DownloadFormat.NGINX:
        files = {"fullchain.pem": (leaf_pem + chain_text).encode()}
        if private_key is not None:
            files["privkey.pem"] = _key_pem(private_key, password)
    elif format == DownloadFormat.APACHE:
        files = {"certificate.pem": leaf_pem.encode(), "chain.pem": chain_text.encode()}
        if private_key is not None:
            files["privkey.pem"] = _key_pem(private_key, password)
    else:
        if private_key is None or not password:
            raise ValueError(f"a {format.value} key store needs the key and a password")
        leaf = x509.load_pem_x509_certificate(leaf_pem.encode())
        chain = x509.load_pem_x509_certificates(chain_text.encode()) if chain_text else []
        if format == DownloadFormat.TOMCAT:
            files = {
                "keystore.p12": _p12(private_key, leaf, chain, password, alias),
                # Dated by the certificate, not the build: the zip tells nothing of when it was made.
                "keystore.jks": write_jks(alias, private_key, [leaf, *chain], password, leaf.not_valid_before_utc),
            }
        else:
            files = {"certificate.pfx": _p12(private_key, leaf, chain, password, alias)}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16  # unzipped, the key is readable by its owner only
            archive.writestr(info, data)
    return out.getvalue()


class ZipBundleWriter(BundleWriter):
    async def build(
        self, format: str, *, certificate_pem: str, chain_pem: str, private_key, password: str | None, alias: str
    ) -> bytes:
        # PKCS#12's key derivation and JKS's hashing take CPU: off the event loop.
        return await asyncio.to_thread(
            build_zip, DownloadFormat(format), certificate_pem=certificate_pem, chain_pem=chain_pem,
            private_key=private_key, password=password, alias=alias,
        )
