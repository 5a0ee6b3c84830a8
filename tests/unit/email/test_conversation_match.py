"""The threading decision: Message-IDs first, a [#number] tag only from the ticket's customer,
never subject text alone, and a new RELATED ticket for a closed one."""

from __future__ import annotations

from app.domain.email.conversation_match import (
    MAX_LOOKED_UP_REFERENCES,
    KnownTicket,
    LookupKeys,
    NewTicket,
    NewTicketRelatedTo,
    Reply,
    lookup_keys,
    match_conversation,
    subject_ticket_numbers,
)
from app.domain.enums import TicketStatus

OPEN = KnownTicket(ticket_id=7, status=TicketStatus.OPEN, customer_email="Li.Lei@Example.cn")
CLOSED = KnownTicket(ticket_id=8, status=TicketStatus.CLOSED, customer_email="li.lei@example.cn")
RESOLVED = KnownTicket(ticket_id=9, status=TicketStatus.RESOLVED, customer_email="li.lei@example.cn")


def decide(
    *,
    in_reply_to: tuple[str, ...] = (),
    references: tuple[str, ...] = (),
    subject: str = "Refund",
    sender: str = "li.lei@example.cn",
    by_id: dict[str, KnownTicket] | None = None,
    by_number: dict[int, KnownTicket] | None = None,
) -> NewTicket | Reply | NewTicketRelatedTo:
    return match_conversation(
        in_reply_to=in_reply_to,
        references=references,
        subject=subject,
        sender=sender,
        tickets_by_message_id=by_id or {},
        tickets_by_number=by_number or {},
    )


def test_in_reply_to_a_stored_message_id_is_a_reply() -> None:
    assert decide(in_reply_to=("<ours.1@example.cn>",), by_id={"<ours.1@example.cn>": OPEN}) == Reply(7)


def test_references_match_newest_first_and_in_reply_to_wins() -> None:
    by_id = {"<old@example.cn>": RESOLVED, "<new@example.cn>": OPEN}
    assert decide(references=("<old@example.cn>", "<new@example.cn>"), by_id=by_id) == Reply(7)
    assert decide(in_reply_to=("<old@example.cn>",), references=("<new@example.cn>",), by_id=by_id) == Reply(9)


def test_message_id_match_needs_no_particular_sender() -> None:
    # a colleague on Cc answering the thread belongs on it too
    by_id = {"<ours.1@example.cn>": OPEN}
    assert decide(in_reply_to=("<ours.1@example.cn>",), sender="colleague@example.cn", by_id=by_id) == Reply(7)


def test_subject_tag_counts_only_from_the_tickets_customer() -> None:
    by_number = {1042: OPEN}
    assert decide(subject="Re: Refund [#1042]", sender="LI.LEI@example.CN", by_number=by_number) == Reply(7)
    # a stranger guessing a number opens a ticket of their own
    assert decide(subject="Re: Refund [#1042]", sender="stranger@example.com", by_number=by_number) == NewTicket()


def test_tag_for_a_ticket_without_customer_email_or_unknown_number_is_new() -> None:
    no_email = KnownTicket(ticket_id=3, status=TicketStatus.OPEN, customer_email=None)
    assert decide(subject="[#5]", by_number={5: no_email}) == NewTicket()
    assert decide(subject="[#6]", by_number={5: OPEN}) == NewTicket()


def test_subject_text_alone_never_matches() -> None:
    by_number = {1042: OPEN}
    assert decide(subject="Re: Refund", by_number=by_number) == NewTicket()
    assert decide(subject="Re: Refund #1042", by_number=by_number) == NewTicket()
    assert decide(subject="Re: Refund 1042", by_number=by_number) == NewTicket()


def test_unknown_message_ids_fall_back_to_the_tag() -> None:
    assert decide(in_reply_to=("<theirs@gmail.com>",), subject="Re: x [#1042]", by_number={1042: OPEN}) == Reply(7)


def test_reply_to_a_closed_ticket_opens_a_related_one() -> None:
    assert decide(in_reply_to=("<a@example.cn>",), by_id={"<a@example.cn>": CLOSED}) == NewTicketRelatedTo(8)
    assert decide(subject="Re: x [#8]", by_number={8: CLOSED}) == NewTicketRelatedTo(8)
    # a resolved ticket takes the reply (the lifecycle reopens it)
    assert decide(subject="Re: x [#9]", by_number={9: RESOLVED}) == Reply(9)


def test_lookup_keys_say_what_to_fetch() -> None:
    refs = tuple(f"<r{i}@example.cn>" for i in range(200))
    keys = lookup_keys(("<irt@example.cn>",), refs, "Re: [#12] Fwd: [#34] [#12]")
    assert isinstance(keys, LookupKeys)
    assert keys.ticket_numbers == (12, 34)
    assert keys.message_ids[:3] == ("<irt@example.cn>", "<r199@example.cn>", "<r198@example.cn>")
    assert len(keys.message_ids) == 1 + MAX_LOOKED_UP_REFERENCES


def test_subject_ticket_numbers() -> None:
    assert subject_ticket_numbers("回复：退款 [#1042]") == (1042,)
    assert subject_ticket_numbers("[# 12] [#x] #13") == ()
