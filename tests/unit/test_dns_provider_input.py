"""What an owner may give for a DNS provider (R20): each refusal names its field and rule.
The server is the account's choice, so its address and every input are checked before any
packet leaves."""

from __future__ import annotations

import base64

import pytest

from adapters.dns_update import Rfc2136Updater
from domain.auto_validation import DnsProvider, DnsProviderInput, DnsTarget, DnsUpdateError, check_dns_provider_input, covering
from domain.errors import InvalidInput

SECRET = base64.b64encode(b"k" * 32).decode()


def given(**changes) -> DnsProviderInput:
    values = {"zone": "Example.COM.", "server": "203.0.113.53", "port": 53, "tsig_key_name": "certreissue.",
              "tsig_algorithm": "HMAC-SHA256", "tsig_secret": SECRET, **changes}
    return DnsProviderInput(**values)


def test_a_valid_input_comes_back_canonical_with_its_secret_decoded():
    checked, secret = check_dns_provider_input(given())
    assert (checked.zone, checked.tsig_key_name, checked.tsig_algorithm) == ("example.com", "certreissue", "hmac-sha256")
    assert secret == b"k" * 32


def test_the_secret_is_never_in_the_inputs_repr():
    assert SECRET not in repr(given()) and "k" * 32 not in repr(DnsTarget("a", 53, "z", "k", "hmac-sha256", b"s" * 32))


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"zone": "com"}, "zone", "public suffix"),
    ({"zone": "co.uk"}, "zone", "public suffix"),
    ({"zone": "github.io"}, "zone", "public suffix"),
    ({"zone": "host.internal"}, "zone", "Public Suffix List"),
    ({"zone": "*.example.com"}, "zone", "wildcard"),
    ({"zone": "192.0.2.1"}, "zone", ""),
    ({"zone": "exa mple.com"}, "zone", ""),
    ({"server": ""}, "server", "required"),
    ({"server": "not a host"}, "server", ""),
    ({"port": 0}, "port", "between 1 and 65535"),
    ({"port": 65536}, "port", "between 1 and 65535"),
    ({"tsig_key_name": ""}, "tsigKeyName", "not a valid key name"),
    ({"tsig_key_name": "bad key"}, "tsigKeyName", "not a valid key name"),
    ({"tsig_algorithm": "hmac-md5"}, "tsigAlgorithm", "hmac-md5"),
    ({"tsig_algorithm": "hmac-md5.sig-alg.reg.int"}, "tsigAlgorithm", "not allowed"),
    ({"tsig_algorithm": "hmac-sha1"}, "tsigAlgorithm", "not allowed"),
    ({"tsig_secret": "not base64!"}, "tsigSecret", "base64"),
    ({"tsig_secret": base64.b64encode(b"short").decode()}, "tsigSecret", "16-128 bytes"),
    ({"tsig_secret": base64.b64encode(b"x" * 129).decode()}, "tsigSecret", "16-128 bytes"),
])
def test_a_bad_input_is_refused_naming_the_field_and_the_rule(changes, field, words):
    with pytest.raises(InvalidInput) as refused:
        check_dns_provider_input(given(**changes))
    assert refused.value.field == ["input", field]
    assert words in refused.value.message
    assert SECRET not in refused.value.message


def test_the_most_specific_zone_covers_a_name_and_a_zone_covers_only_names_under_it():
    def provider(zone):
        return DnsProvider(zone, "acct", zone, "203.0.113.53", 53, "k", "hmac-sha256", b"")

    providers = [provider("example.com"), provider("shop.example.com")]
    assert covering(providers, "www.shop.example.com").zone == "shop.example.com"
    assert covering(providers, "*.example.com").zone == "example.com"
    assert covering(providers, "example.com").zone == "example.com"
    assert covering(providers, "badexample.com") is None
    assert covering(providers, "example.com.evil.org") is None


@pytest.mark.parametrize("server", ["127.0.0.1", "10.0.0.53", "169.254.169.254", "::1", "::ffff:127.0.0.1"])
async def test_an_update_is_never_sent_to_the_services_own_network_unless_allowed(server):
    # R21's address rules (is_public_address) for the server an account names
    target = DnsTarget(server, 53, "example.com", "k", "hmac-sha256", b"s" * 32)
    with pytest.raises(DnsUpdateError) as refused:
        await Rfc2136Updater().add_txt(target, "_dnsauth.example.com", "token")
    assert "not a public address" in refused.value.message and refused.value.field == "server"
    assert refused.value.sent is False  # nothing left the service


class Records:
    """An in-memory PlacedRecordStore."""

    def __init__(self):
        self.items = {}

    async def save(self, record):
        self.items[record.id] = record

    async def mark_placed(self, record_id):
        pass

    async def get(self, record_id):
        return self.items.get(record_id)

    async def delete(self, record_id):
        self.items.pop(record_id, None)

    async def due(self, now, limit=500):
        return [r for r in self.items.values() if r.next_try_at is None or r.next_try_at <= now][:limit]

    async def retry_later(self, record_id, failures, at):
        import dataclasses

        self.items[record_id] = dataclasses.replace(self.items[record_id], failures=failures, next_try_at=at)


class Updater:
    """`failing`: every delete fails (the server is gone); `add_error`: what adding raises."""

    def __init__(self, failing: bool = False, add_error: Exception | None = None):
        self.failing = failing
        self.add_error = add_error
        self.deletes = 0

    async def add_txt(self, target, name, value, ttl=60):
        if self.add_error is not None:
            raise self.add_error

    async def delete_txt(self, target, name, value):
        self.deletes += 1
        if self.failing:
            from domain.auto_validation import DnsUpdateError

            raise DnsUpdateError("connection failed")


class Sealer:
    def seal(self, data, *, context):
        return b"sealed"

    def open(self, data, *, context):
        return b"s" * 32


class Clock:
    def __init__(self, at=None):
        from datetime import UTC, datetime

        self.at = at or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self):
        return self.at


async def test_the_probe_is_looked_up_again_after_a_pause_before_the_server_is_refused():
    """A zone's public servers may lag behind its primary: one more lookup after a pause."""
    from domain.auto_validation import AutoValidation
    from domain.model import Caller, Role
    from domain.ports import CheckOutcome

    class Providers:
        saved = []

        def new_id(self):
            return "dnsp_1"

        async def list(self, account):
            return []

        async def save(self, provider):
            self.saved.append(provider)
            return provider

    class LateChecker:
        def __init__(self):
            self.lookups = 0

        async def check_dns(self, name, value):
            self.lookups += 1
            return CheckOutcome(self.lookups > 1, None if self.lookups > 1 else "NXDOMAIN")

    pauses, checker, records = [], LateChecker(), Records()

    async def pause(seconds):
        pauses.append(seconds)

    auto = AutoValidation(providers=Providers(), records=records, updater=Updater(), checker=checker,
                          sealer=Sealer(), clock=Clock(), pause=pause)
    saved = await auto.configure_dns(Caller(account="a", role=Role.OWNER), given())
    assert saved.check_ok and checker.lookups == 2 and pauses == [2.0]
    assert records.items == {}  # the probe is written off once deleted


async def test_a_record_whose_server_never_takes_its_removal_is_given_up_after_a_week(caplog):
    """R24's cleanup must end: a server gone for good would otherwise cost every sweep forever.
    Younger records stay for the next sweep."""
    import dataclasses
    from datetime import timedelta

    from domain.auto_validation import RECORD_GIVE_UP, AutoValidation, DnsTarget

    clock, records = Clock(), Records()
    auto = AutoValidation(providers=None, records=records, updater=Updater(failing=True), checker=None,
                          sealer=Sealer(), clock=clock)
    target = DnsTarget("192.0.2.1", 53, "example.com", "key", "hmac-sha256", b"s" * 32)
    for age, name in ((RECORD_GIVE_UP + timedelta(minutes=1), "old"), (timedelta(days=1), "young")):
        record = auto._record("a", target, f"_dnsauth.{name}.example.com", "v", record_id=name, reissue_id="rei_" + name)
        await records.save(dataclasses.replace(record, created_at=clock.now() - age))

    async def ended(reissue_id):
        return True

    assert await auto.sweep(ended) == 0
    assert set(records.items) == {"young"}
    assert "given up" in caplog.text and "_dnsauth.old.example.com" in caplog.text


def crowd(clock, records, updater, count, *, age, probe=False):
    """`count` records whose reissues ended (or probes), `age` old, on a server that is gone."""
    import dataclasses

    from domain.auto_validation import AutoValidation, DnsTarget

    auto = AutoValidation(providers=None, records=records, updater=updater, checker=None, sealer=Sealer(), clock=clock)
    target = DnsTarget("192.0.2.1", 53, "example.com", "key", "hmac-sha256", b"s" * 32)
    for i in range(count):
        record = auto._record("a", target, f"_dnsauth.n{i}.example.com", "v", record_id=f"r{i}",
                              reissue_id=None if probe else f"rei_{i}")
        records.items[record.id] = dataclasses.replace(record, created_at=clock.now() - age)
    return auto


async def ended(reissue_id):
    return True


async def test_a_removal_that_fails_is_tried_again_later_not_at_every_sweep():
    from datetime import timedelta

    clock, records, updater = Clock(), Records(), Updater(failing=True)
    auto = crowd(clock, records, updater, 3, age=timedelta(minutes=10))
    await auto.sweep(ended)
    assert updater.deletes == 3
    await auto.sweep(ended)  # at once again: none is due
    assert updater.deletes == 3
    clock.at += timedelta(minutes=1)
    await auto.sweep(ended)
    assert updater.deletes == 6 and {r.failures for r in records.items.values()} == {2}
    clock.at += timedelta(minutes=1)  # the pause doubled
    await auto.sweep(ended)
    assert updater.deletes == 6


async def test_a_probe_whose_server_never_takes_its_removal_is_given_up_after_an_hour():
    # Probes are the records anyone can make (configureDnsProvider): they must not pile up.
    from datetime import timedelta

    clock, records = Clock(), Records()
    auto = crowd(clock, records, Updater(failing=True), 2, age=timedelta(minutes=61), probe=True)
    await auto.sweep(ended)
    assert records.items == {}


async def test_an_unexpected_failure_of_one_removal_does_not_stop_the_others():
    from datetime import timedelta

    class Exploding(Updater):
        async def delete_txt(self, target, name, value):
            self.deletes += 1
            if name.startswith("_dnsauth.n0."):
                raise EOFError("the server closed the connection")

    clock, records = Clock(), Records()
    auto = crowd(clock, records, Exploding(), 3, age=timedelta(minutes=10))
    assert await auto.sweep(ended) == 2
    assert set(records.items) == {"r0"}


async def test_a_probe_the_server_refused_leaves_nothing_to_clean_up():
    """An answer with an error (BADKEY, REFUSED...) placed nothing: no record is kept; one
    whose fate is unknown (a timeout) is kept for the sweep."""
    from domain.auto_validation import AutoValidation, DnsUpdateError
    from domain.errors import InvalidInput
    from domain.model import Caller, Role

    class Providers:
        def new_id(self):
            return "dnsp_1"

        async def list(self, account):
            return []

    for error, kept in ((DnsUpdateError("BADKEY", field="tsigSecret", answered=True), 0),
                        (DnsUpdateError("timeout"), 1)):
        records = Records()
        auto = AutoValidation(providers=Providers(), records=records, updater=Updater(failing=True, add_error=error),
                              checker=None, sealer=Sealer(), clock=Clock())
        with pytest.raises(InvalidInput):
            await auto.configure_dns(Caller(account="a", role=Role.OWNER), given())
        assert len(records.items) == kept, error.message
