"""R29: brand, validation level and organization read from a trusted certificate; an
untrusted one is OTHER, DV, no organization, whatever it says."""

from __future__ import annotations

import pytest
from cryptography import x509

from domain.facts import BrandTable, read_facts, validation_level_of
from domain.model import Brand, ValidationLevel
from tests import certs

TABLE = BrandTable()


def facts(issued: certs.Issued, *, trusted: bool = True, table: BrandTable = TABLE):
    return read_facts(issued.cert, chain_trusted=trusted, brands=table)


@pytest.mark.parametrize(
    ("oids", "level"),
    [
        (["2.23.140.1.2.1"], ValidationLevel.DV),
        (["2.23.140.1.2.2"], ValidationLevel.OV),
        (["2.23.140.1.2.3"], ValidationLevel.OV),
        (["2.23.140.1.1"], ValidationLevel.EV),
        ([], ValidationLevel.DV),
        (["1.3.6.1.4.1.44947.1.1.1"], ValidationLevel.DV),  # a CA's own policy only
        (["2.23.140.1.2.1", "2.23.140.1.1"], ValidationLevel.EV),  # the highest asserted
    ],
)
def test_the_level_comes_from_the_ca_browser_forum_policy_oids(oids, level):
    # R29
    extensions = (
        [(x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier(o), None) for o in oids]), False)]
        if oids else []
    )
    issued = certs.issue("level.example.com", level=None, extensions=extensions)
    assert validation_level_of(issued.cert) == level


@pytest.mark.parametrize("brand", [b for b in certs.BRAND_ISSUERS])
def test_the_brand_comes_from_the_issuers_organization(brand):
    # R29: case-insensitive "contains"
    assert facts(certs.issue("b.example.com", brand=brand)).brand == Brand(brand)


@pytest.mark.parametrize(
    ("organization", "brand"),
    [
        ("TRUSTASIA TECHNOLOGIES, INC.", Brand.TRUSTASIA),
        ("dnspod, inc.", Brand.DNSPOD),
        ("Let's Encrypt", Brand.OTHER),
        (None, Brand.OTHER),
        ("", Brand.OTHER),
    ],
)
def test_brand_words_match_case_insensitively_and_anything_else_is_other(organization, brand):
    assert TABLE.brand_of(organization) == brand


def test_configured_brand_words_come_before_the_built_in_ones():
    # R29: the table can be extended by configuration
    table = BrandTable.with_configured("Comodo=SECTIGO; RapidSSL = geotrust ;DigiCert Global G2=GEOTRUST")
    assert table.brand_of("COMODO CA Limited") == Brand.SECTIGO
    assert table.brand_of("RapidSSL TLS RSA CA G1") == Brand.GEOTRUST
    assert table.brand_of("DigiCert Global G2 TLS RSA SHA256 2020 CA1") == Brand.GEOTRUST
    assert table.brand_of("DigiCert Inc") == Brand.DIGICERT


@pytest.mark.parametrize(
    ("text", "says"),
    [("Comodo", "word=BRAND"), ("=SECTIGO", "word=BRAND"), ("Comodo=ACME", "'ACME' is not one of")],
)
def test_a_bad_brand_configuration_says_which_entry_is_wrong(text, says):
    with pytest.raises(ValueError, match=says):
        BrandTable.with_configured(text)


def test_the_organization_is_the_subjects_o():
    # R29
    issued = certs.issue("org.example.com", org="Example Ltd", brand="DIGICERT", level="OV")
    read = facts(issued)
    assert (read.brand, read.validation_level, read.organization_name) == (Brand.DIGICERT, ValidationLevel.OV, "Example Ltd")


@pytest.mark.parametrize("organization", ["Evil\u202eCorp", "Line\nBreak Ltd", "x" * 201])
def test_an_organization_with_control_characters_or_too_long_is_none(organization):
    issued = certs.issue("odd.example.com", org=organization, brand="DIGICERT", level="OV")
    assert facts(issued).organization_name is None


def test_an_untrusted_certificate_is_other_dv_without_organization_whatever_it_says():
    # R29: only a trusted chain makes the readings evidence
    issued = certs.issue("www.google.com", org="Google LLC", brand="DIGICERT", level="EV")
    read = facts(issued, trusted=False)
    assert (read.brand, read.validation_level, read.organization_name) == (Brand.OTHER, ValidationLevel.DV, None)
