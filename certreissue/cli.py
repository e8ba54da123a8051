"""`certreissue serve | token create | demo` (OPERATIONS.md "Commands")."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator

from datetime import UTC, datetime

from certreissue.settings import Settings
from domain.errors import InvalidInput
from domain.model import Role
from domain.tokens import check_token_request, parse_lifetime


def _say(message: str) -> None:
    print(f"certreissue: {message}", file=sys.stderr)


@contextlib.contextmanager
def database_uri(settings: Settings, *, say=_say) -> Iterator[str]:
    """MONGODB_URI when set; else the embedded database (CERTS_EMBEDDED_DB) for
    CERTS_DATA_DIR: the one already running for that data dir, or one started now and
    stopped when the block ends."""
    if settings.mongodb_uri:
        yield settings.mongodb_uri
        return
    from adapters.embedded import embedded_database

    embedded = embedded_database(settings.embedded_db, settings.data_dir.resolve())
    running = embedded.running()
    if running:
        yield running
        return
    for other in others_files(embedded):
        say(f"{embedded.title} starts on files of its own; {other.db_dir} holds {other.title}'s: "
            f"set CERTS_EMBEDDED_DB={other.kind} (make run DB={other.kind}) to use them")
    uri = embedded.start()
    say(f"embedded {embedded.title} started at {uri} (data in {settings.data_dir})")
    try:
        yield uri
    finally:
        embedded.stop()


def others_files(embedded) -> list:
    """The other embedded databases whose files are in this data dir, when this one has none
    yet: the data made before a switch of CERTS_EMBEDDED_DB, which this one does not see."""
    from adapters.embedded import EMBEDDED_DATABASES, embedded_database

    def has_files(path) -> bool:
        return path.is_dir() and any(path.iterdir())

    if has_files(embedded.db_dir):
        return []
    others = [embedded_database(kind, embedded.data_dir) for kind in EMBEDDED_DATABASES if kind != embedded.kind]
    return [other for other in others if has_files(other.db_dir)]


def _exit_on_signal(signum, frame):
    raise SystemExit(0)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from certreissue import logs
    from certreissue.app import create_app
    from certreissue.server import http_protocol

    logs.configure(args.log_level)
    # uvicorn re-raises the signal that stopped it once it has shut down; turning SIGTERM
    # into SystemExit lets `database_uri` stop the embedded database on the way out.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    log = logging.getLogger("certreissue")
    with database_uri(settings, say=log.info) as uri:
        app = create_app(settings, uri)
        where = f"http://{args.host}:{args.port}/graphql"
        log.info("serving %s%s", where, " (GraphiQL in a browser)" if settings.graphiql else "")
        uvicorn.run(
            app, host=args.host, port=args.port, log_level=args.log_level, lifespan="on",
            log_config=None, access_log=False, http=http_protocol(settings),
        )
    return 0


async def _with_services(settings: Settings, uri: str, work):
    from certreissue.bootstrap import build_services

    services = build_services(settings, uri)
    try:
        await services.start()
        return await work(services)
    finally:
        await services.close()


def _token_create(args: argparse.Namespace, settings: Settings) -> int:
    try:
        role = Role(args.role)
        account = check_token_request(account=args.account, staff=args.staff, role=role)  # R26
        lifetime = parse_lifetime(args.expires_in)
    except InvalidInput as exc:
        _say(exc.message)
        return 2

    async def work(services):
        now = services.clock.now()
        return await services.tokens.create(account, role, now=now, expires_at=now + lifetime)

    with database_uri(settings) as uri:
        token, record = asyncio.run(_with_services(settings, uri, work))
    print(token)
    _say(f"created {record.kind} token {record.token_id} ({record.role.value}"
         f"{', account ' + record.account if record.account else ''}), expires {record.expires_at.isoformat()}")
    return 0


def _token_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(services):
        return await services.tokens.list(account=args.account, staff=args.staff)

    with database_uri(settings) as uri:
        records = asyncio.run(_with_services(settings, uri, work))
    now = datetime.now(UTC)
    print(f"{'ID':<21} {'KIND':<8} {'ACCOUNT':<20} {'ROLE':<9} {'CREATED':<20} {'EXPIRES':<20} {'LAST USED':<20} STATE")
    for r in records:
        state = "revoked" if r.revoked_at else ("expired" if r.expires_at <= now else "active")
        print(f"{r.token_id:<21} {r.kind:<8} {(r.account or '-'):<20} {r.role.value:<9} {_when(r.created_at):<20} "
              f"{_when(r.expires_at):<20} {_when(r.last_used_at):<20} {state}")
    return 0


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "-"


def _token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    async def work(services):
        return await services.tokens.revoke(args.id.strip(), services.clock.now())

    with database_uri(settings) as uri:
        record = asyncio.run(_with_services(settings, uri, work))
    if record is None:
        _say(f"no token {args.id!r} (see `certreissue token list`)")
        return 1
    _say(f"revoked {record.token_id}; every API process refuses it within "
         f"{settings.token_cache_seconds:g} s (it may have remembered it that long)")
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from certreissue.demo import load_demo, print_demo_tokens

    with database_uri(settings) as uri:
        tokens = asyncio.run(_with_services(settings, uri, load_demo))
    print_demo_tokens(tokens, host=args.host, port=args.port)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="certreissue", description="SSL/TLS certificate reissue service")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the GraphQL API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve.set_defaults(run=_serve)

    token = sub.add_parser("token", help="API tokens (R26): create, list, revoke")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser(
        "create",
        help="create a token and print it alone on stdout",
        description="An account token (--account NAME, role owner or viewer) or a staff token "
        "(--staff, role reviewer or operator). Only a keyed hash of it is stored.",
    )
    whose = create.add_mutually_exclusive_group(required=True)
    whose.add_argument("--account", help="the account the token belongs to (roles owner, viewer)")
    whose.add_argument("--staff", action="store_true", help="a staff token: no account (roles reviewer, operator)")
    create.add_argument("--role", required=True, choices=[r.value for r in Role], help="the token's one role")
    create.add_argument("--expires-in", default="90d", metavar="LIFETIME",
                        help="how long it works: e.g. 90d, 12h, 30m, 2w (default: %(default)s)")
    create.set_defaults(run=_token_create)
    listing = token_sub.add_parser("list", help="list tokens (never the tokens themselves)")
    which = listing.add_mutually_exclusive_group()
    which.add_argument("--account", help="only this account's tokens")
    which.add_argument("--staff", action="store_true", help="only staff tokens")
    listing.set_defaults(run=_token_list)
    revoke = token_sub.add_parser("revoke", help="revoke a token by its ID (from `token list`)")
    revoke.add_argument("id", help="the token's ID, tok_...")
    revoke.set_defaults(run=_token_revoke)

    demo = sub.add_parser("demo", help="load demo accounts, tokens and certificates")
    demo.add_argument("--host", default="127.0.0.1", help="where the API will be served (for the printed URL)")
    demo.add_argument("--port", type=int, default=8000)
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"certreissue: bad environment: {exc}", file=sys.stderr)
        return 2
    return args.run(args, settings)


if __name__ == "__main__":
    raise SystemExit(main())
