"""CERTS_CORS_ORIGINS, read at startup: exact origins as browsers send them, `*` alone for
any origin, and anything else refused with a message that names the variable and says
how to write it."""

from __future__ import annotations

import pytest

from certreissue import cli
from certreissue.cors import ApiCORSMiddleware
from certreissue.settings import Settings


def test_by_default_no_other_origin_may_call_the_api():
    assert Settings.from_env({}).cors_origins == ()
    assert Settings.from_env({"CERTS_CORS_ORIGINS": " , "}).cors_origins == ()


def test_origins_are_read_comma_separated_in_order_without_repeats():
    settings = Settings.from_env(
        {"CERTS_CORS_ORIGINS": "http://localhost:3000, https://app.example.com,http://[::1]:8080,http://localhost:3000"}
    )
    assert settings.cors_origins == ("http://localhost:3000", "https://app.example.com", "http://[::1]:8080")


def test_a_star_alone_means_any_origin():
    assert Settings.from_env({"CERTS_CORS_ORIGINS": "*"}).cors_origins == ("*",)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("*,https://app.example.com", "cannot be combined"),
        ("http://localhost:3000/", "path"),
        ("https://app.example.com/graphql", "path"),
        ("https://app.example.com?x=1", "path, query"),
        ("https://user@app.example.com", "user"),
        ("app.example.com", "not an http or https origin"),
        ("ftp://app.example.com", "not an http or https origin"),
        ("null", "not an http or https origin"),
        ("https://*.example.com", "no wildcards"),
        ("https://App.Example.com", "'https://app.example.com'"),
        ("https://app.example.com:443", "'https://app.example.com'"),
        ("http://localhost:99999", "invalid port"),
        ("https://bücher.example", "xn--"),
    ],
)
def test_a_value_that_is_not_an_exact_origin_is_refused_naming_the_variable(value, says):
    with pytest.raises(ValueError, match="CERTS_CORS_ORIGINS") as refused:
        Settings.from_env({"CERTS_CORS_ORIGINS": value})
    assert says in str(refused.value)


def test_the_middleware_refuses_origins_set_in_code_as_the_setting_does():
    with pytest.raises(ValueError, match="path"):
        ApiCORSMiddleware(app=None, origins=["http://localhost:3000/"])


def test_certreissue_serve_stops_at_startup_on_a_bad_setting_and_says_why(monkeypatch, capsys):
    monkeypatch.setenv("CERTS_CORS_ORIGINS", "http://localhost:3000/")
    assert cli.main(["serve"]) == 2
    error = capsys.readouterr().err
    assert "bad environment: CERTS_CORS_ORIGINS" in error and "http://localhost:3000" in error
