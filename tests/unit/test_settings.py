"""Settings read once from the environment: the trust settings refuse what would break a rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from certreissue.settings import Settings
from domain.model import Brand
from domain.validity import DEFAULT_SCHEDULE


def test_defaults_are_the_rules_own():
    settings = Settings.from_env({})
    assert settings.validity_schedule == DEFAULT_SCHEDULE  # R30
    assert settings.token_cache_seconds <= 25  # R26: a revoked token stops within 30 s
    assert settings.brands.brand_of("Sectigo Limited") == Brand.SECTIGO  # R29


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"CERTS_TOKEN_CACHE_SECONDS": "30"}, "CERTS_TOKEN_CACHE_SECONDS"),
        ({"CERTS_TOKEN_CACHE_SECONDS": "-1"}, "CERTS_TOKEN_CACHE_SECONDS"),
        ({"CERTS_VALIDITY_SCHEDULE": "398;soon=10"}, "CERTS_VALIDITY_SCHEDULE"),
        ({"CERTS_BRAND_ISSUERS": "Comodo=NOBODY"}, "CERTS_BRAND_ISSUERS"),
    ],
)
def test_a_bad_trust_setting_is_refused_naming_the_variable(env, says):
    with pytest.raises(ValueError, match=says):
        Settings.from_env(env)


def test_configured_brands_and_schedule_are_used():
    settings = Settings.from_env({"CERTS_BRAND_ISSUERS": "Comodo=SECTIGO", "CERTS_VALIDITY_SCHEDULE": "90"})
    assert settings.brands.brand_of("COMODO RSA Domain Validation") == Brand.SECTIGO
    assert settings.validity_schedule.max_days(datetime(2030, 1, 1, tzinfo=UTC)) == 90


def test_the_embedded_database_is_chosen_by_certs_embedded_db():
    assert Settings.from_env({}).embedded_db == "secantus"  # the default since the trial (docs/embedded-database.md)
    assert Settings.from_env({"CERTS_EMBEDDED_DB": "ferretdb"}).embedded_db == "ferretdb"
    assert Settings.from_env({"CERTS_EMBEDDED_DB": "FerretDB"}).embedded_db == "ferretdb"


def test_an_unknown_embedded_database_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match="CERTS_EMBEDDED_DB must be one of secantus, ferretdb"):
        Settings.from_env({"CERTS_EMBEDDED_DB": "sqlite"})


def test_the_subscription_settings_have_bounded_defaults():
    settings = Settings.from_env({})
    assert settings.change_feed == "auto" and settings.change_poll_seconds == 1.0
    assert settings.ws_max_subscriptions == 20 and settings.ws_init_timeout_seconds == 10.0
    assert settings.ws_max_message_bytes == 64 * 1024


def test_the_builtin_ca_is_the_default_and_acme_is_chosen_by_certs_ca(tmp_path):
    assert Settings.from_env({}).ca == "builtin"
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = Settings.from_env({
        "CERTS_CA": "acme", "CERTS_ACME_DIRECTORY": "https://acme-staging-v02.api.letsencrypt.org/directory",
        "CERTS_ACME_EAB_KID": "kid-1", "CERTS_ACME_EAB_HMAC": "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG4",
        "CERTS_ACME_CA_BUNDLE": str(bundle),
    })
    assert settings.ca == "acme" and settings.acme_directory.endswith("/directory")
    assert (settings.acme_eab_kid, settings.acme_ca_bundle) == ("kid-1", bundle)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"CERTS_CHANGE_FEED": "oplog"}, "CERTS_CHANGE_FEED must be one of auto, change-stream, poll"),
        ({"CERTS_CHANGE_POLL_SECONDS": "0"}, "CERTS_CHANGE_POLL_SECONDS"),
        ({"CERTS_WS_MAX_SUBSCRIPTIONS": "0"}, "CERTS_WS_MAX_SUBSCRIPTIONS"),
        ({"CERTS_WS_INIT_TIMEOUT_SECONDS": "never"}, "CERTS_WS_INIT_TIMEOUT_SECONDS"),
        ({"CERTS_WS_MAX_MESSAGE_BYTES": "100"}, "CERTS_WS_MAX_MESSAGE_BYTES"),
    ],
)
def test_a_bad_subscription_setting_is_refused_naming_the_variable(env, says):
    with pytest.raises(ValueError, match=says):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"CERTS_CA": "letsencrypt"}, "CERTS_CA must be builtin or acme"),
        ({"CERTS_CA": "acme"}, "CERTS_ACME_DIRECTORY"),
        ({"CERTS_CA": "acme", "CERTS_ACME_DIRECTORY": "http://ca.example/dir"}, "CERTS_ACME_DIRECTORY"),
        ({"CERTS_ACME_EAB_KID": "kid-1"}, "CERTS_ACME_EAB_KID and CERTS_ACME_EAB_HMAC go together"),
        ({"CERTS_ACME_EAB_KID": "k", "CERTS_ACME_EAB_HMAC": "not base64!"}, "CERTS_ACME_EAB_HMAC"),
        ({"CERTS_ACME_CA_BUNDLE": "/nonexistent/ca.pem"}, "CERTS_ACME_CA_BUNDLE"),
    ],
)
def test_a_bad_acme_setting_is_refused_naming_the_variable(env, says):
    with pytest.raises(ValueError, match=says):
        Settings.from_env(env)


def test_the_webhook_settings_have_their_defaults_and_are_read_from_the_environment():
    from datetime import timedelta

    default = Settings.from_env({})
    assert (default.webhook_delivery, default.webhook_poll_seconds, default.webhook_timeout_seconds) == (True, 1.0, 10.0)
    assert (default.webhook_backoff_base_seconds, default.webhook_backoff_max_seconds) == (30.0, 21600.0)
    assert default.webhook_retry_for == timedelta(days=3)
    set_ = Settings.from_env({"CERTS_WEBHOOK_DELIVERY": "false", "CERTS_WEBHOOK_RETRY_FOR": "2h",
                              "CERTS_WEBHOOK_BACKOFF_BASE_SECONDS": "0.5"})
    assert (set_.webhook_delivery, set_.webhook_retry_for, set_.webhook_backoff_base_seconds) == (
        False, timedelta(hours=2), 0.5)


@pytest.mark.parametrize(("name", "value"), [("CERTS_WEBHOOK_RETRY_FOR", "3 days"),
                                             ("CERTS_WEBHOOK_TIMEOUT_SECONDS", "0"),
                                             ("CERTS_WEBHOOK_DELIVERY", "maybe")])
def test_a_bad_webhook_setting_stops_the_start_naming_it(name, value):
    with pytest.raises(ValueError) as caught:
        Settings.from_env({name: value})
    assert name in str(caught.value) or "boolean" in str(caught.value)


def test_automatic_validation_settings_are_off_by_default(tmp_path):
    # R20: FILE_AUTO needs the operator's webroot base; DNS updates go to public addresses only
    settings = Settings.from_env({})
    assert settings.webroots_dir is None and settings.dns_provider_allow_private is False
    on = Settings.from_env({"CERTS_WEBROOTS_DIR": str(tmp_path), "CERTS_DNS_PROVIDER_ALLOW_PRIVATE": "true"})
    assert on.webroots_dir == tmp_path and on.dns_provider_allow_private is True


def test_a_webroot_base_that_is_not_a_directory_is_refused_naming_the_variable(tmp_path):
    with pytest.raises(ValueError, match="CERTS_WEBROOTS_DIR"):
        Settings.from_env({"CERTS_WEBROOTS_DIR": str(tmp_path / "missing")})
