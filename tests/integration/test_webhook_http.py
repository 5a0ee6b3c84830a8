"""The deliverer's HTTP/1.1 client (app.services.webhook_http) against real servers on loopback
that answer with exact bytes: the request as sent, every way an answer can be framed, which
connections are kept and which closed, a kept connection the server dropped, an answer that
never ends, and TLS verified for the URL's host name while connecting to the checked address."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.services.webhook_http import (
    DRAIN_LIMIT,
    Connections,
    Origin,
    WebhookHttpError,
    ascii_host,
    request_head,
)

HEAD = request_head("/hooks/helpdesk?x=1", [("Host", "hooks.example.test"), ("X-Test", "yes")], 7)
BODY = b'{"a":1}'
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nnew"


class Server:
    """Answers each request on a connection with the next of `answers` (bytes; a callable given
    the writer, then the connection ends; None: no answer); counts connections, keeps requests."""

    def __init__(self, answers: list[bytes | Callable[[asyncio.StreamWriter], object] | None]) -> None:
        self.answers = answers
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(
                    next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1]
                )
                self.requests.append(head + await reader.readexactly(length))
                answer = self.answers.pop(0)
                if answer is None:  # silent: holds the connection until the client lets go
                    await reader.read()
                    return
                if callable(answer):
                    answer(writer)
                    return
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def serving(server: Server, tls: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
    try:
        yield listener.sockets[0].getsockname()[1]
    finally:
        listener.close()


def connections(port: int, tls: ssl.SSLContext | None = None, name: str = "hooks.example.test") -> Connections:
    return Connections(Origin("https" if tls else "http", "127.0.0.1", port, name), 4, tls)


async def test_the_request_is_sent_as_built_and_a_kept_connection_carries_the_next() -> None:
    server = Server([OK, b"HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nfail"])
    async with serving(server) as port:
        pool = connections(port)
        assert await pool.post(HEAD, BODY, 1024) == (200, b"new")
        assert await pool.post(HEAD, BODY, 1024) == (500, b"fail")
    assert server.connections == 1
    assert server.requests[0] == (
        b"POST /hooks/helpdesk?x=1 HTTP/1.1\r\nHost: hooks.example.test\r\nX-Test: yes\r\n"
        b'Content-Length: 7\r\n\r\n{"a":1}'
    )


def test_a_target_outside_ascii_is_percent_encoded_and_a_header_outside_ascii_refused() -> None:
    assert request_head("/钩子?q=订单", [], 0).startswith(b"POST /%E9%92%A9%E5%AD%90?q=%E8%AE%A2%E5%8D%95 HTTP/1.1\r\n")
    with pytest.raises(WebhookHttpError, match="LocalProtocolError"):
        request_head("/", [("Host", "例子.test")], 0)
    assert ascii_host("例子.test:8443", "例子.test") == "xn--fsqu00a.test:8443"
    assert ascii_host("hooks.example.test", "hooks.example.test") == "hooks.example.test"


@pytest.mark.parametrize(
    ("answer", "status", "kept", "reused"),
    [
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n",
            200,
            b"abcde",
            True,
        ),
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204, b"", True),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok", 202, b"ok", True),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", 200, b"ok", False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, b"ok", False),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" + b"x" * 2000, 200, b"x" * 1024, True),
        (b"HTTP/1.1 302 Found\r\nLocation: http://10.0.0.1/\r\nContent-Length: 0\r\n\r\n", 302, b"", True),
    ],
)
async def test_answers_are_read_as_framed_and_kept_to_1_kb(
    answer: bytes, status: int, kept: bytes, reused: bool
) -> None:
    server = Server([answer, OK])
    async with serving(server) as port:
        pool = connections(port)
        assert await pool.post(HEAD, BODY, 1024) == (status, kept)
        # The next request: on the same connection when the answer was read to its end.
        assert await pool.post(HEAD, BODY, 1024) == (200, b"new")
    assert server.connections == (1 if reused else 2)


async def test_an_answer_ended_by_closing_and_a_large_one_close_their_connection() -> None:
    def until_close(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n\r\n" + b"y" * 3000)

    large = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (DRAIN_LIMIT + 1) + b"z" * (DRAIN_LIMIT + 1)
    server = Server([until_close, large, OK])
    async with serving(server) as port:
        pool = connections(port)
        assert await pool.post(HEAD, BODY, 1024) == (200, b"y" * 1024)
        assert await pool.post(HEAD, BODY, 1024) == (200, b"z" * 1024)
        assert await pool.post(HEAD, BODY, 1024) == (200, b"new")
    assert server.connections == 3


async def test_a_kept_connection_the_server_dropped_is_replaced_once() -> None:
    def drop(writer: asyncio.StreamWriter) -> None:
        writer.transport.abort()

    server = Server([OK, drop, OK])
    async with serving(server) as port:
        pool = connections(port)
        assert await pool.post(HEAD, BODY, 1024) == (200, b"new")
        # The server takes the second request on the kept connection and drops it unanswered.
        assert await pool.post(HEAD, BODY, 1024) == (200, b"new")
    assert server.connections == 2
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (b"SMTP ready\r\n\r\n", "RemoteProtocolError"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "RemoteProtocolError"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "RemoteProtocolError"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "RemoteProtocolError"),
    ],
)
async def test_broken_answers_are_errors_named_by_kind(answer: bytes, kind: str) -> None:
    def broken(writer: asyncio.StreamWriter) -> None:
        writer.write(answer)

    async with serving(Server([broken])) as port:
        with pytest.raises(WebhookHttpError, match=f"^{kind}: "):
            await connections(port).post(HEAD, BODY, 1024)


async def test_nothing_listening_is_a_connect_error_and_a_silent_server_runs_into_the_timeout() -> None:
    async with serving(Server([])) as port:
        pass
    with pytest.raises(WebhookHttpError, match=r"^ConnectError: "):
        await connections(port).post(HEAD, BODY, 1024)

    server = Server([None])
    async with serving(server) as port:
        pool = connections(port)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await pool.post(HEAD, BODY, 1024)
        assert pool.idle == []


def _certificate(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(the server's context, a client context trusting only that certificate) for `name`."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "cert.pem").write_bytes(pem)
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    client = ssl.create_default_context(cadata=pem.decode())
    return server, client


async def test_tls_is_verified_for_the_host_name_while_connecting_to_the_checked_address(tmp_path: Path) -> None:
    server_tls, client_tls = _certificate(tmp_path, "hooks.example.test")
    server = Server([OK, OK])
    async with serving(server, server_tls) as port:
        pool = connections(port, client_tls)
        assert await pool.post(HEAD, BODY, 1024) == (200, b"new")
        assert await pool.post(HEAD, BODY, 1024) == (200, b"new")
        with pytest.raises(WebhookHttpError, match=r"^ConnectError: .*certificate verify failed"):
            await connections(port, client_tls, "evil.example.test").post(HEAD, BODY, 1024)
        with pytest.raises(WebhookHttpError, match=r"^ConnectError: .*certificate verify failed"):
            await connections(port, ssl.create_default_context()).post(HEAD, BODY, 1024)
    assert server.connections >= 1
    assert ipaddress.ip_address(pool.origin.address).is_loopback
