"""Automatic DNS validation in the schema: an account's DNS providers (R18, R20, R26)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain import auto_validation, webroots
from schema.types import UserError


@strawberry.type(description="A DNS zone the service updates itself (RFC 2136 with TSIG) for DNS_AUTO (R20). "
                 "The TSIG secret is never returned.")
class DnsProvider:
    id: strawberry.ID
    zone: str
    server: str
    port: int
    tsig_key_name: str
    tsig_algorithm: str
    created_at: datetime | None
    last_checked_at: datetime | None
    last_check_succeeded: bool = strawberry.field(
        description="The last probe or placement through this server succeeded; R18 counts only such a provider."
    )
    last_check_error: str | None

    @classmethod
    def from_domain(cls, p: auto_validation.DnsProvider) -> DnsProvider:
        return cls(
            id=strawberry.ID(p.id), zone=p.zone, server=p.server, port=p.port, tsig_key_name=p.key_name,
            tsig_algorithm=p.algorithm, created_at=p.created_at, last_checked_at=p.checked_at,
            last_check_succeeded=p.check_ok, last_check_error=p.check_error,
        )


@strawberry.input(description="owner role (R26). Saved only once a probe TXT record placed through the server is "
                  "seen through the service's resolver, then deleted.")
class ConfigureDnsProviderInput:
    zone: str = strawberry.field(description="The zone the server is primary for: a registrable domain or below.")
    server: str = strawberry.field(description="The primary server's public IP address or host name.")
    tsig_key_name: str
    tsig_algorithm: str = strawberry.field(description="hmac-sha224, hmac-sha256, hmac-sha384 or hmac-sha512.")
    tsig_secret: str = strawberry.field(description="The key's secret, base64; stored sealed, never returned.")
    port: int = 53

    def to_domain(self) -> auto_validation.DnsProviderInput:
        return auto_validation.DnsProviderInput(
            zone=self.zone, server=self.server, port=self.port, tsig_key_name=self.tsig_key_name,
            tsig_algorithm=self.tsig_algorithm, tsig_secret=self.tsig_secret,
        )


@strawberry.type
class DnsProviderPayload:
    dns_provider: DnsProvider | None
    user_errors: list[UserError]


@strawberry.type
class RemoveDnsProviderPayload:
    removed_id: strawberry.ID | None
    user_errors: list[UserError]


@strawberry.type(description="A directory this service writes FILE_AUTO's challenge file in (R20), below the "
                 "operator's base directory for the account; the domain's web server serves it.")
class Webroot:
    id: strawberry.ID
    domain: str
    directory: str = strawberry.field(description="Relative to the account's area of the webroot base directory.")
    created_at: datetime | None
    last_checked_at: datetime | None
    last_check_succeeded: bool
    last_check_error: str | None

    @classmethod
    def from_domain(cls, w: webroots.Webroot) -> Webroot:
        return cls(id=strawberry.ID(w.id), domain=w.domain, directory=w.directory, created_at=w.created_at,
                   last_checked_at=w.checked_at, last_check_succeeded=w.check_ok, last_check_error=w.check_error)


@strawberry.input(description="owner role (R26). Saved only once a probe file written there is what "
                  "http://<domain>/.well-known/pki-validation/fileauth.txt serves, then removed.")
class ConfigureWebrootInput:
    domain: str = strawberry.field(description="One host name (no wildcard: a wildcard is validated by DNS).")
    directory: str | None = strawberry.field(
        default=None, description="Relative path below the account's area; by default the domain."
    )


@strawberry.type
class WebrootPayload:
    webroot: Webroot | None
    user_errors: list[UserError]


@strawberry.type
class RemoveWebrootPayload:
    removed_id: strawberry.ID | None
    user_errors: list[UserError]
