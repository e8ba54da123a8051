"""FILE_AUTO (R20) through webroots served by Debian's nginx on loopback
(tests/support/nginx.py): an API process with CERTS_WEBROOTS_DIR writes the challenge file
in `<base>/<account>/<directory>`, checks it over HTTP through the existing file check (the
test DNS server points each domain at 127.0.0.1), and removes it. An account never reaches
outside its own area: no `..`, no absolute path, no symbolic link.

Without nginx these tests are skipped here and fail in CI."""

from __future__ import annotations

import os
import stat
from datetime import timedelta

import pytest

from tests.conftest import GraphQLClient, new_token
from tests.integration.reissue_api import CANCEL, GET, PREVIEW, act, request, unique_zone, upload_cert

CONFIGURE = """
mutation($input: ConfigureWebrootInput!) {
  configureWebroot(input: $input) {
    webroot { id domain directory lastCheckSucceeded lastCheckError }
    userErrors { code message field }
  }
}
"""
REMOVE = "mutation($id: ID!) { removeWebroot(id: $id) { removedId userErrors { code message field } } }"
WEBROOTS = "{ webroots { id domain directory lastCheckSucceeded } }"
CHALLENGE = ".well-known/pki-validation/fileauth.txt"


@pytest.fixture
async def site_owner(file_http, file_services, file_staff_tokens, new_account):
    account = new_account("fileauto")
    return GraphQLClient(file_http, await new_token(file_services, account, "owner"), account, file_staff_tokens)


@pytest.fixture
def served(webroot_site, dns_server):
    """served(account) -> a new domain, pointed at 127.0.0.1 and served by nginx from the
    account's webroot for it."""
    def make(account: str, directory: str | None = None) -> str:
        domain = f"www.{unique_zone()}"
        dns_server.resolver.set(domain, "A", ["127.0.0.1"])
        webroot_site.serve(account, domain, directory)
        return domain

    return make


async def configure(client, domain: str, directory: str | None = None) -> dict:
    input = {"domain": domain} if directory is None else {"domain": domain, "directory": directory}
    return (await client(CONFIGURE, {"input": input}))["configureWebroot"]


async def file_auto(client, certificate_id: str) -> dict:
    result = await request(client, certificateId=certificate_id, csrSource="ONLINE", validationMethod="FILE_AUTO",
                           reason="rotate the key")
    assert result["userErrors"] == [], result["userErrors"]
    return result["reissue"]


async def test_a_webroot_is_saved_after_its_probe_is_served_over_http(site_owner, served, webroot_site):
    domain = served(site_owner.account)
    result = await configure(site_owner, domain)
    assert result["userErrors"] == [], result["userErrors"]
    assert (result["webroot"]["directory"], result["webroot"]["lastCheckSucceeded"]) == (domain, True)
    area = webroot_site.base / site_owner.account / domain
    assert not (area / CHALLENGE).exists()  # the probe is gone
    assert stat.S_IMODE(os.stat(area / ".well-known" / "pki-validation").st_mode) == 0o755
    assert [w["domain"] for w in (await site_owner(WEBROOTS))["webroots"]] == [domain]


async def test_file_auto_reissue_is_issued_with_no_manual_step(site_owner, served, webroot_site, file_services):
    # R20: written, fetched over HTTP (R21), issued, removed
    domain = served(site_owner.account)
    certificate, _ = await upload_cert(site_owner, domain)
    assert (await configure(site_owner, domain))["userErrors"] == []
    reissue = await file_auto(site_owner, certificate["id"])
    assert reissue["status"] == "ISSUED", reissue["domainValidation"]
    assert any(e["note"] == "domain validated by FILE_AUTO" and e["actor"] == "system" for e in reissue["events"])
    assert not (webroot_site.base / site_owner.account / domain / CHALLENGE).exists()
    assert await file_services.database.db.auto_validation_files.count_documents({"reissueId": reissue["id"]}) == 0


@pytest.mark.parametrize(("directory", "words"), [
    ("../other-account/www.example.com", "'..'"),
    ("a/../../escape", "'..'"),
    ("/etc", "absolute"),
    ("C:/Windows", "absolute"),
    ("..", "'..'"),
    (".hidden", "components of letters"),
    ("a\\b", "backslashes"),
])
async def test_a_directory_outside_the_accounts_area_is_refused(site_owner, directory, words, webroot_site):
    result = await configure(site_owner, f"www.{unique_zone()}", directory)
    assert result["webroot"] is None
    [error] = result["userErrors"]
    assert error["field"] == ["input", "directory"] and words in error["message"]
    assert not (webroot_site.base / "other-account").exists()


async def test_a_symbolic_link_out_of_the_accounts_area_is_not_followed(site_owner, served, webroot_site, tmp_path):
    """The attack: a link in the account's area to another account's webroot (or anywhere)."""
    victim = tmp_path / "victim-webroot"
    victim.mkdir()
    area = webroot_site.base / site_owner.account
    area.mkdir(parents=True, exist_ok=True)
    (area / "linked").symlink_to(victim, target_is_directory=True)
    domain = served(site_owner.account, "linked")
    result = await configure(site_owner, domain, "linked")
    assert result["webroot"] is None
    assert "symbolic link" in result["userErrors"][0]["message"]
    assert list(victim.iterdir()) == []  # nothing was written there


async def test_a_webroot_the_domain_does_not_serve_is_refused(site_owner, served):
    domain = served(site_owner.account)  # nginx serves <area>/<domain>, not <area>/elsewhere
    result = await configure(site_owner, domain, "elsewhere")
    assert result["webroot"] is None
    [error] = result["userErrors"]
    assert error["field"] == ["input", "directory"] and "HTTP status 404" in error["message"]
    assert (await site_owner(WEBROOTS))["webroots"] == []


async def test_a_refused_webroot_leaves_no_directory_it_created_and_keeps_those_that_were_there(
        site_owner, served, webroot_site):
    area = webroot_site.base / site_owner.account
    domain = served(site_owner.account)  # nginx serves <area>/<domain>: a probe elsewhere is a 404
    result = await configure(site_owner, domain, "con/sub")
    assert result["webroot"] is None and "HTTP status 404" in result["userErrors"][0]["message"]
    assert not (area / "con").exists()
    assert not area.exists()  # the account's area too was made by the probe, and is empty again
    # What was there before stays, with what is in it; only what the probe made goes.
    (area / "kept" / ".well-known").mkdir(parents=True)
    (area / "kept" / "index.html").write_text("mine")
    result = await configure(site_owner, domain, "kept")
    assert result["webroot"] is None and "HTTP status 404" in result["userErrors"][0]["message"]
    assert sorted(p.name for p in (area / "kept").iterdir()) == [".well-known", "index.html"]
    assert list((area / "kept" / ".well-known").iterdir()) == []


async def test_a_refused_webroot_removes_nothing_behind_a_symbolic_link(site_owner, served, webroot_site, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "empty").mkdir(parents=True)
    area = webroot_site.base / site_owner.account
    area.mkdir(parents=True, exist_ok=True)
    (area / "linked").symlink_to(elsewhere, target_is_directory=True)
    domain = served(site_owner.account)
    result = await configure(site_owner, domain, "linked/empty")
    assert result["webroot"] is None and "symbolic link" in result["userErrors"][0]["message"]
    assert (area / "linked").is_symlink() and (elsewhere / "empty").is_dir()


async def test_file_auto_without_a_webroot_of_this_account_is_refused_at_preview_and_submit(site_owner, served):
    domain = served("someone-else")
    certificate, _ = await upload_cert(site_owner, domain)
    input = {"certificateId": certificate["id"], "csrSource": "ONLINE", "validationMethod": "FILE_AUTO",
             "reason": "rotate the key"}
    [error] = (await site_owner(PREVIEW, {"input": input}))["previewReissue"]["userErrors"]
    assert (error["code"], error["field"]) == ("OPTION_NOT_ALLOWED", ["input", "validationMethod"])
    assert "configureWebroot" in error["message"]
    result = await request(site_owner, **input)
    assert result["reissue"] is None and result["userErrors"][0]["code"] == "OPTION_NOT_ALLOWED"


async def test_without_a_webroot_base_file_auto_says_it_is_not_configured_here(owner):
    # The session's API has no CERTS_WEBROOTS_DIR
    result = await configure(owner, f"www.{unique_zone()}")
    assert result["userErrors"][0]["code"] == "OPTION_NOT_ALLOWED"
    assert "not configured on this service" in result["userErrors"][0]["message"]
    certificate, _ = await upload_cert(owner, f"www.{unique_zone()}")
    refused = await request(owner, certificateId=certificate["id"], csrSource="ONLINE",
                            validationMethod="FILE_AUTO", reason="rotate")
    assert "not configured on this service" in refused["userErrors"][0]["message"]


async def test_a_domain_that_does_not_resolve_leaves_the_reissue_pending_and_the_sweep_finishes_it(
    site_owner, served, webroot_site, file_services, dns_server
):
    domain = served(site_owner.account)
    certificate, _ = await upload_cert(site_owner, domain)
    assert (await configure(site_owner, domain))["userErrors"] == []
    dns_server.resolver.set(domain, "A", [])
    try:
        reissue = await file_auto(site_owner, certificate["id"])
    finally:
        dns_server.resolver.set(domain, "A", ["127.0.0.1"])
    assert reissue["status"] == "PENDING_DOMAIN_VALIDATION" and reissue["domainValidation"]["lastError"]
    challenge = webroot_site.base / site_owner.account / domain / CHALLENGE
    assert challenge.read_text() == reissue["domainValidation"]["file"]["content"]  # written, waiting
    assert stat.S_IMODE(os.stat(challenge).st_mode) == 0o644
    await file_services.reissues.sweep()
    after = (await site_owner(GET, {"id": reissue["id"]}))["reissue"]
    assert after["status"] == "ISSUED", after["domainValidation"]
    assert not challenge.exists()


async def test_a_cancelled_reissue_takes_its_file_away(site_owner, served, webroot_site, dns_server):
    domain = served(site_owner.account)
    certificate, _ = await upload_cert(site_owner, domain)
    assert (await configure(site_owner, domain))["userErrors"] == []
    dns_server.resolver.set(domain, "A", [])
    try:
        reissue = await file_auto(site_owner, certificate["id"])
        challenge = webroot_site.base / site_owner.account / domain / CHALLENGE
        assert challenge.exists()
        assert (await act(site_owner, CANCEL, reissue["id"]))["reissue"]["status"] == "CANCELLED"
        assert not challenge.exists()
    finally:
        dns_server.resolver.set(domain, "A", ["127.0.0.1"])


async def test_a_probe_left_by_a_dead_process_is_removed_by_the_sweep(site_owner, served, webroot_site, file_services):
    from domain.auto_validation import PROBE_GRACE
    from domain.webroots import PlacedFile

    domain = served(site_owner.account)
    webroots = file_services.webroots
    old = file_services.clock.now() - PROBE_GRACE - timedelta(seconds=1)
    placed = PlacedFile("probe_dead", site_owner.account, domain, "probe-dead-value", old)
    await webroots._placed.save(placed)  # written down, then written, then the process died
    await webroots._files.write(site_owner.account, domain, "/" + CHALLENGE, "probe-dead-value")
    challenge = webroot_site.base / site_owner.account / domain / CHALLENGE
    assert challenge.read_text() == "probe-dead-value"
    await file_services.reissues.sweep()
    assert not challenge.exists()
    assert await webroots._placed.get("probe_dead") is None


async def test_removing_a_webroot_and_another_accounts_id_is_not_found(site_owner, served, owner):
    domain = served(site_owner.account)
    webroot = (await configure(site_owner, domain))["webroot"]
    other = (await owner(REMOVE, {"id": webroot["id"]}))["removeWebroot"]
    assert [e["code"] for e in other["userErrors"]] == ["NOT_FOUND"]
    assert (await site_owner(REMOVE, {"id": webroot["id"]}))["removeWebroot"] == {
        "removedId": webroot["id"], "userErrors": []}
    assert (await site_owner(WEBROOTS))["webroots"] == []



