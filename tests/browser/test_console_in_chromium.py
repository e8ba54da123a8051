"""The web console in a real browser (console/e2e/*.mjs), against a real `certreissue
serve` whose DNS validation asks the tests' DNS server. The fixtures upload certificates
through the API; everything from the wizard on is done through the console's pages, as
its users would: a paid DV reissue validated by DNS until it is issued; a reissue that
needs a manual review, approved by a reviewer in a second browser context while the
owner's page follows by itself; a userError shown at its field; signing out. Every screen
is checked by axe-core; every page runs under the console's CSP without a violation."""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from certreissue.bootstrap import build_services
from tests.browser.conftest import CONSOLE, drive, origin_of
from tests.conftest import GraphQLClient, free_port, new_token
from tests.integration.reissue_api import GET, request, unique_zone, upload_cert
from tests.support.dnsserver import ChallengeDNS
from tests.support.serve import ServeProcess

PAGE_SIZE = 10  # console/src/screens/CertificateList.tsx
CERTIFICATES = 13  # uploaded by the fixture: two pages of the list
SERIOUS = ("serious", "critical")
BAD_TOKEN = "crt1_not-a-token-of-this-service"  # pasted once at sign-in: the API answers 401


@dataclass
class Site:
    url: str
    dns_records: Path
    owner: str
    reviewer: str
    operator: str
    api: GraphQLClient
    target: dict  # PAID_DV, DNS validation
    invalid: dict  # PAID_DV, for the userError
    organization: dict  # WoTrus OV: manual review under a new organization name
    ca_verification: dict  # the reissue of a DigiCert OV, waiting for the CA's verification
    shots: Path


@pytest.fixture(scope="module")
async def site(console_browser, settings, database_uri, tmp_path_factory):
    """`certreissue serve` on a database of its own (so the review queue holds only this
    module's reissues), asking a DNS server whose records file the browser driver writes."""
    work = tmp_path_factory.mktemp("console-browser")
    records = work / "dns-records.txt"
    records.write_text("")
    dns = ChallengeDNS(free_port(), records_file=str(records)).start()
    db_name = f"console_{uuid.uuid4().hex[:8]}"
    serve = ServeProcess(
        settings, database_uri, work, {"CERTS_DB_NAME": db_name, "CERTS_DNS_NAMESERVERS": f"127.0.0.1:{dns.port}"}
    )
    services = build_services(dataclasses.replace(settings, db_name=db_name), database_uri)
    try:
        await serve.wait_ready()
        account = f"console-{uuid.uuid4().hex[:8]}"
        owner = await new_token(services, account, "owner")
        staff = {role: await new_token(services, None, role) for role in ("reviewer", "operator")}
        async with httpx.AsyncClient(base_url=serve.url, timeout=30) as http:
            api = GraphQLClient(http, owner, account, staff)
            target, _ = await upload_cert(api, f"shop.{unique_zone()}", brand="SECTIGO")
            invalid, _ = await upload_cert(api, f"api.{unique_zone()}", brand="GEOTRUST")
            organization, _ = await upload_cert(api, f"corp.{unique_zone()}", brand="WOTRUS", level="OV", org="Example Corp")
            other_brand, _ = await upload_cert(api, f"pay.{unique_zone()}", brand="DIGICERT", level="OV", org="Example Pay")
            requested = await request(api, certificateId=other_brand["id"], reason="re-key")
            assert requested["userErrors"] == [] and requested["reissue"]["status"] == "PENDING_CA_VERIFICATION"
            fillers = unique_zone()
            for i in range(CERTIFICATES - 4):  # the four above, then fillers
                await upload_cert(api, f"site{i}.{fillers}", brand="DIGICERT")
            shots = work / "screenshots"
            shots.mkdir()
            print(f"console screenshots in {shots}")
            yield Site(
                serve.url, records, owner, staff["reviewer"], staff["operator"], api,
                target, invalid, organization, requested["reissue"], shots,
            )
    finally:
        serve.stop()
        dns.stop()
        await services.close()


def run(site: Site, script: str, task: dict) -> dict:
    """Drives console/e2e/<script>; its report is kept beside the screenshots."""
    report = drive(script, {**task, "url": site.url, "failureScreenshot": str(site.shots / f"{script}-failure.png")}, CONSOLE)
    (site.shots / f"{script}.json").write_text(json.dumps(report, indent=1))
    return report


@pytest.fixture(scope="module")
def paid_dv(site) -> dict:
    shots = {name: str(site.shots / f"console-{name}.png") for name in ("list", "wizard", "validation")}
    return run(
        site,
        "reissue-dns.mjs",
        {
            "token": site.owner,
            "domain": site.target["domain"],
            "records": str(site.dns_records),
            "pageSize": PAGE_SIZE,
            "screenshots": shots,
        },
    )


@pytest.fixture(scope="module")
def review(site) -> dict:
    return run(
        site,
        "manual-review.mjs",
        {
            "ownerToken": site.owner,
            "reviewerToken": site.reviewer,
            "operatorToken": site.operator,
            "caDomain": site.ca_verification["domain"],
            "certificateId": site.organization["id"],
            "domain": site.organization["domain"],
            "organization": "Example Corp International",
            "screenshots": {"review": str(site.shots / "console-review.png")},
        },
    )


@pytest.fixture(scope="module")
def errors_and_sign_out(site) -> dict:
    return run(
        site, "errors-and-sign-out.mjs", {"token": site.owner, "badToken": BAD_TOKEN, "certificateId": site.invalid["id"]}
    )


# -- a paid DV reissue, validated by DNS ----------------------------------------------


def test_the_list_pages_by_cursor_and_filters(paid_dv):
    total = CERTIFICATES
    listing = paid_dv["list"]
    assert listing["firstPage"] == PAGE_SIZE and listing["summary"] == f"Certificates 1–{PAGE_SIZE} of {total}"
    assert listing["secondPage"] == total - PAGE_SIZE
    assert listing["secondSummary"] == f"Certificates {PAGE_SIZE + 1}–{total} of {total}"
    [row] = listing["filtered"]
    assert "Issued" in row and "Eligible" in row and "Paid DV" in row


def test_the_wizard_asks_in_the_guides_order_and_moves_the_focus_to_each_step(paid_dv, site):
    wizard = paid_dv["wizard"]
    assert [step.split(": ", 1)[1] for step in wizard["steps"]] == [
        "CSR source", "Domain", "Algorithm", "Key password", "Reason", "Preview and submit",
    ]
    # The original CSR (the default) needs four steps; a CSR generated online, six.
    assert wizard["steps"][0] == "Step 1 of 4: CSR source" and wizard["steps"][-1] == "Step 6 of 6: Preview and submit"
    assert wizard["focus"][1:] == ["step-heading"] * 5  # the first: the page's own heading
    assert wizard["domainOptions"] == [site.target["domain"]]
    warnings = " ".join(wizard["passwordWarnings"].split())
    assert "cannot be recovered" in warnings
    assert "cannot be deployed to cloud load balancers or CDNs" in warnings


def test_the_preview_says_what_the_reissue_will_require(paid_dv, site):
    requirements = paid_dv["wizard"]["requirements"]
    assert f"Domain validation of {site.target['domain']} by a DNS TXT record" in requirements
    assert "No manual review." in requirements


def test_the_generated_key_is_shown_once_and_downloads_as_shown(paid_dv, site):
    key = paid_dv["key"]
    assert key["shown"] and key["length"] > 1000  # RSA 2048, PKCS#8 PEM
    assert key["downloadMatches"] and key["downloadName"] == f"{site.target['domain']}.key.pem"
    assert key["shownAgain"] == 0  # back on the reissue's page later: gone


def test_the_validation_step_shows_the_record_copies_it_and_shows_the_apis_diagnosis(paid_dv, site):
    challenge = paid_dv["challenge"]
    assert challenge["name"] == f"_dnsauth.{site.target['domain']}"
    assert challenge["clipboard"] == challenge["value"] and len(challenge["value"]) >= 20
    assert "NXDOMAIN" in paid_dv["diagnosis"] and challenge["name"] in paid_dv["diagnosis"]
    assert paid_dv["status"] == ["PENDING_DOMAIN_VALIDATION", "PENDING_DOMAIN_VALIDATION", "ISSUED"]


async def test_the_reissue_ends_issued_with_a_second_version_of_the_same_expiry(paid_dv, site):
    detail = paid_dv["detail"]
    assert detail["versions"] == 1 and len(detail["versionsAfter"]) == 2
    assert detail["versionsAfter"][1].endswith(detail["versionsAfter"][1].split("\t")[-1])
    assert "Current" in detail["versionsAfter"][0] and "Current" not in detail["versionsAfter"][1]
    assert detail["statusAfter"] == "ISSUED"
    assert len(detail["historyAfter"]) == 1 and "Issued" in detail["historyAfter"][0]
    reissue_id = paid_dv["reissuePath"].rsplit("/", 1)[1]
    reissue = (await site.api(GET, {"id": reissue_id}))["reissue"]  # what the API says
    assert reissue["status"] == "ISSUED" and reissue["csrSource"] == "ONLINE" and reissue["keyParameter"] == "2048"
    versions = reissue["certificate"]["versions"]
    assert len(versions) == 2 and versions[0]["notAfter"] == versions[1]["notAfter"]  # R5


def test_a_screen_left_alone_does_nothing_no_polling_no_render_loop(paid_dv):
    # Chrome's count of the main thread's script time while nobody touches the page: a
    # re-render loop keeps it busy the whole while; an idle page spends next to nothing.
    for screen, seen in paid_dv["idle"].items():
        assert seen["graphqlPosts"] == 0, screen
        assert seen["scriptSeconds"] < seen["ms"] / 1000 / 3, (screen, seen)


def test_the_token_stays_in_session_storage_only(paid_dv, site):
    storage = paid_dv["storage"]
    assert site.owner in json.dumps(storage["session"])
    assert site.owner not in json.dumps(storage["local"]) and site.owner not in storage["href"]
    assert storage["cookie"] == ""


# -- a manual review, decided in another browser context ------------------------------


async def test_a_reviewer_in_another_context_rejects_without_reason_sees_the_error_then_approves(review, site):
    assert review["deepLink"] == f"/console/certificates/{site.organization['id']}/reissue"
    assert review["defaultSource"] == "ORIGINAL"
    assert "On file: Example Corp" in review["organizationHint"]
    assert "A manual review by our reviewers." in review["requirements"]
    assert "No domain validation." in review["requirements"]
    assert review["ownerStatus"][0] == "PENDING_MANUAL_REVIEW" and review["ownerKeyPanel"] == 0
    assert site.organization["domain"] in review["queueItem"] and "company renamed" in review["queueItem"]
    error = review["rejectError"]
    assert error["code"] == "INVALID_INPUT" and "reason is required" in error["text"]
    assert error["invalid"] == "true" and error["describedByErrors"]
    assert review["queueAfter"] == "Nothing is waiting."
    certificate = (await site.api("query($id: ID!) { certificate(id: $id) { organization { name } reissueCount } }",
                                  {"id": site.organization["id"]}))["certificate"]
    assert certificate == {"organization": {"name": "Example Corp International"}, "reissueCount": 1}


async def test_an_operator_confirms_the_cas_verification_from_the_queue(review, site):
    assert site.ca_verification["domain"] in review["operatorItem"]
    assert "Waiting for the CA's verification" in review["operatorItem"]
    assert review["operatorQueueAfter"] == "Nothing is waiting."
    reissue = (await site.api(GET, {"id": site.ca_verification["id"]}))["reissue"]
    assert reissue["status"] == "ISSUED" and reissue["events"][-1]["note"] == "CA verification confirmed"


def test_the_owners_page_shows_the_approval_by_itself_over_the_websocket(review, site):
    assert review["ownerLive"] == "on", review["ownerLiveText"]
    assert review["ownerSawIssuedAfterMs"] is not None and review["ownerStatus"][-1] == "ISSUED"
    assert review["ownerPostsSinceApproval"] == 0  # no request of its own: no polling, no reload
    assert "Waiting for manual review → Issued" in review["ownerEvents"]
    [socket, *_] = [s for s in review["contexts"]["owner"]["websockets"] if s["url"].endswith("/graphql")]
    init = json.loads(socket["sent"][0])
    assert init == {"type": "connection_init", "payload": {"Authorization": f"Bearer {site.owner}"}}


# -- a userError at its field; signing out --------------------------------------------


def test_a_user_error_is_shown_next_to_its_field(errors_and_sign_out):
    report = errors_and_sign_out
    assert report["stepsShown"] == ["CSR source", "Domain", "Reason", "Preview and submit"]
    assert "INVALID_CSR" in report["preview"]["alert"] and report["preview"]["submitDisabled"]
    field = report["fieldError"]
    assert field["codes"] == ["INVALID_CSR"] and field["invalid"] == "true"
    assert field["describedBy"] == field["text"] and "INVALID_CSR" in field["text"]
    assert report["fieldErrorAfterEdit"] == 0  # edited: the stale error goes


def test_a_token_the_api_refuses_is_said_at_the_token_field_and_not_kept(errors_and_sign_out):
    bad = errors_and_sign_out["badToken"]
    assert "does not accept this token" in bad["text"] and bad["invalid"] == "true"
    assert BAD_TOKEN not in json.dumps(bad["storage"])


def test_signing_out_forgets_the_token_and_the_data(errors_and_sign_out, site):
    report = errors_and_sign_out
    assert site.owner in json.dumps(report["storageSignedIn"]["session"])
    out = report["signedOut"]
    assert "signed out" in out["notice"]
    assert site.owner not in json.dumps(out["storage"]) and site.owner not in json.dumps(out["storageAfterReload"])
    assert out["afterBack"] == "Sign in" and out["afterReload"] == "Sign in" and out["tableShown"] == 0
    assert out["tokenPostsAfter"] == 0


# -- every screen: accessible, under its CSP, from this origin only --------------------


def test_no_screen_has_a_serious_or_critical_accessibility_violation(paid_dv, review, errors_and_sign_out):
    checked = [entry for report in (paid_dv, review, errors_and_sign_out) for entry in report["axe"]]
    assert len(checked) >= 18
    serious = [(e["screen"], v) for e in checked for v in e["violations"] if v["impact"] in SERIOUS]
    assert serious == []


def test_every_page_runs_under_its_csp_without_a_violation_or_an_error(paid_dv, review, errors_and_sign_out):
    for report in (paid_dv, review, errors_and_sign_out):
        for label, seen in report["contexts"].items():
            assert seen["cspViolations"] == [], label
            assert seen["pageErrors"] == [], label
            # Chromium's own word on the refused token's 401: nothing else.
            expected = ["status of 401"] if report is errors_and_sign_out else []
            unexpected = [e for e in seen["consoleErrors"] if not any(word in e for word in expected)]
            assert unexpected == [], label


def test_the_console_requests_nothing_from_any_other_origin(paid_dv, review, errors_and_sign_out, site):
    for report in (paid_dv, review, errors_and_sign_out):
        for seen in report["contexts"].values():
            urls = [u.removeprefix("blob:") for u in seen["requests"]]
            assert [u for u in urls if origin_of(u) != site.url] == []
            assert any("/console/assets/" in u for u in urls)
            tokens = {*(f"Bearer {t}" for t in (site.owner, site.reviewer, site.operator, BAD_TOKEN))}
            assert {p["authorization"] for p in seen["graphqlPosts"]} <= tokens


def test_screenshots_of_the_list_the_wizard_and_the_validation_step_are_saved(paid_dv, site):
    for name in ("list", "wizard", "validation"):
        shot = site.shots / f"console-{name}.png"
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
