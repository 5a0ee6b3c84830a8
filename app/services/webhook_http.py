"""The webhook deliverer's HTTP/1.1 client: a POST on a kept-alive connection to an address the
SSRF guard checked, the status and the first bytes of the answer back.

Not httpx: with five webhooks every createTicket makes about ten deliveries, and httpx spent
about 1 ms of CPU on each (anyio cancel scopes, pool bookkeeping that checks every connection's
socket, a cookie jar), half as much as the request that caused them, in the same process. This does
only what a delivery needs: no redirects, no cookies, no proxies, no compression, TLS verified
for the URL's host name while connecting to the checked address.

Answers are read as RFC 9112 frames them (Content-Length, chunked, or until the server closes);
a connection is kept for the next request only when its answer was read to the end (at most
DRAIN_LIMIT bytes) and the server did not ask to close it.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from urllib.parse import quote

# Past this much answer the connection is closed rather than read to its end.
DRAIN_LIMIT = 64 * 1024
MAX_HEADER_LINES = 100
# Characters a request target keeps as they are (what parse_url lets through stays ASCII).
_TARGET_SAFE = "!#$%&'()*+,/:;=?@[]~"


class WebhookHttpError(Exception):
    """A failed exchange; the message starts with its kind (ConnectError, ReadError, WriteError,
    RemoteProtocolError), as the delivery log shows it."""


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    # The checked address to connect to, and the URL's host name (TLS: SNI and the certificate).
    address: str
    port: int
    server_name: str


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def close(self) -> None:
        self.writer.close()


@dataclass(slots=True)
class Answer:
    status: int
    kept: bytes
    reusable: bool = field(default=False)


def ascii_host(host_header: str, host: str) -> str:
    """The Host header with an internationalised name in its ASCII form (IDNA), as DNS and TLS
    see it."""
    if host_header.isascii():
        return host_header
    try:
        return host_header.replace(host, host.encode("idna").decode("ascii"))
    except UnicodeError:
        raise WebhookHttpError("LocalProtocolError: the host name has no ASCII form") from None


def request_head(target: str, headers: list[tuple[str, str]], length: int) -> bytes:
    lines = [f"POST {quote(target, safe=_TARGET_SAFE)} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append(f"Content-Length: {length}")
    try:
        return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
    except UnicodeEncodeError:
        raise WebhookHttpError("LocalProtocolError: a header is not ASCII") from None


class Connections:
    """The kept-alive connections of one origin: at most `size` at once, each carrying one
    request at a time; the most recently used is lent first."""

    def __init__(self, origin: Origin, size: int, tls: ssl.SSLContext | None) -> None:
        self.origin, self.tls = origin, tls
        self.slots = asyncio.Semaphore(size)
        self.idle: list[_Connection] = []
        self.closed = False

    async def post(self, head: bytes, body: bytes, keep: int) -> tuple[int, bytes]:
        """(status, at most `keep` bytes of the answer's body); raises WebhookHttpError. The
        caller holds one of `slots` (so a wait for one is not counted in its timeout)."""
        while self.idle:
            connection = self.idle.pop()
            if connection.reader.at_eof() or connection.writer.is_closing():
                connection.close()
                continue
            try:
                return await self._exchange(connection, head, body, keep)
            except _ClosedBeforeAnswer:
                # The server closed the idle connection as it was reused: once more on a new one
                # (receivers dedupe on the event id, should it have arrived after all).
                break
        return await self._exchange(await self._open(), head, body, keep)

    async def _open(self) -> _Connection:
        o = self.origin
        try:
            if self.tls is None:
                reader, writer = await asyncio.open_connection(o.address, o.port)
            else:
                reader, writer = await asyncio.open_connection(
                    o.address, o.port, ssl=self.tls, server_hostname=o.server_name
                )
        except OSError as exc:
            raise WebhookHttpError(f"ConnectError: {exc}") from None
        return _Connection(reader, writer)

    async def _exchange(self, connection: _Connection, head: bytes, body: bytes, keep: int) -> tuple[int, bytes]:
        try:
            answer = await _exchange(connection, head, body, keep)
        except BaseException:  # a timeout or cancellation too: a half-read answer ends the connection
            connection.close()
            raise
        if answer.reusable and not self.closed:
            self.idle.append(connection)
        else:
            connection.close()
        return answer.status, answer.kept

    def close(self) -> None:
        """Closes the idle connections now, and those in use when their request ends."""
        self.closed = True
        for connection in self.idle:
            connection.close()
        self.idle.clear()


class _ClosedBeforeAnswer(WebhookHttpError):
    pass


async def _exchange(connection: _Connection, head: bytes, body: bytes, keep: int) -> Answer:
    reader, writer = connection.reader, connection.writer
    try:
        writer.write(head + body)
        await writer.drain()
    except OSError as exc:
        raise _ClosedBeforeAnswer(f"WriteError: {exc}") from None
    try:
        first = await reader.readline()
        if not first:
            raise _ClosedBeforeAnswer("RemoteProtocolError: the server closed the connection without answering")
        while True:
            version, status = _status_line(first)
            headers = await _headers(reader)
            if 100 <= status < 200:
                first = await reader.readline()  # an interim answer: the real one follows
                continue
            break
        return await _body(reader, version, status, headers, keep)
    except OSError as exc:
        raise WebhookHttpError(f"ReadError: {exc}") from None
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        raise WebhookHttpError(f"RemoteProtocolError: {exc or type(exc).__name__}") from None


def _status_line(line: bytes) -> tuple[str, int]:
    parts = line.rstrip(b"\r\n").split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or len(parts[1]) != 3 or not parts[1].isdigit():
        raise ValueError(f"not an HTTP/1.x status line: {line[:80]!r}")
    return parts[0].decode(), int(parts[1])


async def _headers(reader: asyncio.StreamReader) -> dict[str, str]:
    found: dict[str, str] = {}
    for _ in range(MAX_HEADER_LINES):
        line = await reader.readline()
        if not line.endswith(b"\n"):
            raise asyncio.IncompleteReadError(line, None)
        if line in (b"\r\n", b"\n"):
            return found
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise ValueError(f"not a header line: {line[:80]!r}")
        key = name.strip().lower()
        found[key] = f"{found[key]}, {value.strip()}" if key in found else value.strip()
    raise ValueError("too many header lines")


async def _body(reader: asyncio.StreamReader, version: str, status: int, headers: dict[str, str], keep: int) -> Answer:
    reusable = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
    if status in (204, 304):
        return Answer(status, b"", reusable)
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _chunked(reader, status, keep, reusable)
    if "content-length" in headers:
        length = int(headers["content-length"].split(",")[0])
        if length < 0:
            raise ValueError("a negative Content-Length")
        if length > DRAIN_LIMIT:
            return Answer(status, await reader.readexactly(min(keep, length)), False)
        return Answer(status, (await reader.readexactly(length))[:keep], reusable)
    # Delimited by the end of the connection: what is kept, then the connection is closed.
    kept = b""
    while len(kept) < keep and (chunk := await reader.read(keep - len(kept))):
        kept += chunk
    return Answer(status, kept, False)


async def _chunked(reader: asyncio.StreamReader, status: int, keep: int, reusable: bool) -> Answer:
    kept, total = b"", 0
    while True:
        size_line = await reader.readline()
        size = int(size_line.split(b";", 1)[0].strip() or b"x", 16)
        if size == 0:
            await _headers(reader)  # trailers, up to the empty line
            return Answer(status, kept, reusable)
        total += size
        if total > DRAIN_LIMIT:
            kept += await reader.readexactly(max(0, min(size, keep - len(kept))))
            return Answer(status, kept[:keep], False)
        data = await reader.readexactly(size + 2)
        if data[-2:] != b"\r\n":
            raise ValueError("a chunk without its line end")
        kept = (kept + data[:-2])[:keep]
