"""DNS_AUTO (R20) through a real authoritative server: Debian's Knot DNS, started on loopback
with a zone and a TSIG key of its own (tests/support/knot.py), updated by the service over
RFC 2136. An API process whose resolver (CERTS_DNS_NAMESERVERS) is that server stands for
"the world"; the session's API, whose resolver is another server, stands for a world in
which the Knot server does not serve the zone (the attacker's own server).

Without knotd these tests are skipped here and fail in CI (tests/support/knot.py)."""

from __future__ import annotations

import base64
import dataclasses
import secrets
from datetime import timedelta

import pytest

from certreissue.bootstrap import build_services
from tests.conftest import GraphQLClient, new_token
from tests.integration.reissue_api import CANCEL, CHECK, GET, PREVIEW, act, request, unique_zone, upload_cert
from tests.support.knot import Knot

CONFIGURE = """
mutation($input: ConfigureDnsProviderInput!) {
  configureDnsProvider(input: $input) {
    dnsProvider { id zone server port tsigKeyName tsigAlgorithm lastCheckSucceeded lastCheckError }
    userErrors { code message field }
  }
}
"""
REMOVE = "mutation($id: ID!) { removeDnsProvider(id: $id) { removedId userErrors { code message field } } }"
PROVIDERS = "{ dnsProviders { id zone server port tsigKeyName tsigAlgorithm lastCheckSucceeded lastCheckError } }"
AUTO_FACT = "query($id: ID!) { certificate(id: $id) { autoValidationConfigured } }"


@pytest.fixture
async def world(knot_http, knot_services, knot_staff_tokens, new_account):
    """An owner of a new account, on the API that sees the Knot server (its own database)."""
    account = new_account("dnsauto")
    return GraphQLClient(knot_http, await new_token(knot_services, account, "owner"), account, knot_staff_tokens)


def provider_input(knot: Knot, **changes) -> dict:
    return {"zone": knot.zone, "server": "127.0.0.1", "port": knot.port, "tsigKeyName": knot.key_name,
            "tsigAlgorithm": knot.algorithm, "tsigSecret": knot.secret, **changes}


async def configure(client, knot: Knot, **changes) -> dict:
    return (await client(CONFIGURE, {"input": provider_input(knot, **changes)}))["configureDnsProvider"]


async def configured(client, knot: Knot) -> dict:
    result = await configure(client, knot)
    assert result["userErrors"] == [], result["userErrors"]
    return result["dnsProvider"]


async def records_of(services, reissue_id: str) -> list[dict]:
    return await services.database.db.auto_validation_records.find({"reissueId": reissue_id}).to_list()


async def dns_auto(client, certificate_id: str) -> dict:
    result = await request(client, certificateId=certificate_id, csrSource="ONLINE", validationMethod="DNS_AUTO",
                           reason="rotate the key")
    assert result["userErrors"] == [], result["userErrors"]
    return result["reissue"]


def rotated_key(knot: Knot):
    """The server's key changes (an administrator rotated it); restored afterwards."""
    class Rotation:
        def __enter__(self):
            self.old = knot.secret
            config = knot.dir / "knot.conf"
            knot.stop()
            knot.secret = base64.b64encode(secrets.token_bytes(32)).decode()
            config.write_text(config.read_text().replace(self.old, knot.secret))
            knot.start()

        def __exit__(self, *exc):
            config = knot.dir / "knot.conf"
            knot.stop()
            config.write_text(config.read_text().replace(knot.secret, self.old))
            knot.secret = self.old
            knot.start()

    return Rotation()


# -- configuring a provider -----------------------------------------------------------------


async def test_a_provider_is_saved_after_its_probe_and_its_secret_is_never_returned(world, knot, knot_services):
    # R20, R26: the probe record is placed, seen through the service's resolver, deleted
    provider = await configured(world, knot)
    assert (provider["zone"], provider["server"], provider["port"]) == (knot.zone, "127.0.0.1", knot.port)
    assert provider["lastCheckSucceeded"] is True and provider["lastCheckError"] is None
    listed = (await world(PROVIDERS))["dnsProviders"]
    assert [p["id"] for p in listed] == [provider["id"]]
    assert knot.secret not in str(listed)
    assert knot.txt_names() == []  # the probe is gone from the zone
    stored = await knot_services.database.db.dns_providers.find_one({"_id": provider["id"]})
    assert knot.secret not in str(stored) and base64.b64decode(knot.secret) not in bytes(stored["sealedSecret"])
    assert await knot_services.database.db.auto_validation_records.count_documents({"account": world.account}) == 0


async def test_a_wrong_tsig_secret_is_refused_at_configure_time_with_a_diagnosis(world, knot):
    # R20: a diagnosis a person can act on, naming the field; nothing saved
    wrong = base64.b64encode(secrets.token_bytes(32)).decode()
    result = await configure(world, knot, tsigSecret=wrong)
    assert result["dnsProvider"] is None
    [error] = result["userErrors"]
    assert error["field"] == ["input", "tsigSecret"]
    assert "BADSIG" in error["message"] and "secret" in error["message"]
    assert wrong not in error["message"]
    assert (await world(PROVIDERS))["dnsProviders"] == []


async def test_a_server_that_closes_the_connection_is_a_diagnosis_not_an_internal_error(world, knot):
    """A server that reads the update and hangs up: the owner gets a userError naming the
    server, and the probe it may have placed is left to the sweep."""
    import asyncio

    async def hang_up(reader, writer):
        await reader.read(2)
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        result = await configure(world, knot, port=port)
    finally:
        server.close()
        await server.wait_closed()
    assert result["dnsProvider"] is None
    (error,) = result["userErrors"]
    assert error["field"] == ["input", "server"] and "closed the connection" in error["message"], error


async def test_an_unknown_key_name_is_refused_at_configure_time(world, knot):
    result = await configure(world, knot, tsigKeyName="not-the-key")
    assert result["userErrors"][0]["field"] == ["input", "tsigSecret"]
    assert "BADKEY" in result["userErrors"][0]["message"]


async def test_a_server_that_does_not_serve_the_zone_as_the_world_sees_it_is_refused(owner, knot, services):
    """The attack: configure one's own server claiming someone's zone (it accepts one's own
    key), to earn R18's waiver. The session's API resolves through another server, which
    knows nothing of the zone: the probe is not seen, and nothing is saved."""
    result = await configure(owner, knot)
    assert result["dnsProvider"] is None
    [error] = result["userErrors"]
    assert error["field"] == ["input", "server"]
    assert "not served by that server as the world sees it" in error["message"]
    assert (await owner(PROVIDERS))["dnsProviders"] == []
    assert knot.txt_names() == []  # the probe was deleted all the same
    assert await services.database.db.auto_validation_records.count_documents({"account": owner.account}) == 0


async def test_a_loopback_server_is_refused_unless_private_addresses_are_allowed(settings, database_uri, knot):
    # R21's address rules for the account-chosen server
    strict = dataclasses.replace(settings, dns_nameservers=(knot.address,), dns_provider_allow_private=False)
    built = build_services(strict, database_uri)
    try:
        from domain.auto_validation import DnsProviderInput
        from domain.errors import InvalidInput
        from domain.model import Caller, Role

        caller = Caller(account="strict-" + secrets.token_hex(4), role=Role.OWNER)
        given = DnsProviderInput(knot.zone, "127.0.0.1", knot.port, knot.key_name, knot.algorithm, knot.secret)
        with pytest.raises(InvalidInput) as refused:
            await built.auto_validation.configure_dns(caller, given)
        assert refused.value.field == ["input", "server"]
        assert "not a public address" in refused.value.message
        # Nothing left the service, so nothing is left to remove either.
        assert await built.database.db.auto_validation_records.count_documents({"account": caller.account}) == 0
    finally:
        await built.close()
    assert knot.txt_names() == []


async def test_removing_a_provider_lists_it_no_more_and_another_accounts_id_is_not_found(world, knot, owner):
    provider = await configured(world, knot)
    other = (await owner(REMOVE, {"id": provider["id"]}))["removeDnsProvider"]
    assert [e["code"] for e in other["userErrors"]] == ["NOT_FOUND"]  # R26
    assert len((await world(PROVIDERS))["dnsProviders"]) == 1
    removed = (await world(REMOVE, {"id": provider["id"]}))["removeDnsProvider"]
    assert removed == {"removedId": provider["id"], "userErrors": []}
    assert (await world(PROVIDERS))["dnsProviders"] == []


# -- a reissue validated by DNS_AUTO ---------------------------------------------------------


async def test_dns_auto_reissue_is_issued_with_no_manual_step(world, knot, knot_services):
    # R20: placed, checked through the resolver (R21), issued, removed
    certificate, _ = await upload_cert(world, f"www.{knot.zone}")
    await configured(world, knot)
    reissue = await dns_auto(world, certificate["id"])
    assert reissue["status"] == "ISSUED", reissue["domainValidation"]
    assert reissue["domainValidationRequired"] is True
    assert any(e["note"] == "domain validated by DNS_AUTO" and e["actor"] == "system" for e in reissue["events"])
    assert knot.txt(f"_dnsauth.www.{knot.zone}") == []  # removed once issued
    assert await records_of(knot_services, reissue["id"]) == []


async def test_dns_auto_for_a_domain_no_provider_of_this_account_covers_is_refused_at_preview_and_submit(world, knot):
    # R12, R20: another account's provider for the zone does not count
    certificate, _ = await upload_cert(world, f"api.{knot.zone}")
    input = {"certificateId": certificate["id"], "csrSource": "ONLINE", "validationMethod": "DNS_AUTO",
             "reason": "rotate the key"}
    preview = (await world(PREVIEW, {"input": input}))["previewReissue"]
    [error] = preview["userErrors"]
    assert (error["code"], error["field"]) == ("OPTION_NOT_ALLOWED", ["input", "validationMethod"])
    assert "configureDnsProvider" in error["message"]
    result = await request(world, **input)
    assert result["reissue"] is None and result["userErrors"][0]["field"] == ["input", "validationMethod"]
    active = "query($id: ID!) { certificate(id: $id) { activeReissue { id } } }"
    assert (await world(active, {"id": certificate["id"]}))["certificate"]["activeReissue"] is None


async def test_a_key_the_server_no_longer_accepts_leaves_the_reissue_pending_with_a_diagnosis(world, knot, knot_services):
    # R21: a diagnosis at placement; the provider no longer counts for R18; Validate now resumes
    certificate, _ = await upload_cert(world, f"key.{knot.zone}")
    provider = await configured(world, knot)
    with rotated_key(knot):
        reissue = await dns_auto(world, certificate["id"])
        assert reissue["status"] == "PENDING_DOMAIN_VALIDATION"
        assert "refused the TSIG key" in reissue["domainValidation"]["lastError"]
        assert "BADSIG" in reissue["domainValidation"]["lastError"]
        [listed] = (await world(PROVIDERS))["dnsProviders"]
        assert listed["id"] == provider["id"] and listed["lastCheckSucceeded"] is False
    checked = await act(world, CHECK, reissue["id"])  # "Validate now" places it, then checks
    assert checked["reissue"]["status"] == "ISSUED", checked
    assert knot.txt(f"_dnsauth.key.{knot.zone}") == []
    assert (await world(PROVIDERS))["dnsProviders"][0]["lastCheckSucceeded"] is True


async def test_a_server_that_is_down_leaves_the_reissue_pending_and_the_sweep_finishes_it(world, knot, knot_services):
    certificate, _ = await upload_cert(world, f"down.{knot.zone}")
    await configured(world, knot)
    knot.stop()
    try:
        reissue = await dns_auto(world, certificate["id"])
    finally:
        knot.start()
    assert reissue["status"] == "PENDING_DOMAIN_VALIDATION"
    assert "connection failed" in reissue["domainValidation"]["lastError"]
    await knot_services.reissues.sweep()
    after = (await world(GET, {"id": reissue["id"]}))["reissue"]
    assert after["status"] == "ISSUED", after["domainValidation"]
    assert knot.txt(f"_dnsauth.down.{knot.zone}") == []
    assert await records_of(knot_services, reissue["id"]) == []


async def test_a_record_left_behind_by_a_fault_is_removed_by_the_sweep(world, knot, knot_services):
    """A process placed the record and died before checking it; the reissue was then
    cancelled while the server was down, so the cancel could not remove it."""
    certificate, _ = await upload_cert(world, f"crash.{knot.zone}")
    await configured(world, knot)
    knot.stop()
    try:
        reissue = await dns_auto(world, certificate["id"])  # pending: nothing placed
    finally:
        knot.start()
    token = reissue["domainValidation"]["dns"]["value"]
    # What the dead process did: written down, then placed; nothing after.
    assert await knot_services.auto_validation.place(world.account, reissue["id"], f"crash.{knot.zone}", token) is None
    assert knot.txt(f"_dnsauth.crash.{knot.zone}") == [token]
    knot.stop()
    try:
        cancelled = await act(world, CANCEL, reissue["id"])
    finally:
        knot.start()
    assert cancelled["reissue"]["status"] == "CANCELLED"
    assert knot.txt(f"_dnsauth.crash.{knot.zone}") == [token]  # still there
    assert len(await records_of(knot_services, reissue["id"])) == 1  # and still known
    counts = await knot_services.reissues.sweep()
    assert counts["auto_records_removed"] >= 1
    assert knot.txt(f"_dnsauth.crash.{knot.zone}") == []
    assert await records_of(knot_services, reissue["id"]) == []


async def test_a_failure_in_automatic_validation_does_not_stop_the_sweep(knot_settings, database_uri):
    """Whatever an account's DNS server does to the cleanup, the sweep goes on (and returns
    its counts, so revocations and purges after it run too)."""
    built = build_services(knot_settings, database_uri)

    async def explode(finished):
        raise EOFError("a server hung up in a way nobody foresaw")

    built.auto_validation.sweep = explode
    try:
        counts = await built.reissues.sweep()
    finally:
        await built.close()
    assert {"repaired", "expired", "released"} <= set(counts)


async def test_a_probe_left_by_a_dead_process_is_removed_by_the_sweep(world, knot, knot_services):
    from domain.auto_validation import PROBE_GRACE, DnsTarget

    auto = knot_services.auto_validation
    target = DnsTarget("127.0.0.1", knot.port, knot.zone, knot.key_name, knot.algorithm,
                       base64.b64decode(knot.secret))
    name = f"_certreissue-probe-dead.{knot.zone}"
    record = auto._record(world.account, target, name, "probe-value", record_id="rec_dead_" + secrets.token_hex(4))
    record = dataclasses.replace(record, created_at=record.created_at - PROBE_GRACE - timedelta(seconds=1))
    await auto._records.save(record)  # written down, then placed, then the process died
    await auto._updater.add_txt(target, name, "probe-value")
    assert knot.txt(name) == ["probe-value"]
    await knot_services.reissues.sweep()
    assert knot.txt(name) == []
    assert await auto._records.get(record.id) is None


# -- R18 from facts ------------------------------------------------------------------------


async def test_a_trustasia_wildcard_is_waived_once_a_checked_provider_covers_its_domain(world, knot):
    # R18: the fact comes from a configured provider whose last check passed
    certificate, _ = await upload_cert(world, f"*.{knot.zone}", brand="TRUSTASIA", purchased_years=2)
    input = {"certificateId": certificate["id"], "csrSource": "ONLINE", "reason": "rotate the key"}
    assert (await world(AUTO_FACT, {"id": certificate["id"]}))["certificate"]["autoValidationConfigured"] is False
    assert (await world(PREVIEW, {"input": input}))["previewReissue"]["waivers"] == []
    await configured(world, knot)
    assert (await world(AUTO_FACT, {"id": certificate["id"]}))["certificate"]["autoValidationConfigured"] is True
    other, _ = await upload_cert(world, f"www.{unique_zone()}")  # under no provider's zone
    listed = (await world("{ certificates(first: 50) { edges { node { id autoValidationConfigured } } } }"))
    facts = {e["node"]["id"]: e["node"]["autoValidationConfigured"] for e in listed["certificates"]["edges"]}
    assert facts == {certificate["id"]: True, other["id"]: False}
    assert (await world(PREVIEW, {"input": input}))["previewReissue"]["waivers"] == ["AUTO_VALIDATION_CONFIGURED"]
    result = await request(world, **input)
    assert result["reissue"]["waivers"] == ["AUTO_VALIDATION_CONFIGURED"]
    assert result["reissue"]["status"] == "ISSUED"  # R19
    assert knot.txt_names() == []  # the fresh probe was deleted


async def test_the_waiver_is_not_granted_when_the_providers_fresh_probe_fails_at_submission(world, knot):
    # R18, R28: a waiver never rests on an old finding; submission proves it again
    certificate, _ = await upload_cert(world, f"*.{knot.zone}", brand="TRUSTASIA", purchased_years=2)
    input = {"certificateId": certificate["id"], "csrSource": "ONLINE", "reason": "rotate the key"}
    await configured(world, knot)
    with rotated_key(knot):  # the zone's server no longer accepts the service's key
        assert (await world(PREVIEW, {"input": input}))["previewReissue"]["waivers"] == ["AUTO_VALIDATION_CONFIGURED"]
        result = await request(world, **input)
    assert result["reissue"]["waivers"] == [] and result["reissue"]["status"] == "PENDING_DOMAIN_VALIDATION"
    [provider] = (await world(PROVIDERS))["dnsProviders"]
    assert provider["lastCheckSucceeded"] is False and "BADSIG" in provider["lastCheckError"]
    assert (await world(AUTO_FACT, {"id": certificate["id"]}))["certificate"]["autoValidationConfigured"] is False
