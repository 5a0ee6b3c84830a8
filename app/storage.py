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
from typing import Protocol

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


class BlobStore(Protocol):
    async def put(self, upload: IncomingFile, max_bytes: int, field: list[str]) -> StoredFile: ...

    def read(self, sha256: str) -> AsyncIterator[bytes]: ...


def clean_filename(name: str | None) -> str:
    """The last path component, without control characters, at most 255 characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip().strip(".")
    return base[:255] or "attachment"


def clean_content_type(value: str | None) -> str:
    media_type = (value or "").split(";")[0].strip().lower()
    return media_type if _CONTENT_TYPE.match(media_type) else "application/octet-stream"


class LocalBlobStore:
    """Files under `root/ab/cd/<sha256>`: the same bytes are stored once."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ValueError("not a sha256 digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def put(self, upload: IncomingFile, max_bytes: int, field: list[str]) -> StoredFile:
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := await upload.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise InvalidInput(f"the file is larger than the limit of {max_bytes} bytes", field)
                    digest.update(chunk)
                    await asyncio.to_thread(out.write, chunk)
            sha = digest.hexdigest()
            target = self._path(sha)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, target)
        except BaseException:
            await asyncio.to_thread(_discard, tmp_name)
            raise
        return StoredFile(clean_filename(upload.filename), clean_content_type(upload.content_type), size, sha)

    async def read(self, sha256: str) -> AsyncIterator[bytes]:
        path = self._path(sha256)
        with path.open("rb") as handle:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk


def _discard(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
