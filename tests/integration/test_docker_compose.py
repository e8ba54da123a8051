"""docker-compose.yml, Dockerfile and .dockerignore, checked by reading them.

No Docker engine runs where this suite runs (docs/operations.md "The embedded database"), so
these files cannot be built or started here; these tests hold them to the operational
contract instead: a real MongoDB as a single-node replica set, an api that waits for it,
only documented environment variables, nothing published beyond loopback, and an image
that installs the service and runs `certreissue serve` as a non-root user.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
README = REPO / "README.md"

LOOPBACK = "127.0.0.1"


# --- reading the files ---------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose.get("services") or {}


@pytest.fixture(scope="module")
def mongo(services) -> dict:
    assert "mongo" in services, "docker-compose.yml has no `mongo` service"
    return services["mongo"]


@pytest.fixture(scope="module")
def api(services) -> dict:
    assert "api" in services, "docker-compose.yml has no `api` service"
    return services["api"]


def as_words(value: str | list | None) -> list[str]:
    """A compose `command`/`test` or a Dockerfile CMD, in string or list form, as words."""
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


def healthcheck_text(service: dict) -> str:
    test = (service.get("healthcheck") or {}).get("test")
    return " ".join(as_words(test))


def environment(service: dict) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, dict):
        return {k: (None if v is None else str(v)) for k, v in env.items()}
    pairs = (item.split("=", 1) for item in env)
    return {p[0]: (p[1] if len(p) > 1 else None) for p in pairs}


def documented_variables() -> set[str]:
    """Variable names from the first column of the README's "Configuration" table."""
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`([A-Z][A-Z0-9_]*)`", "\n".join(
        line.split("|")[1] for line in section.splitlines() if line.startswith("| `")
    )))


def published_ports(service: dict) -> list[tuple[str | None, str]]:
    """(host ip or None, the whole entry) for each published port, short or long syntax."""
    result = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            result.append((port.get("host_ip"), json.dumps(port)))
            continue
        text = str(port)
        parts = text.rsplit(":", 2)
        result.append((parts[0] if len(parts) == 3 else None, text))
    return result


def named_volume_sources(service: dict) -> list[str]:
    names = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type", "volume") == "volume" and volume.get("source"):
                names.append(volume["source"])
            continue
        parts = str(volume).split(":")
        if len(parts) >= 2 and not parts[0].startswith((".", "/", "~", "$")):
            names.append(parts[0])
    return names


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, with continuation lines joined, comments dropped."""
    logical, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    if current:
        logical.append(current)
    instructions = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def instruction_words(args: str) -> list[str]:
    """Exec form (JSON array) or shell form of RUN/CMD/ENTRYPOINT/COPY arguments."""
    if args.startswith("["):
        return [str(w) for w in json.loads(args)]
    return shlex.split(args)


def copy_sources() -> list[str]:
    sources = []
    for keyword, args in dockerfile_instructions():
        if keyword not in ("COPY", "ADD"):
            continue
        words = instruction_words(args)
        flags = [w for w in words if w.startswith("--")]
        if any(f.startswith("--from") for f in flags):
            continue  # copies from another stage or image, not from the repository
        paths = [w for w in words if not w.startswith("--")]
        sources.extend(paths[:-1])
    return sources


def dockerignore_patterns() -> list[str]:
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def ignored_by_dockerignore(path: str, patterns: list[str]) -> bool:
    """Docker's rule, close enough here: the last matching pattern wins, `!` re-includes."""
    path = path.strip("/").removeprefix("./")
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/").removeprefix("./")
        candidates = {pattern, pattern.removeprefix("**/")}
        if any(fnmatch.fnmatch(path, p) for p in candidates):
            ignored = not negate
    return ignored


# --- docker-compose.yml: mongo ---------------------------------------------------------


def test_compose_defines_a_mongo_and_an_api_service(services):
    assert {"mongo", "api"} <= set(services), f"services are {sorted(services)}"


def test_mongo_is_mongodb_8(mongo):
    assert str(mongo.get("image", "")).startswith("mongo:8"), mongo.get("image")


def test_mongo_starts_as_a_replica_set_listening_on_all_interfaces(mongo):
    words = as_words(mongo.get("command"))
    assert "--replSet" in words, words
    assert words[words.index("--replSet") + 1] == "rs0", words
    assert "--bind_ip_all" in words, words


def test_mongo_healthcheck_initiates_the_replica_set_and_waits_for_a_primary(mongo):
    text = healthcheck_text(mongo)
    assert "mongosh" in text, text
    assert "rs.status" in text, text
    assert "rs.initiate" in text, text
    assert re.search(r"_id:\s*['\"]rs0['\"]", text), f"initiates no replica set named rs0: {text}"
    assert "isWritablePrimary" in text or "PRIMARY" in text, "healthy before a primary is elected"


def test_the_replica_set_member_is_the_host_the_api_connects_to(mongo, api):
    members = re.findall(r"host:\s*['\"]([^'\"]+)['\"]", healthcheck_text(mongo))
    assert members, "rs.initiate names no member host"
    uri = urlsplit(environment(api)["MONGODB_URI"] or "")
    assert members == [uri.netloc], f"member {members} vs api's {uri.netloc}"


# --- docker-compose.yml: api -----------------------------------------------------------


def test_api_is_built_from_the_repository_dockerfile(api):
    build = api.get("build")
    assert build is not None, "api has no `build`"
    if isinstance(build, str):
        build = {"context": build}
    assert build.get("context") in (".", "./"), build
    dockerfile = REPO / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
    assert dockerfile.is_file(), f"{dockerfile} does not exist"


def test_api_waits_for_a_healthy_mongo(api):
    depends_on = api.get("depends_on")
    assert isinstance(depends_on, dict), f"depends_on must use the long form: {depends_on!r}"
    assert (depends_on.get("mongo") or {}).get("condition") == "service_healthy", depends_on


def test_api_connects_to_the_mongo_replica_set(api):
    uri = environment(api).get("MONGODB_URI")
    assert uri, "api sets no MONGODB_URI (it would start an embedded database instead)"
    parts = urlsplit(uri)
    assert parts.scheme == "mongodb", uri
    assert parts.hostname == "mongo", uri
    assert parse_qs(parts.query).get("replicaSet") == ["rs0"], uri


def test_api_keeps_its_data_dir_on_a_volume(api):
    data_dir = environment(api).get("CERTS_DATA_DIR")
    assert data_dir, "api sets no CERTS_DATA_DIR"
    targets = []
    for volume in api.get("volumes") or []:
        targets.append(volume.get("target") if isinstance(volume, dict) else str(volume).split(":")[1])
    assert data_dir in targets, f"{data_dir} is not a mounted volume: {targets}"


def test_api_sets_only_documented_environment_variables(api):
    documented = documented_variables()
    assert "MONGODB_URI" in documented, "could not read the README's configuration table"
    undocumented = set(environment(api)) - documented
    assert not undocumented, f"not in the README's configuration table: {sorted(undocumented)}"


def test_every_setting_the_service_reads_is_documented():
    """Each variable certreissue/settings.py (or the embedded database) reads is in the table."""
    read = set()
    for source in ("certreissue/settings.py", "adapters/embedded.py", "adapters/ferretdb.py", "adapters/secantus.py"):
        read |= set(re.findall(r'"((?:CERTS|MONGODB)_[A-Z0-9_]+)"', (REPO / source).read_text()))
    missing = read - documented_variables()
    assert read and not missing, f"read but not in the README's configuration table: {sorted(missing)}"


def test_api_serves_on_all_interfaces_of_its_container(api):
    words = as_words(api.get("command"))
    assert words[:2] == ["certreissue", "serve"], words
    assert words[words.index("--host") + 1] == "0.0.0.0", words
    assert words[words.index("--port") + 1] == "8000", words


def test_api_healthcheck_asks_readyz_with_python(api):
    text = healthcheck_text(api)
    assert "/readyz" in text, text
    assert "urllib" in text, f"curl may be absent from python:3.11-slim: {text}"


# --- docker-compose.yml: the whole file ------------------------------------------------


def test_published_ports_are_bound_to_loopback_only(services):
    for name, service in services.items():
        for host_ip, entry in published_ports(service):
            assert host_ip == LOOPBACK, f"{name} publishes {entry} beyond {LOOPBACK}"


def test_the_expected_ports_are_published(mongo, api):
    assert any(e.endswith(":27017") for _, e in published_ports(mongo)), mongo.get("ports")
    assert any(e.endswith(":8000") for _, e in published_ports(api)), api.get("ports")


def test_every_named_volume_is_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        used = named_volume_sources(service)
        undeclared = set(used) - declared
        assert not undeclared, f"{name} uses undeclared volumes {sorted(undeclared)}"
    assert named_volume_sources(services["mongo"]), "mongo keeps its data on no named volume"


# --- Dockerfile and .dockerignore -----------------------------------------------------


def test_dockerfile_builds_on_python_3_11():
    froms = [args for keyword, args in dockerfile_instructions() if keyword == "FROM"]
    assert froms, "Dockerfile has no FROM"
    image = [w for w in froms[-1].split() if not w.startswith("--")][0]  # FROM [--platform=..] image [AS name]
    assert image.startswith("python:3.11"), froms


def test_dockerfile_runs_as_a_user_that_is_not_root():
    users = [args for keyword, args in dockerfile_instructions() if keyword == "USER"]
    assert users, "Dockerfile has no USER: the service would run as root"
    user, _, group = users[-1].partition(":")
    assert user not in ("root", "0"), users[-1]
    assert group not in ("root", "0"), users[-1]


def test_every_path_the_dockerfile_copies_exists_in_the_repository():
    sources = copy_sources()
    assert sources, "Dockerfile copies nothing"
    missing = [s for s in sources if not (REPO / s).exists()]
    assert not missing, f"COPY sources missing from the repository: {missing}"


def test_dockerfile_copies_everything_pip_install_needs():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    copied = {s.strip("/").removeprefix("./") for s in copy_sources()}
    needed = {"pyproject.toml"}
    readme = pyproject["project"].get("readme")
    if isinstance(readme, str):
        needed.add(readme)
    includes = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    needed |= {pattern.rstrip("*") for pattern in includes}
    assert not needed - copied, f"not copied into the image: {sorted(needed - copied)}"
    runs = " ".join(args for keyword, args in dockerfile_instructions() if keyword == "RUN")
    assert re.search(r"pip install --no-cache-dir \.(\s|$)", runs), runs


def test_dockerfile_runs_certreissue_serve_by_default():
    instructions = dockerfile_instructions()
    entrypoint = [args for keyword, args in instructions if keyword == "ENTRYPOINT"]
    cmd = [args for keyword, args in instructions if keyword == "CMD"]
    words = (instruction_words(entrypoint[-1]) if entrypoint else []) + (instruction_words(cmd[-1]) if cmd else [])
    assert words[:2] == ["certreissue", "serve"], words
    assert "0.0.0.0" in words, f"would listen on the container's loopback only: {words}"


def test_dockerfile_exposes_the_api_port():
    exposed = " ".join(args for keyword, args in dockerfile_instructions() if keyword == "EXPOSE").split()
    assert "8000" in exposed or "8000/tcp" in exposed, exposed


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    patterns = dockerignore_patterns()
    for path in (".venv", ".tools", "var", ".git", ".pytest_cache", ".hypothesis"):
        assert ignored_by_dockerignore(path, patterns), f".dockerignore does not exclude {path}"


def test_dockerignore_keeps_what_the_dockerfile_copies():
    patterns = dockerignore_patterns()
    excluded = [s for s in copy_sources() if ignored_by_dockerignore(s, patterns)]
    assert not excluded, f".dockerignore excludes COPY sources: {excluded}"
