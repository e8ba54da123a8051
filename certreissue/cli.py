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
from domain.times import format_time
from domain.tokens import check_account_name, check_token_request, parse_lifetime


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
    from certreissue.server import uvicorn_options

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
            log_config=None, access_log=False, **uvicorn_options(settings),
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
        if account is not None and not await services.accounts.exists(account):
            return None
        now = services.clock.now()
        return await services.tokens.create(account, role, now=now, expires_at=now + lifetime)

    with database_uri(settings) as uri:
        created = asyncio.run(_with_services(settings, uri, work))
    if created is None:
        _say(f"no account {account!r}: create it first with `certreissue account create {account}` "
             "(see `certreissue account list`)")
        return 2
    token, record = created
    print(token)
    _say(f"created {record.kind} token {record.token_id} ({record.role.value}"
         f"{', account ' + record.account if record.account else ''}), expires {format_time(record.expires_at)}")
    return 0


def _token_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(services):
        return await services.tokens.list(account=args.account, staff=args.staff)

    with database_uri(settings) as uri:
        records = asyncio.run(_with_services(settings, uri, work))
    now = datetime.now(UTC)
    print(f"{'ID':<21} {'KIND':<8} {'ACCOUNT':<20} {'ROLE':<9} {'CREATED':<24} {'EXPIRES':<24} {'LAST USED':<24} STATE")
    for r in records:
        state = "revoked" if r.revoked_at else ("expired" if r.expires_at <= now else "active")
        print(f"{r.token_id:<21} {r.kind:<8} {(r.account or '-'):<20} {r.role.value:<9} {_when(r.created_at):<24} "
              f"{_when(r.expires_at):<24} {_when(r.last_used_at):<24} {state}")
    return 0


def _when(moment) -> str:
    return format_time(moment) if moment else "-"


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


def _account_create(args: argparse.Namespace, settings: Settings) -> int:
    try:
        name = check_account_name(args.name)
    except InvalidInput as exc:
        _say(exc.message)
        return 2

    async def work(services):
        return await services.accounts.create(name, services.clock.now())

    with database_uri(settings) as uri:
        created = asyncio.run(_with_services(settings, uri, work))
    print(name)
    _say(f"account {name!r} " + ("created" if created else "exists already"))
    return 0


def _account_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(services):
        return await services.accounts.list()

    with database_uri(settings) as uri:
        accounts = asyncio.run(_with_services(settings, uri, work))
    print(f"{'ACCOUNT':<40} CREATED")
    for name, created in accounts:
        print(f"{name:<40} {_when(created)}")
    return 0


def schema_sdl() -> str:
    """The served schema in SDL, as `schema.graphql` at the repository root holds it."""
    from strawberry.printer import print_schema

    from schema import build_schema

    return print_schema(build_schema()) + "\n"


def _schema(args: argparse.Namespace, settings: Settings) -> int:
    sys.stdout.write(schema_sdl())
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from certreissue.demo import load_demo, print_demo_tokens

    async def work(services):
        return await load_demo(services, reset=args.reset)

    with database_uri(settings) as uri:
        tokens = asyncio.run(_with_services(settings, uri, work))
    print_demo_tokens(tokens, host=args.host, port=args.port)
    return 0


class _Help(argparse.RawDescriptionHelpFormatter):
    """Every option with a default says it; descriptions keep their line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and not action.required and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="certreissue", description="SSL/TLS certificate reissue service: the GraphQL API and its tools.",
        epilog="Settings come from the environment (MONGODB_URI, CERTS_*): see docs/operations.md.",
        formatter_class=_Help,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(parent, name: str, help: str, description: str | None = None):
        return parent.add_parser(name, help=help, description=description or help, formatter_class=_Help)

    serve = command(
        sub, "serve", "serve the GraphQL API",
        "Serves POST/GET /graphql (GraphiQL in a browser), /healthz and /readyz. With no MONGODB_URI it starts "
        "the embedded database for CERTS_DATA_DIR and stops it on exit.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                       help="lowest level logged (JSON lines on stderr)")
    serve.set_defaults(run=_serve)

    account = command(sub, "account", "accounts that tokens can be created for")
    account_sub = account.add_subparsers(dest="account_command", required=True, metavar="ACTION")
    account_create = command(account_sub, "create", "register an account (nothing happens if it exists)")
    account_create.add_argument("name", help="the account's name, 1-100 printable characters")
    account_create.set_defaults(run=_account_create)
    command(account_sub, "list", "list the accounts").set_defaults(run=_account_list)

    token = command(sub, "token", "API tokens (R26): create, list, revoke")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_sub.add_parser(
        "create",
        help="create a token and print it alone on stdout",
        description="An account token (--account NAME, role owner or viewer; the account must exist) or a "
        "staff token (--staff, role reviewer or operator). Only a keyed hash of it is stored.",
        formatter_class=_Help,
    )
    whose = create.add_mutually_exclusive_group(required=True)
    whose.add_argument("--account", help="the account the token belongs to (roles owner, viewer)")
    whose.add_argument("--staff", action="store_true", help="a staff token: no account (roles reviewer, operator)")
    create.add_argument("--role", required=True, choices=[r.value for r in Role], help="the token's one role")
    create.add_argument("--expires-in", default="90d", metavar="LIFETIME",
                        help="how long it works: e.g. 90d, 12h, 30m, 2w")
    create.set_defaults(run=_token_create)
    listing = command(token_sub, "list", "list tokens: id, kind, account, role, created, expires, last used "
                      "(never the tokens themselves)")
    which = listing.add_mutually_exclusive_group()
    which.add_argument("--account", help="only this account's tokens")
    which.add_argument("--staff", action="store_true", help="only staff tokens")
    listing.set_defaults(run=_token_list)
    revoke = command(token_sub, "revoke", "revoke a token by its ID (from `token list`); every API process "
                     "refuses it within CERTS_TOKEN_CACHE_SECONDS")
    revoke.add_argument("id", help="the token's ID, tok_...")
    revoke.set_defaults(run=_token_revoke)

    schema = command(
        sub, "schema", "print the GraphQL schema (SDL) the service serves",
        "Prints the schema in SDL; schema.graphql at the repository root is this output.",
    )
    schema.set_defaults(run=_schema)

    demo = command(
        sub, "demo", "load demo accounts, tokens and certificates",
        "Loads accounts demo and demo-other with certificates of all four flows (once; a second run keeps "
        "them) and prints fresh tokens: owner and viewer of demo, staff reviewer and operator, owner of "
        "demo-other.",
    )
    demo.add_argument("--reset", action="store_true",
                      help="first delete the demo accounts' certificates, reissues and tokens, then load them anew")
    demo.add_argument("--host", default="127.0.0.1", help="where the API is served (for the printed URL)")
    demo.add_argument("--port", type=int, default=8000, help="where the API is served (for the printed URL)")
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
