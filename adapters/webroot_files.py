"""Challenge files in an account's webroots, below the operator's base directory
(CERTS_WEBROOTS_DIR): `<base>/<account>/<directory>/.well-known/pki-validation/`.

Every component below the base is opened relative to its parent's descriptor with
O_NOFOLLOW, so a symbolic link anywhere below the base (put there by anyone, at any time) is
refused rather than followed; files are written to a temporary name and renamed into place
(a reader never sees half a token), world-readable for the web server (0644, directories
0755) and owned by the service. The real path is checked as well, for the diagnosis."""

from __future__ import annotations

import asyncio
import errno
import os
import secrets
from pathlib import Path

from domain.webroots import WebrootError, WebrootFiles

DIR_MODE = 0o755
FILE_MODE = 0o644
MAX_READ = 4096


class LocalWebrootFiles(WebrootFiles):
    def __init__(self, base: Path) -> None:
        self._base = base

    async def prepare(self, account: str, directory: str) -> list[tuple[str, ...]]:
        return await asyncio.to_thread(self._prepare, account, directory)

    async def discard(self, account: str, created: list[tuple[str, ...]]) -> None:
        await asyncio.to_thread(self._discard, account, created)

    async def write(self, account: str, directory: str, path: str, content: str) -> None:
        await asyncio.to_thread(self._write, account, directory, path, content)

    async def read(self, account: str, directory: str, path: str) -> str | None:
        return await asyncio.to_thread(self._read, account, directory, path)

    async def remove(self, account: str, directory: str, path: str, expected: str) -> None:
        await asyncio.to_thread(self._remove, account, directory, path, expected)

    # -- below the base, without following links ------------------------------------------

    def _open_dir(self, components: list[str], *, create: bool, made: list[tuple[str, ...]] | None = None) -> int:
        """A descriptor of `<base>/<components>`; with `create`, the directories missing are
        made, and each one made is appended to `made` (its components) as it is."""
        try:
            fd = os.open(self._base, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise WebrootError(f"the service's webroot base directory is not usable ({exc.strerror})") from None
        for index, component in enumerate(components):
            try:
                if create:
                    try:
                        os.mkdir(component, DIR_MODE, dir_fd=fd)
                    except FileExistsError:
                        pass
                    else:
                        if made is not None:
                            made.append(tuple(components[:index + 1]))
                        os.chmod(component, DIR_MODE, dir_fd=fd, follow_symlinks=False)
                child = os.open(component, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise WebrootError(f"{'/'.join(components)} leads through a symbolic link or a file "
                                       f"({component!r}), which is not followed") from None
                if exc.errno == errno.ENOENT:
                    raise WebrootError(f"{'/'.join(components)} does not exist") from None
                raise WebrootError(f"{'/'.join(components)} cannot be opened ({exc.strerror})") from None
            os.close(fd)
            fd = child
        return fd

    def _components(self, account: str, directory: str, path: str = "") -> tuple[list[str], str | None]:
        parts = [account, *directory.split("/"), *[p for p in path.split("/") if p]]
        if any(p in ("", ".", "..") or "/" in p for p in parts):
            raise WebrootError("a path component is not allowed")
        return (parts[:-1], parts[-1]) if path else (parts, None)

    def _prepare(self, account: str, directory: str) -> list[tuple[str, ...]]:
        components, _ = self._components(account, directory, "/.well-known/pki-validation/x")
        made: list[tuple[str, ...]] = []
        try:
            os.close(self._open_dir(components, create=True, made=made))
            area = os.path.realpath(self._base / account)
            real = os.path.realpath(self._base / account / directory)
            if not real.startswith(area + os.sep):
                raise WebrootError(f"{directory} is not inside this account's webroot area")
        except WebrootError:
            self._discard(account, made)
            raise
        return made

    def _discard(self, account: str, created: list[tuple[str, ...]]) -> None:
        """Removes the directories `prepare` made, deepest first, each only if it is still
        an empty directory (rmdir never follows a link) reached without following one."""
        for path in sorted(created, key=len, reverse=True):
            if not path or path[0] != account:
                continue
            try:
                fd = self._open_dir(list(path[:-1]), create=False)
            except WebrootError:
                continue  # gone, or a link now: left alone
            try:
                os.rmdir(path[-1], dir_fd=fd)
            except OSError:
                pass  # not empty (someone's files), not a directory, or gone: left alone
            finally:
                os.close(fd)

    def _write(self, account: str, directory: str, path: str, content: str) -> None:
        components, name = self._components(account, directory, path)
        fd = self._open_dir(components, create=True)
        temporary = f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            out = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE, dir_fd=fd)
            try:
                os.fchmod(out, FILE_MODE)
                os.write(out, content.encode())
                os.fsync(out)
            finally:
                os.close(out)
            os.rename(temporary, name, src_dir_fd=fd, dst_dir_fd=fd)
        except OSError as exc:
            try:
                os.unlink(temporary, dir_fd=fd)
            except OSError:
                pass
            raise WebrootError(f"{name} cannot be written ({exc.strerror})") from None
        finally:
            os.close(fd)

    def _read(self, account: str, directory: str, path: str) -> str | None:
        components, name = self._components(account, directory, path)
        try:
            fd = self._open_dir(components, create=False)
        except WebrootError:
            return None
        try:
            handle = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
        except OSError:
            return None
        finally:
            os.close(fd)
        try:
            return os.read(handle, MAX_READ).decode("utf-8", "replace")
        finally:
            os.close(handle)

    def _remove(self, account: str, directory: str, path: str, expected: str) -> None:
        components, name = self._components(account, directory, path)
        try:
            fd = self._open_dir(components, create=False)
        except WebrootError as error:
            if "does not exist" in error.message:
                return  # nothing there to remove
            raise
        try:
            try:
                handle = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                return
            except OSError as exc:
                raise WebrootError(f"{name} cannot be read ({exc.strerror})") from None
            try:
                current = os.read(handle, MAX_READ).decode("utf-8", "replace")
            finally:
                os.close(handle)
            if current == expected:
                os.unlink(name, dir_fd=fd)
        except OSError as exc:
            raise WebrootError(f"{name} cannot be removed ({exc.strerror})") from None
        finally:
            os.close(fd)
