"""Automatic file validation (R20 FILE_AUTO): an account's webroots, the directories from
which its web servers serve its domains, where the service writes
`/.well-known/pki-validation/fileauth.txt` itself and removes it afterwards.

Confinement: an account never names a directory of the service's host. The operator sets a
base directory (CERTS_WEBROOTS_DIR); an account's webroots are only below
`<base>/<account>/`, named by a relative path of plain components (no `..`, no absolute
path, no hidden component), and the files are written without following any symbolic link
below the base, so no account can write into another's webroot or anywhere else.

Trust: a webroot is saved only after its check: a probe written there is fetched over HTTP
from the domain as the world would (R21's file check), then removed. Faults: every file is
written down before it is written, and removed when its reissue ends, by the sweep after a
fault, as DNS records are (domain.auto_validation)."""

from __future__ import annotations

import logging
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from domain.auto_validation import PROBE_GRACE
from domain.certificates import require_account, require_role
from domain.errors import ErrorCode, InvalidInput, NotFound
from domain.hostnames import normalize_hostname, primary_domain
from domain.model import Caller, Role
from domain.ports import Clock, DomainChecker
from domain.reissues import FILE_CHALLENGE_PATH
from domain.text import shown

log = logging.getLogger("certreissue.webroots")

_COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MAX_COMPONENTS = 8
ACCOUNT_COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True)
class Webroot:
    id: str
    account: str
    domain: str
    directory: str  # relative to <base>/<account>/
    created_at: datetime | None = None
    checked_at: datetime | None = None
    check_ok: bool = False
    check_error: str | None = None


@dataclass(frozen=True)
class PlacedFile:
    """A challenge file the service writes (or may have written): written down before."""

    id: str
    account: str
    directory: str
    value: str
    created_at: datetime | None = None
    reissue_id: str | None = None  # None: a webroot's probe
    placed: bool = False
    path: str = FILE_CHALLENGE_PATH  # an ACME CA's challenge names its own


class WebrootError(Exception):
    """The file could not be written or removed; `message` is for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WebrootFiles(ABC):
    """The files under `<base>/<account>/<directory>`; never follows a symbolic link there."""

    @abstractmethod
    async def prepare(self, account: str, directory: str) -> list:
        """Creates the directory (and `.well-known/pki-validation/` in it) if missing; returns
        the directories it made, for `discard`. A refusal here leaves none of them behind."""

    @abstractmethod
    async def discard(self, account: str, created: list) -> None:
        """Removes the directories `prepare` made (as returned), those still empty only; never
        follows a symbolic link, never fails."""

    @abstractmethod
    async def write(self, account: str, directory: str, path: str, content: str) -> None: ...

    @abstractmethod
    async def read(self, account: str, directory: str, path: str) -> str | None: ...

    @abstractmethod
    async def remove(self, account: str, directory: str, path: str, expected: str) -> None:
        """Removes the file if it still holds `expected` (a newer one is left alone)."""


class WebrootStore(ABC):
    @abstractmethod
    def new_id(self) -> str: ...

    @abstractmethod
    async def save(self, webroot: Webroot) -> Webroot: ...

    @abstractmethod
    async def list(self, account: str) -> list[Webroot]: ...

    @abstractmethod
    async def remove(self, account: str, webroot_id: str) -> bool: ...

    @abstractmethod
    async def record_check(self, webroot_id: str, at: datetime, ok: bool, error: str | None) -> None: ...


class PlacedFileStore(ABC):
    @abstractmethod
    async def save(self, placed: PlacedFile) -> None: ...

    @abstractmethod
    async def mark_placed(self, placed_id: str) -> None: ...

    @abstractmethod
    async def get(self, placed_id: str) -> PlacedFile | None: ...

    @abstractmethod
    async def delete(self, placed_id: str) -> None: ...

    @abstractmethod
    async def all(self, limit: int = 500) -> list[PlacedFile]: ...


# -- the input's rules (pure) ---------------------------------------------------------------


def check_directory(directory: str | None, domain: str) -> str:
    """The webroot's path below the account's area: relative, plain components only."""
    text = domain if directory is None or not directory.strip() else directory.strip()
    field = ["input", "directory"]
    if text.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", text):
        raise InvalidInput(f"directory {shown(text)} must be relative to this account's webroot area, "
                           "not an absolute path", field=field)
    if "\\" in text or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidInput(f"directory {shown(text)} may not hold backslashes or control characters", field=field)
    components = text.rstrip("/").split("/")
    if any(c in ("", ".", "..") for c in components):
        raise InvalidInput(f"directory {shown(text)} may not hold '..', '.' or empty components", field=field)
    if len(components) > MAX_COMPONENTS or not all(_COMPONENT.fullmatch(c) for c in components):
        raise InvalidInput(
            f"directory {shown(text)}: at most {MAX_COMPONENTS} components of letters, digits, '.', '_' and '-', "
            "none starting with '.' or '-'", field=field,
        )
    return "/".join(components)


def account_component(account: str) -> str:
    """The account's directory name below the base (accounts are named by the operator)."""
    if not ACCOUNT_COMPONENT.fullmatch(account):
        raise InvalidInput(f"account {shown(account)} cannot name a directory; FILE_AUTO is not available to it")
    return account


# -- the use cases --------------------------------------------------------------------------


class WebrootValidation:
    def __init__(self, *, webroots: WebrootStore, placed: PlacedFileStore, files: WebrootFiles,
                 checker: DomainChecker, clock: Clock) -> None:
        self._webroots = webroots
        self._placed = placed
        self._files = files
        self._checker = checker
        self._clock = clock

    async def configure(self, caller: Caller, domain: str, directory: str | None) -> Webroot:
        require_role(caller, Role.OWNER)
        account = account_component(require_account(caller, "webroots"))
        name = normalize_hostname(domain, allow_wildcard=False, field=["input", "domain"])
        primary_domain(name, field=["input", "domain"])
        relative = check_directory(directory, name)
        existing = next((w for w in await self._webroots.list(account) if w.domain == name), None)
        try:
            created = await self._files.prepare(account, relative)
        except WebrootError as error:
            raise InvalidInput(f"the webroot for {name} was not saved: {error.message}",
                               field=["input", "directory"]) from None
        try:
            failure = await self._probe(account, name, relative)
        except BaseException:
            await self._files.discard(account, created)
            raise
        if failure is not None:
            await self._files.discard(account, created)  # a refusal leaves no directory it made
            raise InvalidInput(f"the webroot for {name} was not saved: {failure}", field=["input", "directory"])
        now = self._clock.now()
        return await self._webroots.save(Webroot(
            id=existing.id if existing else self._webroots.new_id(), account=account, domain=name,
            directory=relative, created_at=existing.created_at if existing else now, checked_at=now, check_ok=True,
        ))

    async def remove(self, caller: Caller, webroot_id: str) -> str:
        require_role(caller, Role.OWNER)
        if not await self._webroots.remove(require_account(caller, "webroots"), webroot_id):
            raise NotFound(f"no webroot {shown(webroot_id)}", field=["id"])
        return webroot_id

    async def list(self, caller: Caller) -> list[Webroot]:
        return await self._webroots.list(require_account(caller, "webroots"))

    async def for_domain(self, account: str, domain: str) -> Webroot | None:
        return next((w for w in await self._webroots.list(account) if w.domain == domain), None)

    async def configured_many(self, account: str, domains: set[str]) -> dict[str, bool]:
        checked = {w.domain for w in await self._webroots.list(account) if w.check_ok}
        return {d: not d.startswith("*.") and d in checked for d in domains}

    async def configured(self, account: str, domain: str) -> bool:
        webroot = None if domain.startswith("*.") else await self.for_domain(account, domain)
        return webroot is not None and webroot.check_ok

    async def place(self, account: str, reissue_id: str, domain: str, token: str,
                    path: str = FILE_CHALLENGE_PATH) -> str | None:
        """R20 FILE_AUTO: writes the challenge file; None once written, else a diagnosis."""
        webroot = await self.for_domain(account, domain)
        if webroot is None:
            return f"no webroot of this account serves {domain} any more: configure one, or cancel"
        placed = PlacedFile(f"{reissue_id}:file", account, webroot.directory, token, self._clock.now(), reissue_id,
                            path=path)
        await self._placed.save(placed)  # before the file: a crash leaves it findable
        try:
            await self._files.write(account, webroot.directory, path, token)
        except WebrootError as error:
            diagnosis = f"writing {path} in the webroot {webroot.directory} failed: {error.message}"
            await self._webroots.record_check(webroot.id, self._clock.now(), False, diagnosis)
            return diagnosis
        await self._placed.mark_placed(placed.id)
        return None

    async def is_placed(self, reissue_id: str) -> bool:
        placed = await self._placed.get(f"{reissue_id}:file")
        return placed is not None and placed.placed

    async def release(self, reissue_id: str) -> bool:
        placed = await self._placed.get(f"{reissue_id}:file")
        return placed is None or await self._remove(placed)

    async def sweep(self, finished: Callable[[str], Awaitable[bool]]) -> int:
        removed = 0
        now = self._clock.now()
        for placed in await self._placed.all():
            if placed.reissue_id is None:
                due = placed.created_at is None or now - placed.created_at >= PROBE_GRACE
            else:
                due = await finished(placed.reissue_id)
            if due and await self._remove(placed):
                removed += 1
        return removed

    async def _remove(self, placed: PlacedFile) -> bool:
        try:
            await self._files.remove(placed.account, placed.directory, placed.path, placed.value)
        except WebrootError as error:
            log.warning("challenge file in %s not removed yet (%s); the sweep tries again", placed.directory,
                        error.message)
            return False
        await self._placed.delete(placed.id)
        return True

    async def _probe(self, account: str, domain: str, directory: str) -> str | None:
        """None when the file written there is what http://<domain> serves; else why not.
        A file already there (a reissue's) is put back afterwards."""
        value = "probe-" + secrets.token_hex(16)
        before = await self._files.read(account, directory, FILE_CHALLENGE_PATH)
        placed = PlacedFile("probe_" + secrets.token_hex(12), account, directory, value, self._clock.now())
        await self._placed.save(placed)
        try:
            await self._files.write(account, directory, FILE_CHALLENGE_PATH, value)
        except WebrootError as error:
            await self._placed.delete(placed.id)
            return error.message
        await self._placed.mark_placed(placed.id)
        outcome = await self._checker.check_file(domain, FILE_CHALLENGE_PATH, value)
        if before is not None:
            await self._files.write(account, directory, FILE_CHALLENGE_PATH, before)
            await self._placed.delete(placed.id)
        else:
            await self._remove(placed)
        if not outcome.ok:
            return (f"a probe written to {directory}{FILE_CHALLENGE_PATH} was not what http://{domain} serves "
                    f"({outcome.diagnosis}); serve http://{domain}/.well-known/pki-validation/ from that directory")
        return None



class WebrootsOff:
    """FILE_AUTO on a service without a webroot base directory: the same roles (R26), then
    a refusal that says so; an account's list is empty."""

    async def configure(self, caller: Caller, domain: str, directory: str | None) -> Webroot:
        require_role(caller, Role.OWNER)
        require_account(caller, "webroots")
        raise InvalidInput("FILE_AUTO is not configured on this service (it has no webroot base directory)",
                           code=ErrorCode.OPTION_NOT_ALLOWED, field=["input", "domain"])

    async def remove(self, caller: Caller, webroot_id: str) -> str:
        require_role(caller, Role.OWNER)
        require_account(caller, "webroots")
        raise NotFound(f"no webroot {shown(webroot_id)}", field=["id"])

    async def list(self, caller: Caller) -> list[Webroot]:
        require_account(caller, "webroots")
        return []
