"""`certreissue serve | token create | demo` (OPERATIONS.md "Commands")."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator

from certreissue.settings import Settings
from domain.model import Role


def _say(message: str) -> None:
    print(f"certreissue: {message}", file=sys.stderr)


@contextlib.contextmanager
def database_uri(settings: Settings, *, say=_say) -> Iterator[str]:
    """MONGODB_URI when set; else the embedded FerretDB for CERTS_DATA_DIR: the one already
    running for that data dir, or one started now and stopped when the block ends."""
    if settings.mongodb_uri:
        yield settings.mongodb_uri
        return
    from adapters.ferretdb import EmbeddedDatabase

    embedded = EmbeddedDatabase(settings.data_dir.resolve())
    running = embedded.running()
    if running:
        yield running
        return
    uri = embedded.start()
    say(f"embedded FerretDB started at {uri} (data in {settings.data_dir})")
    try:
        yield uri
    finally:
        embedded.stop()


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
    roles = [Role(r) for r in (args.role or ["owner"])]

    async def work(services):
        return await services.tokens.create(args.account, roles, now=services.clock.now())

    with database_uri(settings) as uri:
        token = asyncio.run(_with_services(settings, uri, work))
    print(token)
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

    token = sub.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create a token and print it")
    create.add_argument("--account", required=True, help="the account the token belongs to")
    create.add_argument(
        "--role", action="append", choices=[r.value for r in Role], help="repeat for several roles (default: owner)"
    )
    create.set_defaults(run=_token_create)

    demo = sub.add_parser("demo", help="load demo accounts, tokens and certificates")
    demo.add_argument("--host", default="127.0.0.1", help="where the API will be served (for the printed URL)")
    demo.add_argument("--port", type=int, default=8000)
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "token" and not args.account.strip():
        print("certreissue: --account must not be empty", file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"certreissue: bad environment: {exc}", file=sys.stderr)
        return 2
    return args.run(args, settings)


if __name__ == "__main__":
    raise SystemExit(main())
