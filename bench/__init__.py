"""The measuring harness: `python -m bench` (or `make bench`).

Starts a FerretDB of its own on a temporary directory, loads a generated data set through
the service's own code paths, serves the service with uvicorn (httptools + uvloop) next to
bare Starlette "floor" routes doing the same reads (bench.app), drives both from a second
process on loopback (bench.loadgen), and writes docs/performance.md. Nothing here is
imported by the service.
"""
