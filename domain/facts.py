"""R29: the facts a certificate shows about itself (validation level, organization,
brand), read only when its chain is trusted (R27); an untrusted import is brand OTHER,
level DV, with no organization, whatever it says.

What a certificate cannot show (free or paid, years purchased, automatic validation) are
order facts: an import starts paid, 1 year, no automatic validation, and only an
operator changes them (`setOrderFacts`).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from domain.model import Brand, ValidationLevel
from domain.text import has_control_characters

# CA/Browser Forum certificate policy OIDs (Baseline Requirements 7.1.6.1, EV Guidelines).
LEVEL_POLICIES: dict[str, ValidationLevel] = {
    "2.23.140.1.2.1": ValidationLevel.DV,
    "2.23.140.1.2.2": ValidationLevel.OV,
    "2.23.140.1.2.3": ValidationLevel.OV,  # individual validated
    "2.23.140.1.1": ValidationLevel.EV,
}
POLICY_OF_LEVEL: dict[ValidationLevel, str] = {
    ValidationLevel.DV: "2.23.140.1.2.1",
    ValidationLevel.OV: "2.23.140.1.2.2",
    ValidationLevel.EV: "2.23.140.1.1",
}
_RANK = {ValidationLevel.DV: 0, ValidationLevel.OV: 1, ValidationLevel.EV: 2}

# The issuer organization each brand is recognised by (case-insensitive "contains"), in
# the order they are tried; the built-in CA names its intermediates with these words.
BRAND_WORDS: tuple[tuple[str, Brand], ...] = (
    ("TrustAsia", Brand.TRUSTASIA),
    ("DNSPod", Brand.DNSPOD),
    ("WoTrus", Brand.WOTRUS),
    ("DigiCert", Brand.DIGICERT),
    ("GeoTrust", Brand.GEOTRUST),
    ("GlobalSign", Brand.GLOBALSIGN),
    ("Sectigo", Brand.SECTIGO),
)
MAX_BRAND_ENTRIES = 100


@dataclass(frozen=True)
class BrandTable:
    """Issuer organization -> brand. Entries added by configuration come first, so they can
    also refine the built-in words (`Comodo=SECTIGO`, `RapidSSL=GEOTRUST`)."""

    entries: tuple[tuple[str, Brand], ...] = BRAND_WORDS

    def brand_of(self, issuer_organization: str | None) -> Brand:
        text = (issuer_organization or "").casefold()
        if text:
            for word, brand in self.entries:
                if word.casefold() in text:
                    return brand
        return Brand.OTHER

    @classmethod
    def with_configured(cls, text: str) -> BrandTable:
        """`word=BRAND;word=BRAND` (semicolons: organization names hold commas) before the
        built-in words. Raises ValueError naming the entry at fault."""
        extra: list[tuple[str, Brand]] = []
        for part in (p.strip() for p in text.split(";")):
            if not part:
                continue
            word, sep, brand = part.rpartition("=")
            word = word.strip()
            if not sep or not word:
                raise ValueError(f"brand entry {part!r} is not word=BRAND")
            try:
                extra.append((word, Brand(brand.strip().upper())))
            except ValueError:
                names = ", ".join(b.value for b in Brand)
                raise ValueError(f"brand entry {part!r}: {brand.strip()!r} is not one of {names}") from None
        if len(extra) > MAX_BRAND_ENTRIES:
            raise ValueError(f"at most {MAX_BRAND_ENTRIES} brand entries")
        return cls(tuple(extra) + BRAND_WORDS)


@dataclass(frozen=True)
class CertificateFacts:
    brand: Brand
    validation_level: ValidationLevel
    organization_name: str | None


UNTRUSTED_FACTS = CertificateFacts(Brand.OTHER, ValidationLevel.DV, None)


def first_attribute(name: x509.Name, oid) -> str | None:
    attrs = name.get_attributes_for_oid(oid)
    if not attrs:
        return None
    value = attrs[0].value
    text = value if isinstance(value, str) else value.decode("utf-8", "replace")
    return text.strip() or None


MAX_ORGANIZATION = 200


def organization_of(name: x509.Name) -> str | None:
    """The subject's O as the service uses it (on file for R13, in issued certificates): one
    with control characters or bidirectional overrides, or longer than a name, is none."""
    text = first_attribute(name, NameOID.ORGANIZATION_NAME)
    if text is None or len(text) > MAX_ORGANIZATION or has_control_characters(text):
        return None
    return text


def validation_level_of(cert: x509.Certificate) -> ValidationLevel:
    """The highest CA/B Forum policy the certificate asserts; none: DV."""
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except (x509.ExtensionNotFound, ValueError):
        return ValidationLevel.DV
    levels = [LEVEL_POLICIES[p.policy_identifier.dotted_string] for p in policies
              if p.policy_identifier.dotted_string in LEVEL_POLICIES]
    return max(levels, key=_RANK.__getitem__, default=ValidationLevel.DV)


def read_facts(leaf: x509.Certificate, *, chain_trusted: bool, brands: BrandTable) -> CertificateFacts:
    """R29: level from the policy OIDs, organization from the subject's O, brand from the
    issuer's O; evidence only when the chain is trusted."""
    if not chain_trusted:
        return UNTRUSTED_FACTS
    return CertificateFacts(
        brand=brands.brand_of(first_attribute(leaf.issuer, NameOID.ORGANIZATION_NAME)),
        validation_level=validation_level_of(leaf),
        organization_name=organization_of(leaf.subject),
    )
