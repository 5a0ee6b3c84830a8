"""Raw MIME for the email tests, written out byte by byte (no stdlib generator in between), so
the parser sees exactly what a mailer would send."""

from __future__ import annotations

import base64
import quopri
from collections.abc import Sequence
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "email"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def encode_body(payload: bytes, cte: str) -> bytes:
    if cte == "base64":
        return base64.encodebytes(payload)
    if cte == "quoted-printable":
        return quopri.encodestring(payload)
    return payload


def leaf(content_type: str, payload: bytes, *, cte: str = "8bit", headers: Sequence[str] = ()) -> bytes:
    """One MIME part: its headers, a blank line, the encoded payload."""
    head = [f"Content-Type: {content_type}", f"Content-Transfer-Encoding: {cte}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + encode_body(payload, cte)


def multipart(subtype: str, parts: Sequence[bytes], boundary: str = "=_b", headers: Sequence[str] = ()) -> bytes:
    head = [f'Content-Type: multipart/{subtype}; boundary="{boundary}"', *headers]
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in parts)
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body + b"--" + boundary.encode() + b"--\r\n"


def mail(entity: bytes, *headers: str | bytes, sender: str = "Li Lei <li.lei@example.cn>") -> bytes:
    """A whole message: top-level headers (From first unless `sender` is empty) above an entity."""
    lines = [h.encode() if isinstance(h, str) else h for h in headers]
    if sender:
        lines.insert(0, f"From: {sender}".encode())
    return b"".join(line + b"\r\n" for line in lines) + entity


def text_mail(
    body: str,
    *headers: str | bytes,
    charset: str = "utf-8",
    cte: str = "8bit",
    sender: str = "Li Lei <li.lei@example.cn>",
) -> bytes:
    return mail(leaf(f'text/plain; charset="{charset}"', body.encode(charset), cte=cte), *headers, sender=sender)


def encoded_word(text: str, charset: str, *, label: str | None = None, q: bool = False) -> str:
    """RFC 2047 `=?label?B?...?=` of `text` encoded in `charset`."""
    data = text.encode(charset)
    if q:
        return f"=?{label or charset}?Q?{quopri.encodestring(data, header=True).decode()}?="
    return f"=?{label or charset}?B?{base64.b64encode(data).decode()}?="
