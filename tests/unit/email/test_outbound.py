"""Replies we send, parsed back with the stdlib: threading headers, subject, From encoding,
alternatives, attachments, and header injection refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest

from app.domain.email.addresses import MailAddress
from app.domain.email.outbound import (
    MAX_REFERENCES,
    HeaderInjection,
    OutboundAttachment,
    build_reply,
    new_message_id,
    reply_references,
    reply_subject,
)
from app.domain.email.parsing import ParsedMessage, parse_message
from app.domain.errors import InvalidInput

NOW = datetime(2024, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))
CUSTOMER = MailAddress("li.lei@example.cn", "李雷")


def build(**overrides: object) -> EmailMessage:
    arguments: dict[str, object] = {
        "mailbox_address": "support@example.cn",
        "from_name": "客服中心",
        "to": [CUSTOMER],
        "subject": "退款：订单 SO-1001 未收到货",
        "ticket_number": 1042,
        "text": "您好，\n退款已处理 <3 & 谢谢。",
        "message_id": "<ours.2@example.cn>",
        "date": NOW,
        "in_reply_to": "<CAF+abc@mail.gmail.com>",
        "references": ["<ours.1@example.cn>", "<CAF+abc@mail.gmail.com>"],
    }
    arguments.update(overrides)
    return build_reply(**arguments)  # type: ignore[arg-type]


def sent(message: EmailMessage) -> EmailMessage:
    """The bytes on the wire, read back as a mail client would."""
    wire = message.as_bytes()
    assert b"\r\n" in wire  # SMTP line endings
    parsed = message_from_bytes(wire, policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_threading_headers_subject_and_from() -> None:
    message = sent(build())
    assert message["Message-ID"] == "<ours.2@example.cn>"
    assert message["In-Reply-To"] == "<CAF+abc@mail.gmail.com>"
    assert message["References"] == "<ours.1@example.cn> <CAF+abc@mail.gmail.com>"
    assert message["Subject"] == "Re: 退款：订单 SO-1001 未收到货 [#1042]"
    assert message["From"].addresses[0].display_name == "客服中心"
    assert message["From"].addresses[0].addr_spec == "support@example.cn"
    assert message["To"].addresses[0].display_name == "李雷"
    assert message["Date"].datetime == NOW
    assert message["Auto-Submitted"] is None


def test_chinese_names_and_subject_are_rfc2047_on_the_wire() -> None:
    head = build().as_bytes().split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"From: =?utf-8?" in head
    assert b"Subject: Re: =?utf-8?" in head


def test_our_parser_reads_our_reply() -> None:
    result = parse_message(build().as_bytes())
    assert isinstance(result, ParsedMessage)
    assert result.sender == MailAddress("support@example.cn", "客服中心")
    assert result.reply_text == "您好，\n退款已处理 <3 & 谢谢。"
    assert result.in_reply_to == ("<CAF+abc@mail.gmail.com>",)


def test_text_and_escaped_html_alternatives_and_attachments() -> None:
    pdf = OutboundAttachment("退款凭证.pdf", "application/pdf", b"%PDF-1.4")
    message = sent(build(attachments=[pdf]))
    assert message.get_content_type() == "multipart/mixed"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().splitlines() == ["您好，", "退款已处理 <3 & 谢谢。"]
    assert "<div>您好，<br>\n退款已处理 &lt;3 &amp; 谢谢。</div>" in html.get_content().replace("\r\n", "\n")
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "退款凭证.pdf"
    assert attachment.get_content() == b"%PDF-1.4"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Refund", "Re: Refund [#7]"),
        ("Re: Refund", "Re: Refund [#7]"),
        ("RE: Re: Refund [#7]", "Re: Refund [#7]"),
        ("Re: Refund [#7] [#7]", "Re: Refund [#7]"),
        ("回复：退款", "Re: 退款 [#7]"),
        ("答复: 回复: 退款 [#7]", "Re: 退款 [#7]"),
        ("Fwd: Refund", "Re: Fwd: Refund [#7]"),
        ("", "Re: [#7]"),
    ],
)
def test_reply_subject_has_one_re_and_one_tag(subject: str, expected: str) -> None:
    assert reply_subject(subject, 7) == expected


def test_references_are_the_thread_plus_the_parent_capped() -> None:
    thread = [f"<m{i}@example.cn>" for i in range(50)]
    refs = reply_references(thread, "<parent@example.cn>")
    assert len(refs) == MAX_REFERENCES
    assert refs[0] == "<m0@example.cn>"  # the thread's root stays for clients that thread on it
    assert refs[-1] == "<parent@example.cn>"
    assert reply_references([], None) == ()
    assert reply_references(["<a@x> <b@x>"], "<b@x>") == ("<a@x>", "<b@x>")


def test_first_reply_without_parent_has_no_in_reply_to() -> None:
    message = sent(build(in_reply_to=None, references=[]))
    assert message["In-Reply-To"] is None and message["References"] is None


def test_acknowledgement_is_marked_auto_submitted() -> None:
    message = sent(build(auto_submitted=True))
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["X-Auto-Response-Suppress"] == "All"


def test_new_message_id_uses_the_mailbox_domain() -> None:
    first, second = new_message_id("support@Example.cn"), new_message_id("support@Example.cn")
    assert first.startswith("<") and first.endswith("@Example.cn>") and first != second
    with pytest.raises(InvalidInput):
        new_message_id("no-domain")


@pytest.mark.parametrize("bad", ["a\r\nBcc: victim@example.com", "a\nb", "a\rb", "a\x00b"])
@pytest.mark.parametrize(
    "field", ["from_name", "subject", "mailbox_address", "in_reply_to", "message_id", "to", "attachment"]
)
def test_cr_lf_nul_in_any_header_value_is_refused(bad: str, field: str) -> None:
    overrides: dict[str, object] = {
        "from_name": {"from_name": bad},
        "subject": {"subject": bad},
        "mailbox_address": {"mailbox_address": f"support{bad}@example.cn"},
        "in_reply_to": {"in_reply_to": f"<x{bad}@example.cn>"},
        "message_id": {"message_id": f"<x{bad}@example.cn>"},
        "to": {"to": [MailAddress("li@example.cn", bad)]},
        "attachment": {"attachments": [OutboundAttachment(f"x{bad}.pdf", "application/pdf", b"")]},
    }[field]
    with pytest.raises(HeaderInjection) as raised:
        build(**overrides)
    assert "CR, LF or NUL" in raised.value.message


def test_references_with_line_breaks_are_refused() -> None:
    with pytest.raises(HeaderInjection):
        build(references=["<a@x>\r\nBcc: victim@example.com"])


def test_other_unusable_values_are_clear_errors() -> None:
    with pytest.raises(InvalidInput, match="recipient"):
        build(to=[])
    with pytest.raises(InvalidInput, match="time zone"):
        build(date=datetime(2024, 1, 1))
    with pytest.raises(InvalidInput, match="mail address"):
        build(to=[MailAddress("not an address")])
    with pytest.raises(InvalidInput, match="content type"):
        build(attachments=[OutboundAttachment("x", "pdf", b"")])
    assert build(date=datetime(2024, 1, 1, tzinfo=UTC))["Date"] is not None
