"""Which ticket an inbound message belongs to: the threading decision, as a pure function.

A reply is matched by its In-Reply-To/References against Message-IDs we stored or sent; failing
that, by a `[#number]` tag in the subject, but only from that ticket's own customer (anyone can
type a number). Subject text alone never matches. A reply to a CLOSED ticket opens a new ticket
RELATED to the old one.

The caller looks the keys up first (`lookup_keys`), then passes what it found; nothing here
does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.domain.email.addresses import same_address
from app.domain.enums import TicketStatus

# References beyond this are not looked up: the newest ones (and In-Reply-To) say where a reply goes.
MAX_LOOKED_UP_REFERENCES = 50

_TICKET_TAG = re.compile(r"\[#(\d{1,18})\]")


@dataclass(frozen=True)
class KnownTicket:
    """What the caller found for a Message-ID or a ticket number."""

    ticket_id: int
    status: TicketStatus
    customer_email: str | None = None


@dataclass(frozen=True)
class NewTicket:
    pass


@dataclass(frozen=True)
class Reply:
    ticket_id: int


@dataclass(frozen=True)
class NewTicketRelatedTo:
    """A reply to a closed ticket: a new ticket, linked RELATED to `ticket_id`."""

    ticket_id: int


ThreadDecision = NewTicket | Reply | NewTicketRelatedTo


@dataclass(frozen=True)
class LookupKeys:
    message_ids: tuple[str, ...]
    ticket_numbers: tuple[int, ...]


def subject_ticket_numbers(subject: str) -> tuple[int, ...]:
    """The numbers of `[#123]` tags in a subject, in order, without repeats."""
    return tuple(dict.fromkeys(int(n) for n in _TICKET_TAG.findall(subject)))


def referenced_message_ids(in_reply_to: Sequence[str], references: Sequence[str]) -> tuple[str, ...]:
    """The Message-IDs a reply points at, most direct first: In-Reply-To, then References newest first."""
    newest_first = list(reversed(references))[:MAX_LOOKED_UP_REFERENCES]
    return tuple(dict.fromkeys([*in_reply_to, *newest_first]))


def lookup_keys(in_reply_to: Sequence[str], references: Sequence[str], subject: str) -> LookupKeys:
    """What the caller should look up before calling `match_conversation`."""
    return LookupKeys(referenced_message_ids(in_reply_to, references), subject_ticket_numbers(subject))


def match_conversation(
    *,
    in_reply_to: Sequence[str],
    references: Sequence[str],
    subject: str,
    sender: str,
    tickets_by_message_id: Mapping[str, KnownTicket],
    tickets_by_number: Mapping[int, KnownTicket],
) -> ThreadDecision:
    """Where an inbound message goes. The mappings hold what the caller found for `lookup_keys`
    (a merged ticket should already be resolved to the ticket it was merged into)."""
    for message_id in referenced_message_ids(in_reply_to, references):
        ticket = tickets_by_message_id.get(message_id)
        if ticket is not None:
            return _onto(ticket)
    for number in subject_ticket_numbers(subject):
        ticket = tickets_by_number.get(number)
        if ticket is not None and ticket.customer_email and same_address(ticket.customer_email, sender):
            return _onto(ticket)
    return NewTicket()


def _onto(ticket: KnownTicket) -> ThreadDecision:
    if ticket.status is TicketStatus.CLOSED:
        return NewTicketRelatedTo(ticket.ticket_id)
    return Reply(ticket.ticket_id)
