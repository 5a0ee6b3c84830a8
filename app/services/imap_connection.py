"""One IMAP conversation with a mailbox's server: the blocking side of the fetcher.

Built on the standard library's imaplib (its parser and its STARTTLS are the most exercised in
Python; aioimaplib has no STARTTLS). Every method blocks, so the fetcher calls them on a thread
of the connection's own and never two at once; `abort` is the one method meant for another
thread: it ends the conversation at once (a blocked read returns), for cancellation.

Failures are raised as ImapFailure carrying a FetchFailure, already sorted into what an admin
can act on (connection, TLS, login, folder, lost connection, other server errors).
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from app.domain.email.fetch_plan import FailureKind, FetchFailure, keywords_allowed, search_criteria, taken_flags
from app.domain.enums import MailSecurity

T = TypeVar("T")
_SIZE = re.compile(rb"UID (\d+)|RFC822\.SIZE (\d+)")


class ImapFailure(Exception):
    def __init__(self, failure: FetchFailure) -> None:
        super().__init__(failure.kind.value)
        self.failure = failure


@dataclass(frozen=True, slots=True)
class ImapAccount:
    host: str
    port: int
    security: MailSecurity
    username: str
    password: str
    folder: str = "INBOX"


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        return " ".join(_text(v) for v in value if v is not None)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _tls_detail(error: ssl.SSLError | ssl.CertificateError) -> str:
    return getattr(error, "verify_message", None) or getattr(error, "reason", None) or str(error)


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def uid_set(uids: list[int]) -> str:
    """1,2,3,5 -> "1:3,5": a compact IMAP sequence set."""
    ranges: list[str] = []
    ordered = sorted(set(uids))
    start = previous = ordered[0]
    for uid in [*ordered[1:], None]:
        if uid is not None and uid == previous + 1:
            previous = uid
            continue
        ranges.append(str(start) if start == previous else f"{start}:{previous}")
        if uid is not None:
            start = previous = uid
    return ",".join(ranges)


class ImapConnection:
    """A logged-in connection with the mailbox's folder selected."""

    def __init__(self, imap: imaplib.IMAP4, account: ImapAccount, timeout: float) -> None:
        self.imap = imap
        self.account = account
        self.timeout = timeout
        self.idle_supported = "IDLE" in imap.capabilities
        _, permanent = imap.response("PERMANENTFLAGS")
        flags = _text(permanent).strip("() ").split()
        self.keywords_allowed = keywords_allowed(flags)

    def _failure(self, kind: FailureKind, detail: str = "") -> ImapFailure:
        a = self.account
        return ImapFailure(FetchFailure(kind, a.host, a.port, detail, a.username, a.folder))

    @classmethod
    def open(cls, account: ImapAccount, tls: ssl.SSLContext, timeout: float) -> ImapConnection:
        """Connects (TLS, STARTTLS or plain as the mailbox says), logs in and selects the folder."""

        def failure(kind: FailureKind, detail: str = "") -> ImapFailure:
            return ImapFailure(FetchFailure(kind, account.host, account.port, detail, account.username, account.folder))

        try:
            if account.security is MailSecurity.TLS:
                imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(account.host, account.port, ssl_context=tls, timeout=timeout)
            else:
                imap = imaplib.IMAP4(account.host, account.port, timeout=timeout)
        except (ssl.SSLError, ssl.CertificateError) as error:
            raise failure(FailureKind.TLS, _tls_detail(error)) from None
        except (OSError, imaplib.IMAP4.error, EOFError) as error:
            raise failure(FailureKind.CONNECT, getattr(error, "strerror", None) or str(error)) from None
        try:
            if account.security is MailSecurity.STARTTLS:
                if "STARTTLS" not in imap.capabilities:
                    raise failure(FailureKind.STARTTLS_UNSUPPORTED)
                try:
                    imap.starttls(tls)
                except (ssl.SSLError, ssl.CertificateError) as error:
                    raise failure(FailureKind.TLS, _tls_detail(error)) from None
            try:
                imap.login(account.username, account.password)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as error:
                raise failure(FailureKind.LOGIN, _text(error.args)) from None
            status, detail = imap.select(_quoted(account.folder))
            if status != "OK":
                raise failure(FailureKind.FOLDER, _text(detail))
            return cls(imap, account, timeout)
        except ImapFailure:
            _close_quietly(imap)
            raise
        except (OSError, EOFError, imaplib.IMAP4.error) as error:
            _close_quietly(imap)
            raise failure(FailureKind.CONNECTION_LOST, str(error) or type(error).__name__) from None

    @contextlib.contextmanager
    def _talking(self) -> Iterator[None]:
        """Sorts what the server or the network did into a failure."""
        try:
            yield
        except ImapFailure:
            raise
        except (ssl.SSLError, ssl.CertificateError) as error:
            raise self._failure(FailureKind.CONNECTION_LOST, _tls_detail(error)) from None
        except (OSError, EOFError, imaplib.IMAP4.abort) as error:
            raise self._failure(FailureKind.CONNECTION_LOST, str(error) or type(error).__name__) from None
        except imaplib.IMAP4.error as error:
            raise self._failure(FailureKind.SERVER, _text(error.args)) from None

    def _command(self, call: Callable[[], tuple[str, list[object]]]) -> list[object]:
        with self._talking():
            status, data = call()
            if status != "OK":
                raise self._failure(FailureKind.SERVER, _text(data))
            return data

    def new_messages(self) -> dict[int, int]:
        """The RFC822.SIZE of every message still to take, by UID."""
        found = self._command(lambda: self.imap.uid("SEARCH", *search_criteria(self.keywords_allowed)))
        uids = [int(u) for u in _text(found).split()]
        if not uids:
            return {}
        data = self._command(lambda: self.imap.uid("FETCH", uid_set(uids), "(RFC822.SIZE)"))
        sizes: dict[int, int] = {}
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            uid = size = None
            for found_uid, found_size in _SIZE.findall(line):
                uid = int(found_uid) if found_uid else uid
                size = int(found_size) if found_size else size
            if uid is not None and size is not None:
                sizes[uid] = size
        return sizes

    def download(self, uid: int, limit: int | None) -> bytes | None:
        """The message's raw bytes (the first `limit` bytes only, when given), without setting
        \\Seen (BODY.PEEK); None when it is gone (expunged meanwhile)."""
        part = "BODY.PEEK[]" if limit is None else f"BODY.PEEK[]<0.{limit}>"
        data = self._command(lambda: self.imap.uid("FETCH", str(uid), f"({part})"))
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1]
        return None

    def mark_taken(self, uid: int) -> None:
        self._command(lambda: self.imap.uid("STORE", str(uid), "+FLAGS.SILENT", taken_flags(self.keywords_allowed)))

    def idle(self, seconds: float) -> bool:
        """IMAP IDLE (RFC 2177) for at most `seconds`; True when the server announced new mail
        (EXISTS), False when the time ran out."""
        imap = self.imap
        with self._talking():
            tag = imap._new_tag()  # imaplib (before 3.14) has no IDLE: the command is sent by hand
            imap.send(tag + b" IDLE\r\n")
            line = imap.readline()
            if not line.startswith(b"+"):
                if not line:
                    raise EOFError("the server closed the connection")
                raise self._failure(FailureKind.SERVER, f"IDLE refused: {_text(line).strip()}")
            woke = False
            deadline = time.monotonic() + seconds
            while not woke:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                pushed = self._line_within(remaining)
                if pushed is None:
                    break
                if not pushed:
                    raise EOFError("the server closed the connection")
                if pushed.startswith(b"* BYE"):
                    raise imaplib.IMAP4.abort(_text(pushed).strip())
                woke = pushed.startswith(b"*") and pushed.rstrip().upper().endswith(b"EXISTS")
            imap.send(b"DONE\r\n")
            while True:
                line = imap.readline()
                if not line:
                    raise EOFError("the server closed the connection")
                if line.startswith(tag):
                    if not line[len(tag) :].strip().upper().startswith(b"OK"):
                        raise self._failure(FailureKind.SERVER, _text(line).strip())
                    return woke

    def _line_within(self, seconds: float) -> bytes | None:
        """The next line from the server, or None when none came within `seconds`."""
        imap = self.imap
        imap.sock.settimeout(seconds)
        try:
            return imap.readline()
        except TimeoutError:
            # A socket file that timed out refuses to be read again; it was waiting for bytes,
            # so its buffer is empty and a fresh one loses nothing.
            imap.file = imap.sock.makefile("rb")
            return None
        finally:
            imap.sock.settimeout(self.timeout)

    def abort(self) -> None:
        """From any thread: ends the connection now (a read blocked in another thread returns)."""
        with contextlib.suppress(OSError):
            self.imap.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Logs out politely, or at least closes the socket."""
        _close_quietly(self.imap)


def _close_quietly(imap: imaplib.IMAP4) -> None:
    with contextlib.suppress(Exception):
        imap.sock.settimeout(2)
        imap.logout()
    with contextlib.suppress(Exception):
        imap.shutdown()
