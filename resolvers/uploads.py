"""GraphQL multipart uploads, handed to services as plain readable files."""

from __future__ import annotations

from starlette.datastructures import UploadFile

from app.storage import IncomingFile
from schema.common import Upload


def incoming(uploads: list[Upload] | None) -> list[IncomingFile]:
    files: list[IncomingFile] = []
    for upload in uploads or []:
        assert isinstance(upload, UploadFile)  # what Strawberry's ASGI integration hands over
        files.append(IncomingFile(filename=upload.filename, content_type=upload.content_type, read=upload.read))
    return files
