"""The business core: certificate and reissue rules (DOMAIN.md), with no framework or I/O.

Import direction: schema (GraphQL) -> resolvers -> domain.services -> domain.ports,
and adapters implement the ports. Nothing in this package imports pymongo, starlette,
strawberry, httpx or dns.
"""
