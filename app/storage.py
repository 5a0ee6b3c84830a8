"""Attachment bytes, content-addressed by sha256, behind a small interface (an S3-compatible
store can implement the same two methods)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from app.domain.errors import InvalidInput

CHUNK = 256 * 1024
_CONTENT_TYPE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,63}/[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,63}$")


@dataclass(frozen=True, slots=True)
class IncomingFile:
    """An upload as the service sees it: a name, a declared type and a way to read chunks."""

    filename: str | None
    content_type: str | None
    read: Callable[[int], Awaitable[bytes]]


@dataclass(frozen=True, slots=True)
class StoredFile:
    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class StagedFile:
    """Bytes received and measured but not yet stored under their digest: nothing reads them
    until `publish`, and `discard` leaves no trace of them."""

    file: StoredFile
    handle: str  # the store's own reference to the staged bytes


class BlobStore(Protocol):
    """Content-addressed bytes. An upload is staged, then published inside the transaction that
    writes the rows pointing at it (after every check passed), so a refused request stores
    nothing. Published bytes that no row references (a commit that failed after publishing)
    are removed by `sweep_unreferenced` once they are old enough."""

    async def stage(self, upload: IncomingFile, max_bytes: int, field: list[str]) -> StagedFile: ...

    async def publish(self, staged: StagedFile) -> None: ...

    async def discard(self, staged: StagedFile) -> None: ...

    def open_staged(self, staged: StagedFile) -> BinaryIO:
        """The staged bytes for reading. Staged files are always local (a remote store uploads on
        `publish`), and reading them blocks: call it from a worker thread."""
        ...

    def read(self, sha256: str) -> AsyncIterator[bytes]: ...

    async def stored_before(self, cutoff: float) -> list[str]: ...

    async def remove_if_before(self, sha256: str, cutoff: float) -> bool: ...


def clean_filename(name: str | None) -> str:
    """The last path component, without control characters, at most 255 characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip().strip(".")
    return base[:255] or "attachment"


def clean_content_type(value: str | None) -> str:
    media_type = (value or "").split(";")[0].strip().lower()
    return media_type if _CONTENT_TYPE.match(media_type) else "application/octet-stream"


_DIGEST = re.compile(r"[0-9a-f]{64}")
STAGING = ".staging"


class LocalBlobStore:
    """Files under `root/ab/cd/<sha256>`: the same bytes are stored once. Staged uploads wait
    in `root/.staging/`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        if not _DIGEST.fullmatch(sha256):
            raise ValueError("not a sha256 digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def stage(self, upload: IncomingFile, max_bytes: int, field: list[str]) -> StagedFile:
        staging = self.root / STAGING
        staging.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=staging, prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := await upload.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise InvalidInput(f"the file is larger than the limit of {max_bytes} bytes", field)
                    digest.update(chunk)
                    await asyncio.to_thread(out.write, chunk)
        except BaseException:
            await asyncio.to_thread(_discard, tmp_name)
            raise
        stored = StoredFile(
            clean_filename(upload.filename), clean_content_type(upload.content_type), size, digest.hexdigest()
        )
        return StagedFile(stored, tmp_name)

    async def publish(self, staged: StagedFile) -> None:
        target = self._path(staged.file.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Always replaced, even when the same bytes are there already: the file's time is then
        # the newest upload's, which the sweep checks before it removes anything.
        await asyncio.to_thread(os.replace, staged.handle, target)

    async def discard(self, staged: StagedFile) -> None:
        await asyncio.to_thread(_discard, staged.handle)

    def open_staged(self, staged: StagedFile) -> BinaryIO:
        return open(staged.handle, "rb")

    async def read(self, sha256: str) -> AsyncIterator[bytes]:
        path = self._path(sha256)
        with path.open("rb") as handle:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk

    async def stored_before(self, cutoff: float) -> list[str]:
        """Digests of the blobs last written before `cutoff` (a Unix time); staged uploads left
        behind by a process that died are removed here too."""
        return await asyncio.to_thread(self._stored_before, cutoff)

    def _stored_before(self, cutoff: float) -> list[str]:
        if not self.root.is_dir():
            return []
        found: list[str] = []
        for path in self.root.rglob("*"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if not path.is_file() or stat.st_mtime >= cutoff:
                continue
            if path.parent.name == STAGING or path.name.startswith(".sweep-"):
                _discard(str(path))  # left behind by a process that stopped half-way
            elif _DIGEST.fullmatch(path.name):
                found.append(path.name)
        return found

    async def remove_if_before(self, sha256: str, cutoff: float) -> bool:
        return await asyncio.to_thread(self._remove_if_before, sha256, cutoff)

    def _remove_if_before(self, sha256: str, cutoff: float) -> bool:
        """Removes the blob unless it was written at or after `cutoff`. An upload may publish the
        same bytes at any moment: the file is first moved aside (atomic), then its time is read
        from the moved file; a fresh one is put back."""
        target = self._path(sha256)
        aside = target.with_name(f".sweep-{sha256}")
        try:
            os.rename(target, aside)
        except FileNotFoundError:
            return False
        if os.stat(aside).st_mtime >= cutoff:
            with contextlib.suppress(FileNotFoundError):
                if not target.exists():
                    os.rename(aside, target)
                else:  # an upload published the same bytes meanwhile
                    os.unlink(aside)
            return False
        os.unlink(aside)
        return True


def _discard(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
