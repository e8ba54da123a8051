"""The live checks of R20/R21 against a real DNS server (dnslib) and a real HTTP server on
loopback: each failure gives a diagnosis a person can act on."""

from __future__ import annotations

import uuid

import pytest

from adapters.validation import LiveDomainChecker
from domain.reissues import FILE_CHALLENGE_PATH


@pytest.fixture
def checker(dns_server, file_site):
    return LiveDomainChecker((f"127.0.0.1:{dns_server.port}",), file_site.port, timeout=1.0, allow_private=True)


@pytest.fixture
def host(dns_server):
    name = f"www.v{uuid.uuid4().hex[:8]}.com"
    dns_server.resolver.set(name, "A", ["127.0.0.1"])
    return name


async def test_dns_check_passes_when_the_txt_record_holds_the_token(checker, dns_server):
    dns_server.resolver.set("_dnsauth.ok.example.com", "TXT", ["other", "the-token"])
    assert (await checker.check_dns("_dnsauth.ok.example.com", "the-token")).ok


async def test_dns_check_says_nxdomain_when_the_name_does_not_exist(checker):
    outcome = await checker.check_dns(f"_dnsauth.{uuid.uuid4().hex}.example.com", "t")
    assert not outcome.ok and outcome.diagnosis.startswith("NXDOMAIN")


async def test_dns_check_says_record_missing_when_the_name_has_no_txt(checker, dns_server):
    dns_server.resolver.set("_dnsauth.a-only.example.com", "A", ["127.0.0.1"])
    outcome = await checker.check_dns("_dnsauth.a-only.example.com", "t")
    assert not outcome.ok and outcome.diagnosis.startswith("record missing")


async def test_dns_check_shows_the_wrong_value_it_found(checker, dns_server):
    dns_server.resolver.set("_dnsauth.wrong.example.com", "TXT", ["stale-token"])
    outcome = await checker.check_dns("_dnsauth.wrong.example.com", "fresh-token")
    assert "wrong value" in outcome.diagnosis and "stale-token" in outcome.diagnosis and "fresh-token" in outcome.diagnosis


async def test_dns_check_reports_a_timeout_when_no_server_answers():
    silent = LiveDomainChecker(("127.0.0.1:9",), 80, timeout=0.5)
    outcome = await silent.check_dns("_dnsauth.example.com", "t")
    assert not outcome.ok and ("timeout" in outcome.diagnosis or "DNS error" in outcome.diagnosis)


async def test_file_check_passes_with_the_token_as_the_body(checker, file_site, host):
    file_site.serve(host, FILE_CHALLENGE_PATH, "tok-123\n")
    assert (await checker.check_file(host, FILE_CHALLENGE_PATH, "tok-123")).ok


async def test_file_check_reports_the_http_status(checker, host):
    outcome = await checker.check_file(host, FILE_CHALLENGE_PATH, "t")
    assert "HTTP status 404" in outcome.diagnosis


async def test_file_check_reports_a_body_mismatch_with_what_it_found(checker, file_site, host):
    file_site.serve(host, FILE_CHALLENGE_PATH, "<html>welcome</html>")
    outcome = await checker.check_file(host, FILE_CHALLENGE_PATH, "t")
    assert "body mismatch" in outcome.diagnosis and "welcome" in outcome.diagnosis


async def test_file_check_follows_a_permanent_redirect(checker, file_site, host, dns_server):
    target = f"moved.{host}"
    dns_server.resolver.set(target, "A", ["127.0.0.1"])
    file_site.serve(host, FILE_CHALLENGE_PATH, "", status=301, headers={"Location": f"http://{target}{FILE_CHALLENGE_PATH}"})
    file_site.serve(target, FILE_CHALLENGE_PATH, "tok")
    assert (await checker.check_file(host, FILE_CHALLENGE_PATH, "tok")).ok


async def test_file_check_refuses_a_303_redirect(checker, file_site, host):
    file_site.serve(host, FILE_CHALLENGE_PATH, "", status=303, headers={"Location": "/elsewhere"})
    outcome = await checker.check_file(host, FILE_CHALLENGE_PATH, "tok")
    assert not outcome.ok and "redirect" in outcome.diagnosis and "303" in outcome.diagnosis


async def test_file_check_stops_after_five_redirects(checker, file_site, host):
    file_site.serve(host, FILE_CHALLENGE_PATH, "", status=302, headers={"Location": FILE_CHALLENGE_PATH})
    outcome = await checker.check_file(host, FILE_CHALLENGE_PATH, "tok")
    assert not outcome.ok and "more than 5 redirects" in outcome.diagnosis


async def test_file_check_says_when_the_host_has_no_address(checker):
    outcome = await checker.check_file(f"nowhere{uuid.uuid4().hex[:6]}.example.com", FILE_CHALLENGE_PATH, "t")
    assert not outcome.ok and "no A or AAAA record" in outcome.diagnosis


async def test_file_check_refuses_private_addresses_unless_allowed(dns_server, file_site, host):
    strict = LiveDomainChecker((f"127.0.0.1:{dns_server.port}",), file_site.port, timeout=1.0)
    file_site.serve(host, FILE_CHALLENGE_PATH, "tok")
    outcome = await strict.check_file(host, FILE_CHALLENGE_PATH, "tok")
    assert not outcome.ok and "not a public address" in outcome.diagnosis


async def test_file_check_reads_only_the_start_of_a_huge_body(checker, file_site, host):
    file_site.serve(host, FILE_CHALLENGE_PATH, "x" * 5_000_000)
    outcome = await checker.check_file(host, FILE_CHALLENGE_PATH, "tok")
    assert not outcome.ok and "body mismatch" in outcome.diagnosis and len(outcome.diagnosis) < 300


async def test_a_body_fetched_after_a_redirect_is_not_quoted(checker, file_site, host, dns_server):
    target = f"other.{host}"
    dns_server.resolver.set(target, "A", ["127.0.0.1"])
    file_site.serve(host, FILE_CHALLENGE_PATH, "", status=302, headers={"Location": f"http://{target}{FILE_CHALLENGE_PATH}"})
    file_site.serve(target, FILE_CHALLENGE_PATH, "internal secret page")
    outcome = await checker.check_file(host, FILE_CHALLENGE_PATH, "tok")
    assert not outcome.ok and "secret" not in outcome.diagnosis
