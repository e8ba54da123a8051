"""The web console's build (console/dist, made by `make install`) and how the service
serves it: the JavaScript within its budget of 250 kB gzipped (a size, not a time: the
figures of `python -m bench --only console` are measured, not asserted), a page with no
inline script or style, every file it names served from this origin with a year of
caching."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from tests.browser.conftest import CONSOLE, in_ci

DIST = CONSOLE / "dist"
BUDGET_GZIP_BYTES = 250_000


@pytest.fixture(scope="module")
def build() -> dict:
    path = DIST / "console-build.json"
    if not path.is_file():
        message = "console/dist is not built (make install builds it)"
        if in_ci():
            pytest.fail(f"the console build is missing in CI: {message}", pytrace=False)
        pytest.skip(message)
    return json.loads(path.read_text())


def test_the_console_javascript_is_under_its_budget_gzipped(build):
    scripts = sorted(p for p in (DIST / "assets").glob("*.js"))
    assert scripts, "no JavaScript in console/dist/assets"
    gzipped = sum(len(gzip.compress(p.read_bytes(), compresslevel=9)) for p in scripts)
    print(f"console JavaScript: {sum(p.stat().st_size for p in scripts)} bytes, {gzipped} gzipped")
    assert gzipped < BUDGET_GZIP_BYTES
    assert abs(build["js"]["gzip"] - gzipped) < 1000  # the build's own figure agrees


def test_the_page_has_no_inline_script_or_style_and_loads_only_its_own_files(build):
    page = (DIST / "index.html").read_text()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, re.S)
    assert scripts and all('src="/console/assets/' in attrs and not body.strip() for attrs, body in scripts)
    assert "<style" not in page and "style=" not in page
    assert "http://" not in page and "https://" not in page and "data:" not in page
    named = re.findall(r'(?:src|href)="/console/assets/([^"]+)"', page)
    assert named and set(named) <= set(build["assets"])


async def test_the_service_serves_the_built_console_and_its_files(build, http):
    page = await http.get("/console/certificates/some-id", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.text == (DIST / "index.html").read_text()
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    for name in build["scripts"] + build["styles"]:
        asset = await http.get(f"/console/assets/{name}", headers={"Accept-Encoding": "gzip"})
        assert asset.status_code == 200 and asset.headers["content-encoding"] == "gzip"
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.content == (DIST / "assets" / name).read_bytes()
