"""The built-in CA issues under one intermediate per brand with the policy OID of the
level, so that R29 reads a reissued certificate's brand and level back (and R27 trusts
it); it never signs past its own validity (R30)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from adapters.authority import BuiltInAuthority
from domain import x509 as pem
from domain.facts import BrandTable, read_facts
from domain.model import Brand, ValidationLevel
from domain.trust import verify_chain
from tests import certs

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def authority(tmp_path_factory) -> BuiltInAuthority:
    return BuiltInAuthority(tmp_path_factory.mktemp("ca"))


def sign(authority, brand, level, *, not_after=None, organization=None):
    csr = pem.build_csr(certs.ec_key(), "www.example.com", organization)
    signed = asyncio.run(authority.sign(
        csr, "www.example.com", not_after or NOW + timedelta(days=90), NOW,
        brand=brand, level=level, organization=organization,
    ))
    return pem.parse_certificate_chain(signed.certificate_pem + signed.chain_pem, field=["x"])


@pytest.mark.parametrize("brand", list(Brand))
@pytest.mark.parametrize("level", list(ValidationLevel))
def test_a_certificate_issued_here_keeps_its_brand_and_level(authority, brand, level):
    # R29 + R27
    organization = None if level == ValidationLevel.DV else "Example Ltd"
    parsed = sign(authority, brand, level, organization=organization)
    verdict = verify_chain(parsed.leaf, parsed.intermediates, authority.roots, parsed.domain, NOW)
    assert verdict.trusted, verdict.reason
    facts = read_facts(parsed.leaf, chain_trusted=True, brands=BrandTable())
    assert (facts.brand, facts.validation_level, facts.organization_name) == (brand, level, organization)


def test_the_ca_never_signs_past_its_own_validity(authority):
    # R30: decided before signing; the CA refuses all the same
    too_late = authority.issuer_not_after(Brand.SECTIGO) + timedelta(seconds=1)
    with pytest.raises(ValueError, match="outside the issuing CA's validity"):
        sign(authority, Brand.SECTIGO, ValidationLevel.DV, not_after=too_late)


def test_two_processes_starting_on_one_data_dir_share_one_ca(tmp_path):
    first, second = BuiltInAuthority(tmp_path), BuiltInAuthority(tmp_path)
    assert first.roots == second.roots
    assert first.issuer(Brand.WOTRUS) == second.issuer(Brand.WOTRUS)
