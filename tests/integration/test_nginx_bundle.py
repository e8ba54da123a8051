"""The NGINX download works in Debian's nginx: started on a free loopback port with a
prefix and configuration of its own in a temporary directory (no root paths), it serves
the bundle, and a TLS client whose only trust anchor is the built-in CA's root verifies
the chain for the certificate's name (SNI).

`make install` installs nginx (scripts/install-nginx.sh, when run as root). Without it
this test is skipped on a developer's machine and fails in CI (CI set to anything but
empty, 0 or false), as the browser tests do."""

from __future__ import annotations

import io
import shutil
import socket
import ssl
import subprocess
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from tests import certs
from tests.conftest import free_port
from tests.integration.reissue_api import request, unique_zone, upload_cert
from tests.integration.test_downloads import download
from tests.support.nginx import PREAMBLE, require_nginx

@pytest.fixture
def nginx() -> Path:
    return require_nginx()


CONFIG = PREAMBLE + """    server {{
        listen 127.0.0.1:{port} ssl;
        server_name {name};
        ssl_certificate {dir}/fullchain.pem;
        ssl_certificate_key {dir}/privkey.pem;
        location / {{ return 200 "served by nginx\\n"; }}
    }}
}}
"""


def get_over_tls(port: int, name: str, trust_pem: str) -> tuple[str, dict]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the name
    context.load_verify_locations(cadata=trust_pem)  # the only trust anchor
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            tls.sendall(f"GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := tls.recv(4096):
                data += chunk
            return data.decode(), tls.getpeercert()


async def test_nginx_serves_the_nginx_bundle_and_the_chain_verifies_to_the_built_in_root(
    owner, services, nginx, tmp_path
):
    name = f"www.{unique_zone()}"
    cert, _ = await upload_cert(owner, name, issued_days_ago=1)
    issued = await request(owner, certificateId=cert["id"], csrSource="ONLINE", keyAlgorithm="ECC", reason="re-key")
    assert issued["reissue"]["status"] == "ISSUED", issued  # signed by the built-in CA, key held sealed
    found = await download(owner, cert["id"], "NGINX")
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(found["url"])
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        archive.extractall(tmp_path)  # names checked by test_downloads: fullchain.pem, privkey.pem
    (tmp_path / "tmp").mkdir()
    port = free_port()
    (tmp_path / "nginx.conf").write_text(CONFIG.format(dir=tmp_path, port=port, name=name))
    process = subprocess.Popen(
        [str(nginx), "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "error.log")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, f"nginx exited {process.returncode}: {process.stdout.read().decode()}" \
                f"{(tmp_path / 'error.log').read_text(errors='replace')[-2000:]}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "error.log").read_text(errors="replace")[-2000:]
                time.sleep(0.1)

        root_pem = services.authority.root.public_bytes(serialization.Encoding.PEM).decode()
        answer, peer = get_over_tls(port, name, root_pem)
        assert answer.startswith("HTTP/1.1 200") and "served by nginx" in answer
        assert ("DNS", name) in peer["subjectAltName"]
        assert int(peer["serialNumber"], 16) == int(issued["reissue"]["certificate"]["serialNumber"], 16)

        # Controls: another trust anchor, or another name, is refused.
        with pytest.raises(ssl.SSLCertVerificationError):
            get_over_tls(port, name, certs.pem(certs.root_ca().cert))
        with pytest.raises(ssl.SSLCertVerificationError):
            get_over_tls(port, f"other.{unique_zone()}", root_pem)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        shutil.rmtree(tmp_path / "tmp", ignore_errors=True)
