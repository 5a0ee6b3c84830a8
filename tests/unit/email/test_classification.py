"""Auto-replies (headers and out-of-office subjects, Chinese and English) and bounces."""

from __future__ import annotations

import pytest

from app.domain.email.classification import AutoReply, Bounce, classify, detect_auto_reply, detect_bounce
from app.domain.email.parsing import ParsedMessage, parse_message
from tests.unit.email.mime import encoded_word, fixture, leaf, mail, multipart, text_mail


def parsed(raw: bytes) -> ParsedMessage:
    result = parse_message(raw)
    assert isinstance(result, ParsedMessage), result
    return result


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: auto-replied",
        "Auto-Submitted: auto-generated",
        "Auto-Submitted: auto-notified; owner-email=x@example.cn",
        "X-Autoreply: yes",
        "X-Autorespond: Out of office",
        "Precedence: bulk",
        "Precedence: junk",
        "Precedence: List",
        "List-Id: Shop news <news.shop.example.cn>",
    ],
)
def test_auto_reply_headers(header: str) -> None:
    result = classify(parsed(text_mail("I am away", header, "Subject: Refund")))
    assert isinstance(result, AutoReply)


@pytest.mark.parametrize(
    "header", ["Auto-Submitted: no", "Auto-Submitted: No", "Precedence: first-class", "X-Mailer: Foxmail"]
)
def test_headers_a_person_sends_are_not_auto_replies(header: str) -> None:
    assert classify(parsed(text_mail("Where is my refund?", header, "Subject: Refund"))) is None


@pytest.mark.parametrize(
    "subject",
    [
        "自动回复: 退款 [#12]",
        "自动回复：退款",
        "自动答复: 退款",
        "自動回覆：退款",
        "外出: 退款",
        "休假中",
        "Re: 我正在休假中",
        "Out of Office: Refund",
        "I am out of the office until Monday",
        "Automatic reply: Refund [#12]",
        "Auto: Refund",
        "AutoReply: Refund",
        "Auto-Reply: Refund",
        "Auto Response",
    ],
)
def test_out_of_office_subjects(subject: str) -> None:
    raw = text_mail("I am away", f"Subject: {encoded_word(subject, 'utf-8')}")
    assert detect_auto_reply(parsed(raw)) == AutoReply("out-of-office subject")


@pytest.mark.parametrize(
    "subject",
    ["外出旅游险理赔", "休假期间的订单能退吗", "Auto parts order SO-1", "Reply needed: refund", "Office chair refund"],
)
def test_subjects_that_only_look_like_out_of_office(subject: str) -> None:
    raw = text_mail("Please help", f"Subject: {encoded_word(subject, 'utf-8')}")
    assert classify(parsed(raw)) is None


def test_robot_senders_and_our_own_mailbox_are_auto() -> None:
    assert isinstance(classify(parsed(text_mail("x", "Subject: hi", sender="MAILER-DAEMON@example.cn"))), AutoReply)
    assert isinstance(classify(parsed(text_mail("x", "Subject: hi", sender="postmaster@example.cn"))), AutoReply)
    own = parsed(text_mail("x", "Subject: hi", sender="客服 <Support@Example.cn>"))
    assert classify(own, own_addresses=["support@example.cn"]) == AutoReply("sent from our own mailbox (a loop)")
    assert classify(own, own_addresses=["sales@example.cn"]) is None


def test_permanent_bounce_with_returned_headers() -> None:
    result = classify(parsed(fixture("bounce_permanent.eml")))
    assert isinstance(result, Bounce)
    assert result.original_message_id == "<171.99.1@example.cn>"
    assert [r.address for r in result.recipients] == ["Nobody@Example.com"]
    assert result.permanent is True
    assert result.permanently_failed == ("Nobody@Example.com",)


def test_delayed_bounce_with_returned_message() -> None:
    result = classify(parsed(fixture("bounce_delayed.eml")))
    assert isinstance(result, Bounce)
    assert result.original_message_id == "<171.99.2@example.cn>"
    (recipient,) = result.recipients
    assert (recipient.address, recipient.action, recipient.status) == ("li.lei@slow.example.cn", "delayed", "4.4.7")
    assert result.permanent is False
    assert result.permanently_failed == ()


def dsn(*recipient_blocks: str, returned: bytes | None = None) -> bytes:
    status = "Reporting-MTA: dns; mx.example.cn\r\n\r\n" + "\r\n\r\n".join(recipient_blocks) + "\r\n"
    parts = [leaf("text/plain", b"Delivery failed"), b"Content-Type: message/delivery-status\r\n\r\n" + status.encode()]
    if returned is not None:
        parts.append(b"Content-Type: text/rfc822-headers\r\n\r\n" + returned)
    return mail(
        multipart("report", parts).replace(b"multipart/report;", b"multipart/report; report-type=delivery-status;", 1),
        "Subject: Delivery Status Notification (Failure)",
        sender="mailer-daemon@googlemail.com",
    )


def test_several_recipients_each_with_their_outcome() -> None:
    raw = dsn(
        "Final-Recipient: rfc822; gone@example.com\r\nAction: failed\r\nStatus: 5.1.1",
        "Final-Recipient: rfc822; full@example.com\r\nStatus: 5.2.2 (mailbox full)",
        "Original-Recipient: rfc822;later@example.com\r\nAction: delayed\r\nStatus: 4.2.0",
        returned=b"Message-ID: <ours.1@example.cn>\r\nSubject: Re: x\r\n",
    )
    result = detect_bounce(parsed(raw))
    assert result is not None
    assert result.permanently_failed == ("gone@example.com", "full@example.com")
    assert [r.permanent for r in result.recipients] == [True, True, False]
    assert result.original_message_id == "<ours.1@example.cn>"


def test_a_report_without_returned_headers_has_no_original_id() -> None:
    result = detect_bounce(parsed(dsn("Final-Recipient: rfc822; gone@example.com\r\nAction: failed\r\nStatus: 5.1.1")))
    assert result is not None and result.original_message_id is None and result.permanent


def test_bounce_wins_over_its_auto_submitted_header() -> None:
    raw = fixture("bounce_permanent.eml")
    assert b"Auto-Submitted: auto-replied" in raw
    assert isinstance(classify(parsed(raw)), Bounce)


def test_other_reports_are_not_bounces() -> None:
    mdn = mail(
        multipart(
            "report",
            [
                leaf("text/plain", b"read"),
                b"Content-Type: message/disposition-notification\r\n\r\nFinal-Recipient: rfc822; a@b.cn\r\n",
            ],
        ).replace(b"multipart/report;", b"multipart/report; report-type=disposition-notification;", 1),
        "Subject: Read: Refund",
    )
    assert detect_bounce(parsed(mdn)) is None
    assert detect_bounce(parsed(text_mail("Final-Recipient: rfc822; a@b.cn", "Subject: x"))) is None
