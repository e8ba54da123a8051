"""The project talks to MongoDB through PyMongo's AsyncMongoClient only: Motor (deprecated
2026-05-14) is imported nowhere and is no dependency, not even of the bench."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICE_PACKAGES = ("domain", "adapters", "schema", "resolvers", "certreissue")
ALL_CODE = (*SERVICE_PACKAGES, "bench", "scripts", "tests")


def imported_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def test_no_module_imports_motor_and_the_service_never_imports_the_bench():
    for package in ALL_CODE:
        modules = imported_modules(package)
        assert "motor" not in modules, modules.get("motor")
        if package in SERVICE_PACKAGES:
            assert "bench" not in modules, modules.get("bench")
    assert "pymongo" in imported_modules("adapters")  # the driver lives in the adapters


def test_the_domain_does_no_io():
    io = {"pymongo", "bson", "httpx", "dns", "starlette", "strawberry", "uvicorn", "socket", "subprocess"}
    modules = imported_modules("domain")
    assert not io & set(modules), {m: modules[m] for m in io & set(modules)}


def test_motor_is_no_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    every = [*project["dependencies"], *(d for deps in project["optional-dependencies"].values() for d in deps)]
    assert not [d for d in every if d.lower().replace("_", "-").startswith("motor")]


def test_secantusdb_is_a_pinned_dependency_run_as_a_process_never_imported():
    """SecantusDB is GPL-2.0-only: the project starts its console script (adapters/secantus.py)
    and speaks the wire protocol to it; no module of ours imports it or its WiredTiger binding."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "secantusdb==0.7.0b3" in project["dependencies"]
    for package in ALL_CODE:
        modules = imported_modules(package)
        for gpl in ("secantus", "wiredtiger"):
            assert gpl not in modules, modules.get(gpl)
