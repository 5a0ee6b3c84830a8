"""What the IMAP fetcher decides without talking to anyone: which messages to take and how, when
to try again after a failure, how long an IDLE may last, and what an admin reads in lastError.

A message is taken when it is unread (\\Seen not set) and does not carry TAKEN_KEYWORD. After it
is ingested, whatever the outcome, it gets \\Seen and, where the server allows keywords,
TAKEN_KEYWORD: mail a person already read in a mail client is not turned into a ticket, and mail
we took stays recognisable as ours even if someone marks it unread again.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

TAKEN_KEYWORD = "$HelpdeskTaken"
FIRST_RETRY_SECONDS = 5.0
LONGEST_RETRY_SECONDS = 300.0
# RFC 2177: servers may end an IDLE after 30 minutes; renew it before that.
LONGEST_IDLE_SECONDS = 29 * 60.0
MAX_ERROR_LENGTH = 500


def search_criteria(keywords_allowed: bool) -> tuple[str, ...]:
    """The UID SEARCH for messages still to take."""
    if keywords_allowed:
        return ("UNSEEN", "UNKEYWORD", TAKEN_KEYWORD)
    return ("UNSEEN",)


def taken_flags(keywords_allowed: bool) -> str:
    """The flags set on a message once it is ingested (a parenthesised IMAP flag list)."""
    return f"(\\Seen {TAKEN_KEYWORD})" if keywords_allowed else "(\\Seen)"


def keywords_allowed(permanent_flags: Iterable[str]) -> bool:
    """Whether the folder's PERMANENTFLAGS lets a client create keywords (`\\*`), or already
    has ours."""
    flags = set(permanent_flags)
    return "\\*" in flags or TAKEN_KEYWORD in flags


@dataclass(frozen=True, slots=True)
class FetchPlan:
    """UIDs in the order to take them (oldest first). A message over the size limit is never
    downloaded whole: its first `max_bytes + 1` bytes are handed to ingest, which rejects it as
    TOO_LARGE and quarantines that truncated copy (headers included), and it is flagged like
    any other."""

    whole: tuple[int, ...]
    too_large: tuple[int, ...]
    max_bytes: int

    def steps(self) -> list[tuple[int, int | None]]:
        """(uid, how many bytes to download: None for all of it), oldest first."""
        large = set(self.too_large)
        return [(uid, self.max_bytes + 1 if uid in large else None) for uid in sorted((*self.whole, *self.too_large))]


def plan_fetch(sizes: Mapping[int, int], max_bytes: int) -> FetchPlan:
    """`sizes`: RFC822.SIZE of each UID to take."""
    whole = tuple(sorted(uid for uid, size in sizes.items() if size <= max_bytes))
    too_large = tuple(sorted(uid for uid, size in sizes.items() if size > max_bytes))
    return FetchPlan(whole, too_large, max_bytes)


def retry_delay(failures: int) -> float:
    """Seconds to wait after the `failures`-th failure in a row: 5 s, doubling, at most 5 min."""
    if failures <= 0:
        return 0.0
    return min(LONGEST_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** min(failures - 1, 16))


def idle_seconds(poll_seconds: float) -> float:
    """How long one IDLE may last before it is renewed: the poll interval, and never 29 minutes."""
    return min(poll_seconds, LONGEST_IDLE_SECONDS)


class FailureKind(enum.Enum):
    CONNECT = "CONNECT"
    TLS = "TLS"
    STARTTLS_UNSUPPORTED = "STARTTLS_UNSUPPORTED"
    LOGIN = "LOGIN"
    FOLDER = "FOLDER"
    CONNECTION_LOST = "CONNECTION_LOST"
    SERVER = "SERVER"
    NO_PASSWORD = "NO_PASSWORD"


@dataclass(frozen=True, slots=True)
class FetchFailure:
    """Why a mailbox could not be fetched; `detail` is the server's or the system's words."""

    kind: FailureKind
    host: str
    port: int
    detail: str = ""
    username: str = ""
    folder: str = ""


def error_text(failure: FetchFailure, secrets: Iterable[str] = ()) -> str:
    """What Mailbox.lastError says: what failed, where, and what to check. Any of `secrets` (the
    password) that a server echoed back is blanked out."""
    where = f"{failure.host}:{failure.port}"
    detail = f": {failure.detail}" if failure.detail else ""
    match failure.kind:
        case FailureKind.CONNECT:
            text = f"cannot connect to the IMAP server {where}{detail}"
        case FailureKind.TLS:
            text = f"TLS with the IMAP server {where} failed{detail}"
        case FailureKind.STARTTLS_UNSUPPORTED:
            text = f"the IMAP server {where} does not offer STARTTLS; choose TLS or NONE as the security"
        case FailureKind.LOGIN:
            text = (
                f"the IMAP server {where} refused the login of {failure.username!r}{detail} "
                "(check the user name and password; Gmail, Outlook, QQ and 163 need an app password)"
            )
        case FailureKind.FOLDER:
            text = f"the IMAP server {where} has no folder {failure.folder!r} that can be opened{detail}"
        case FailureKind.CONNECTION_LOST:
            text = f"the connection to the IMAP server {where} was lost{detail}"
        case FailureKind.NO_PASSWORD:
            text = "the mailbox has no IMAP password stored, or it cannot be decrypted with HELPDESK_SECRET_KEY"
        case _:
            text = f"the IMAP server {where} answered with an error{detail}"
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text[:MAX_ERROR_LENGTH]


def must_follow(keys: frozenset[str] | None, earlier: frozenset[str] | None) -> bool:
    """Whether a message (its `conversation_keys`) must wait until an earlier one of the same
    fetch is ingested: when they share a key (a reply lands on the ticket the earlier message
    makes, replies to one ticket keep their mailbox order, a Message-ID seen twice is DUPLICATE the
    second time), or when either could not be read (then nothing is assumed)."""
    return keys is None or earlier is None or not keys.isdisjoint(earlier)
