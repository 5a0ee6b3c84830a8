"""The deliverer's Sender (aiohttp underneath) against real servers on loopback that answer with
exact bytes: the request as sent, 1 KB of the answer kept, redirects not followed, no cookies
and no proxies, kept connections reused and bounded, a kept connection the server dropped
replaced once, the timeout, and TLS verified for the URL's host name while connecting to the
address the SSRF guard checked."""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.db.engine import create_engine
from app.domain.validation import Problems
from app.domain.webhooks import retries
from app.domain.webhooks.endpoint import Endpoint, parse_url
from app.services.runtime import Runtime
from app.services.webhook_deliverer import PER_ORIGIN, Sender
from app.services.webhook_targets import checked_target
from app.settings import Settings
from tests.conftest import TEST_SECRET_KEY

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nnew"
BODY = b'{"a":1}'

Answer = bytes | Callable[[asyncio.StreamWriter], object] | None


class Server:
    """Answers each request on a connection with the next of `answers` (bytes; a callable, maybe
    async, given the writer, then the connection ends; None: no answer); counts connections, keeps requests,
    and notes the most connections open at once."""

    def __init__(self, answers: list[Answer], delay: float = 0.0) -> None:
        self.answers = answers
        self.delay = delay
        self.connections = 0
        self.open = 0
        self.most_open = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(
                    next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1]
                )
                self.requests.append(head + await reader.readexactly(length))
                answer = self.answers.pop(0) if self.answers else OK
                if answer is None:  # silent: holds the connection until the client lets go
                    await reader.read()
                    return
                if callable(answer):
                    if inspect.isawaitable(done := answer(writer)):
                        await done
                    return
                await asyncio.sleep(self.delay)
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()


@asynccontextmanager
async def serving(server: Server, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> AsyncIterator[int]:
    listener = await asyncio.start_server(server.handle, host, 0, ssl=tls)
    try:
        yield listener.sockets[0].getsockname()[1]
    finally:
        listener.close()


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    # The Sender reads only settings and the clock: the engine is never connected.
    url = "postgresql://unused@127.0.0.1:1/unused"
    settings = Settings(database_url=url, log_json=False, secret_key=TEST_SECRET_KEY, webhook_allow_private=True)
    yield Runtime(engine=create_engine(url), settings=settings)


@pytest.fixture
async def sender(runtime: Runtime) -> AsyncIterator[Sender]:
    sender = Sender(runtime)
    yield sender
    await sender.close()


def endpoint(url: str) -> Endpoint:
    found = parse_url(Problems(), url, ["url"])
    assert found is not None
    return found


async def test_the_request_is_signed_and_sent_as_built_and_a_kept_connection_carries_the_next(
    sender: Sender,
) -> None:
    server = Server([OK, b"HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nfail"])
    async with serving(server) as port:
        hook = endpoint(f"http://127.0.0.1:{port}/hooks/钩子?x=1")
        assert await sender.post(hook, "whsec_x", 7, BODY) == (200, b"new")
        assert await sender.post(hook, "whsec_x", 7, BODY) == (500, b"fail")
    assert server.connections == 1
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /hooks/%E9%92%A9%E5%AD%90?x=1 HTTP/1.1"
    headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in lines[1:])}
    assert headers["host"] == f"127.0.0.1:{port}"
    assert headers["content-type"] == "application/json"
    assert headers["content-length"] == str(len(BODY))
    assert headers["x-helpdesk-signature"].startswith("t=")
    assert "x-helpdesk-event-id" in headers
    assert "cookie" not in headers and "accept-encoding" not in headers
    assert body == BODY


@pytest.mark.parametrize(
    ("answer", "status", "kept"),
    [
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n",
            200,
            b"abcde",
        ),
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204, b""),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" + b"x" * 2000, 200, b"x" * 1024),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + b"z" * 200000, 200, b"z" * 1024),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"y" * 3000, 200, b"y" * 1024),
    ],
)
async def test_at_most_1_kb_of_an_answer_is_kept_and_the_next_request_is_answered(
    sender: Sender, answer: bytes, status: int, kept: bytes
) -> None:
    server = Server([answer, OK])
    async with serving(server) as port:
        hook = endpoint(f"http://127.0.0.1:{port}/")
        assert await sender.post(hook, "whsec_x", 1, BODY) == (status, kept)
        assert await sender.post(hook, "whsec_x", 2, BODY) == (200, b"new")
    assert len(server.requests) == 2


async def test_a_redirect_is_not_followed_and_a_cookie_not_kept(sender: Sender) -> None:
    redirect = Server([])
    async with serving(redirect) as elsewhere:
        server = Server(
            [
                b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/\r\nSet-Cookie: s=1\r\nContent-Length: 0\r\n\r\n"
                % elsewhere,
                OK,
            ]
        )
        async with serving(server) as port:
            hook = endpoint(f"http://127.0.0.1:{port}/")
            assert await sender.post(hook, "whsec_x", 1, BODY) == (302, b"")
            assert await sender.post(hook, "whsec_x", 2, BODY) == (200, b"new")
    assert redirect.requests == []
    assert not any(b"cookie:" in r.lower() for r in server.requests)


async def test_proxies_from_the_environment_are_not_used(sender: Sender, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = Server([])
    async with serving(proxy) as proxy_port, serving(server := Server([OK])) as port:
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy_port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        assert await sender.post(endpoint(f"http://127.0.0.1:{port}/"), "whsec_x", 1, BODY) == (200, b"new")
    assert proxy.connections == 0
    assert len(server.requests) == 1


async def test_connections_per_origin_are_kept_and_bounded(sender: Sender) -> None:
    server = Server([], delay=0.05)
    async with serving(server) as port:
        hook = endpoint(f"http://127.0.0.1:{port}/")
        answers = await asyncio.gather(*(sender.post(hook, "whsec_x", n, BODY) for n in range(3 * PER_ORIGIN)))
        assert set(answers) == {(200, b"new")}
        assert server.most_open == PER_ORIGIN
        assert server.connections == PER_ORIGIN
        # Kept for the next batch.
        await asyncio.gather(*(sender.post(hook, "whsec_x", n, BODY) for n in range(PER_ORIGIN)))
        assert server.connections == PER_ORIGIN


async def test_the_timeout_starts_when_a_connection_is_free(sender: Sender, monkeypatch: pytest.MonkeyPatch) -> None:
    # Twelve rounds of a tenth of a second each through the origin's connections: the last ones
    # wait longer than the timeout for a connection, but the receiver answers each in time.
    monkeypatch.setattr(retries, "TIMEOUT_SECONDS", 1.0)
    server = Server([], delay=0.1)
    async with serving(server) as port:
        hook = endpoint(f"http://127.0.0.1:{port}/")
        answers = await asyncio.gather(*(sender.post(hook, "whsec_x", n, BODY) for n in range(12 * PER_ORIGIN)))
    assert set(answers) == {(200, b"new")}


async def test_a_kept_connection_the_server_dropped_is_replaced_once(sender: Sender) -> None:
    def drop(writer: asyncio.StreamWriter) -> None:
        writer.transport.abort()

    server = Server([OK, drop, OK, drop, drop])
    async with serving(server) as port:
        hook = endpoint(f"http://127.0.0.1:{port}/")
        assert await sender.post(hook, "whsec_x", 1, BODY) == (200, b"new")
        # The server takes the second request on the kept connection and drops it unanswered.
        assert await sender.post(hook, "whsec_x", 2, BODY) == (200, b"new")
        assert server.connections == 2
        # Dropped twice: an error, not a third try.
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await sender.post(hook, "whsec_x", 3, BODY)
    assert len(server.requests) == 5


async def test_a_server_that_closes_after_every_answer_without_saying_so_gets_every_request(
    sender: Sender,
) -> None:
    async def answer_and_close(writer: asyncio.StreamWriter) -> None:
        writer.write(OK)
        await writer.drain()
        # Some work after answering (a log line, say), then the end of the connection: the client
        # may have taken it for its next request by then.
        await asyncio.sleep(0.005)

    server = Server([answer_and_close] * 200)
    async with serving(server) as port:
        hook = endpoint(f"http://127.0.0.1:{port}/")
        for round_ in range(10):
            answers = await asyncio.gather(*(sender.post(hook, "whsec_x", n, BODY) for n in range(20)))
            assert set(answers) == {(200, b"new")}, round_


async def test_nothing_listening_is_a_connect_error_and_a_silent_server_runs_into_the_timeout(
    sender: Sender, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serving(Server([])) as port:
        pass
    with pytest.raises(aiohttp.ClientConnectorError):
        await sender.post(endpoint(f"http://127.0.0.1:{port}/"), "whsec_x", 1, BODY)

    monkeypatch.setattr(retries, "TIMEOUT_SECONDS", 0.3)
    server = Server([None, OK])
    async with serving(server) as port:
        hook = endpoint(f"http://127.0.0.1:{port}/")
        with pytest.raises(TimeoutError):
            await sender.post(hook, "whsec_x", 1, BODY)
        # The cut-off connection is not lent again.
        assert await sender.post(hook, "whsec_x", 2, BODY) == (200, b"new")
    assert server.connections == 2


def _certificate(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, Path]:
    """(the server's context, the certificate's file) for `name`."""
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
    folder = tmp_path / name
    folder.mkdir()
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return server, folder / "cert.pem"


async def test_tls_is_verified_for_the_host_name_while_connecting_to_the_checked_address(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The host name resolves (here: to loopback); the server listens on the address the guard
    # picks, and the Sender trusts only the test's certificates (read when it starts).
    address = str((await checked_target(endpoint("https://localhost/"), True)).address)
    good_tls, good_cert = _certificate(tmp_path, "localhost")
    wrong_tls, wrong_cert = _certificate(tmp_path, "hooks.example.test")
    (tmp_path / "trusted.pem").write_bytes(good_cert.read_bytes() + wrong_cert.read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "trusted.pem"))
    sender = Sender(runtime)
    good, wrong = Server([OK, OK]), Server([OK])
    try:
        async with serving(good, good_tls, address) as port, serving(wrong, wrong_tls, address) as wrong_port:
            hook = endpoint(f"https://localhost:{port}/hook")
            assert await sender.post(hook, "whsec_x", 1, BODY) == (200, b"new")
            assert await sender.post(hook, "whsec_x", 2, BODY) == (200, b"new")
            assert good.connections == 1
            assert f"Host: localhost:{port}".encode() in good.requests[0]
            # A trusted certificate for another name: refused.
            with pytest.raises(aiohttp.ClientConnectorCertificateError, match="certificate verify failed"):
                await sender.post(endpoint(f"https://localhost:{wrong_port}/hook"), "whsec_x", 3, BODY)
    finally:
        await sender.close()
    assert wrong.requests == []
