"""`python -m bench.server --port N`: the bench app (the service plus its floor routes) under
uvicorn with httptools and uvloop, one worker, configured from the environment like
`certreissue serve` (MONGODB_URI, CERTS_*)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    import uvicorn

    from bench.app import create_bench_app
    from certreissue import logs
    from certreissue.settings import Settings

    settings = Settings.from_env()
    if not settings.mongodb_uri:
        print("bench.server: MONGODB_URI must be set", file=sys.stderr)
        return 2
    logs.configure(args.log_level)
    uvicorn.run(
        create_bench_app(settings, settings.mongodb_uri),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_level=args.log_level,
        log_config=None,
        access_log=False,
        backlog=1024,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
