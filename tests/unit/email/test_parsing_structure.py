"""Body choice, HTML-only mail, attachments and inline images, and every REJECTED reason."""

from __future__ import annotations

import base64

import pytest

from app.domain.email.html_text import MAX_HTML_CHARS
from app.domain.email.parsing import (
    MAX_HEADER_CHARS,
    MAX_REFERENCES,
    MailLimits,
    ParsedMessage,
    Rejected,
    RejectReason,
    parse_message,
)
from tests.unit.email.mime import leaf, mail, multipart, text_mail

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def parsed(raw: bytes, limits: MailLimits | None = None) -> ParsedMessage:
    result = parse_message(raw) if limits is None else parse_message(raw, limits)
    assert isinstance(result, ParsedMessage), result
    return result


def rejected(raw: bytes, limits: MailLimits | None = None) -> Rejected:
    result = parse_message(raw) if limits is None else parse_message(raw, limits)
    assert isinstance(result, Rejected), result
    return result


def test_text_plain_is_preferred_over_html() -> None:
    raw = mail(
        multipart(
            "alternative",
            [
                leaf("text/plain; charset=utf-8", "纯文本 plain".encode()),
                leaf("text/html; charset=utf-8", b"<p>html <b>version</b></p>"),
            ],
        ),
        "Subject: both",
    )
    message = parsed(raw)
    assert message.text == "纯文本 plain"
    assert message.html == "<p>html <b>version</b></p>"
    assert message.attachments == ()


def test_html_only_mail_becomes_text_with_tables_links_entities_and_breaks() -> None:
    html = (
        "<html><head><style>p {color: red}</style></head><body>"
        "<p>您好&nbsp;客服，订单&amp;退款&lt;急&gt;</p>"
        "<table><tr><th>订单号</th><th>金额</th></tr><tr><td>SO-1001</td><td>&yen;199</td></tr></table>"
        "<p>第一行<br>第二行<br/>第三行</p>"
        '<p>详情见 <a href="https://shop.example.cn/o/1001">订单页面</a></p>'
        "<script>alert('x')</script></body></html>"
    )
    message = parsed(mail(leaf("text/html; charset=gbk", html.encode("gbk"), cte="quoted-printable"), "Subject: html"))
    text = message.text
    assert "您好 客服，订单&退款<急>" in text
    assert "订单号" in text and "SO-1001" in text and "¥199" in text
    # table cells stay on their row
    assert any("SO-1001" in line and "¥199" in line for line in text.splitlines())
    assert "第一行\n第二行\n第三行" in text
    assert "[订单页面](https://shop.example.cn/o/1001)" in text
    assert "alert" not in text and "color: red" not in text and "<" not in text.replace("<急>", "")
    assert message.html == html


def test_empty_plain_alternative_falls_back_to_the_html() -> None:
    raw = mail(
        multipart("alternative", [leaf("text/plain", b"  \r\n"), leaf("text/html", b"<div>real text</div>")]),
        "Subject: x",
    )
    assert parsed(raw).text == "real text"


def test_attachments_and_inline_images() -> None:
    html = '<p>截图如下 <img src="cid:shot1@example.cn"></p>'
    raw = mail(
        multipart(
            "mixed",
            [
                multipart(
                    "related",
                    [
                        multipart(
                            "alternative",
                            [
                                leaf("text/plain; charset=utf-8", "截图如下".encode()),
                                leaf("text/html; charset=utf-8", html.encode()),
                            ],
                            boundary="alt",
                        ),
                        # inline image: Content-ID, no file name
                        leaf(
                            "image/png",
                            PNG,
                            cte="base64",
                            headers=["Content-ID: <shot1@example.cn>", "Content-Disposition: inline"],
                        ),
                        # image with Content-ID and no disposition at all
                        leaf("image/gif", b"GIF89a", cte="base64", headers=["Content-ID: <logo>"]),
                    ],
                    boundary="rel",
                ),
                leaf(
                    "application/pdf; name=invoice.pdf",
                    b"%PDF-1.4",
                    cte="base64",
                    headers=['Content-Disposition: attachment; filename="invoice.pdf"'],
                ),
                leaf(
                    "text/plain; charset=utf-8",
                    "日志内容".encode(),
                    headers=['Content-Disposition: attachment; filename="log.txt"'],
                ),
                leaf(
                    "image/jpeg",
                    b"\xff\xd8\xff",
                    cte="base64",
                    headers=['Content-Disposition: inline; filename="photo.jpg"'],
                ),
            ],
            boundary="mix",
        ),
        "Subject: with files",
    )
    message = parsed(raw)
    assert message.text == "截图如下"
    by_name = {(a.filename, a.content_id): a for a in message.attachments}
    assert set(by_name) == {
        (None, "shot1@example.cn"),
        (None, "logo"),
        ("invoice.pdf", None),
        ("log.txt", None),
        ("photo.jpg", None),
    }
    shot = by_name[(None, "shot1@example.cn")]
    assert (shot.content, shot.content_type, shot.inline, shot.size) == (PNG, "image/png", True, len(PNG))
    assert by_name[(None, "logo")].inline is True
    assert by_name[("invoice.pdf", None)].inline is False
    assert by_name[("log.txt", None)].content == "日志内容".encode()  # the file's bytes, not decoded text
    assert by_name[("photo.jpg", None)].inline is True


def test_attached_message_is_one_part_and_its_insides_are_not_extracted() -> None:
    inner = text_mail("转发的原邮件", "Subject: inner", sender="a@example.cn")
    inner_part = b'Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename="fwd.eml"\r\n\r\n' + inner
    raw = mail(multipart("mixed", [leaf("text/plain; charset=utf-8", "请看附件".encode()), inner_part]), "Subject: fwd")
    message = parsed(raw)
    (attachment,) = message.attachments
    assert attachment.filename == "fwd.eml" and attachment.content_type == "message/rfc822"
    assert b"Subject: inner" in attachment.content
    assert message.text == "请看附件"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\li\\合同.docx", "合同.docx"),
        ("a\x00b.txt", "ab.txt"),
        (".htaccess", "htaccess"),
    ],
)
def test_file_names_are_display_names_only(given: str, expected: str) -> None:
    disposition = "attachment; filename*=utf-8''" + "".join(f"%{b:02X}" for b in given.encode())
    raw = mail(
        multipart(
            "mixed",
            [
                leaf("text/plain", b"x"),
                leaf(
                    "application/octet-stream", b"data", cte="base64", headers=[f"Content-Disposition: {disposition}"]
                ),
            ],
        )
    )
    (attachment,) = parsed(raw).attachments
    assert attachment.filename == expected


def test_threading_headers_date_and_recipients() -> None:
    raw = text_mail(
        "hi",
        "To: =?utf-8?B?5a6i5pyN?= <Support@Example.cn>, other@example.cn",
        "Cc: undisclosed-recipients:;",
        "Reply-To: li.backup@example.cn",
        "Subject: x",
        "Message-ID:  <abc.123@mail.example.cn> ",
        "In-Reply-To: <171.1.2@example.cn>",
        "References: <root@example.cn>\r\n <171.1.2@example.cn> junk",
        "Date: Mon, 1 Jan 2024 10:00:00 +0800",
    )
    message = parsed(raw)
    assert message.message_id == "<abc.123@mail.example.cn>"
    assert message.in_reply_to == ("<171.1.2@example.cn>",)
    assert message.references == ("<root@example.cn>", "<171.1.2@example.cn>")
    assert [(a.name, a.address, a.key) for a in message.to] == [
        ("客服", "Support@Example.cn", "support@example.cn"),
        ("", "other@example.cn", "other@example.cn"),
    ]
    assert message.cc == ()
    assert [a.address for a in message.reply_to] == ["li.backup@example.cn"]
    assert message.date is not None and message.date.isoformat() == "2024-01-01T10:00:00+08:00"
    assert message.header("message-id") == "<abc.123@mail.example.cn>"


def test_nul_and_control_characters_never_reach_stored_text() -> None:
    raw = text_mail("a\x00b\r\nc", "Subject: =?utf-8?Q?line=0Abreak=00?=")
    message = parsed(raw)
    assert message.text == "ab\nc"
    assert message.subject == "line break"


def test_no_message_id_and_no_date_are_none() -> None:
    message = parsed(text_mail("hi", "Subject: x", "Date: not a date"))
    assert message.message_id is None
    assert message.date is None


# ----------------------------------------------------------------------------- rejections


def test_rejected_over_the_byte_limit() -> None:
    raw = text_mail("x" * 2000, "Subject: big")
    assert rejected(raw, MailLimits(max_bytes=1000)).reason is RejectReason.TOO_LARGE
    assert isinstance(parse_message(raw, MailLimits(max_bytes=len(raw))), ParsedMessage)


def test_default_byte_limit_is_40_mb() -> None:
    assert MailLimits().max_bytes == 40 * 1024 * 1024
    raw = text_mail("x", "Subject: big") + b"x" * (40 * 1024 * 1024)
    assert rejected(raw).reason is RejectReason.TOO_LARGE


@pytest.mark.parametrize(
    "sender_line",
    [
        None,
        "From:",
        "From: not an address",
        "From: <@example.cn>",
        "From: li.lei@",
        "From: undisclosed-recipients:;",
        "From: =?utf-8?B?5p2O?=",
    ],
)
def test_rejected_without_a_usable_from(sender_line: str | None) -> None:
    headers = [sender_line] if sender_line else []
    result = rejected(text_mail("hi", *headers, "Subject: x", sender=""))
    assert result.reason is RejectReason.NO_SENDER
    assert "From" in result.detail


def test_rejected_with_more_than_1000_parts() -> None:
    def message(n: int) -> bytes:
        return mail(multipart("mixed", [leaf("text/plain", b"x")] * n), "Subject: parts")

    assert isinstance(parse_message(message(999)), ParsedMessage)  # 999 parts + the root = 1000
    result = rejected(message(1000))
    assert result.reason is RejectReason.TOO_MANY_PARTS and "1000" in result.detail
    # the parse stops at the limit instead of reading a million parts first
    assert rejected(message(100_000)).reason is RejectReason.TOO_MANY_PARTS


def nested(depth: int) -> bytes:
    entity = leaf("text/plain", b"deep")
    for level in range(depth):
        entity = multipart("mixed", [entity], boundary=f"level{level}")
    return mail(entity, "Subject: deep")


def test_rejected_when_nesting_deeper_than_20() -> None:
    assert parsed(nested(20)).text == "deep"
    assert rejected(nested(21)).reason is RejectReason.TOO_DEEP
    # deeper than Python's stack: still an answer, not a RecursionError
    assert rejected(nested(1500)).reason in (RejectReason.TOO_DEEP, RejectReason.TOO_MANY_PARTS)


def test_rejected_with_over_100_header_lines_of_one_name() -> None:
    assert isinstance(parse_message(text_mail("hi", *["Received: from a by b"] * 100)), ParsedMessage)
    result = rejected(text_mail("hi", *["Received: from a by b"] * 101))
    assert result.reason is RejectReason.TOO_MANY_HEADERS and "received" in result.detail
    # in a nested part too
    part = leaf("text/plain", b"x", headers=["X-Junk: 1"] * 101)
    assert rejected(mail(multipart("mixed", [part]))).reason is RejectReason.TOO_MANY_HEADERS


@pytest.mark.parametrize(
    "entity",
    [
        b"Content-Type: multipart/mixed\r\n\r\nno boundary parameter\r\n",
        b'Content-Type: multipart/mixed; boundary="never"\r\n\r\nthe boundary never appears\r\n',
    ],
)
def test_rejected_malformed_mime(entity: bytes) -> None:
    result = rejected(mail(entity, "Subject: broken"))
    assert result.reason is RejectReason.MALFORMED
    assert "Defect" in result.detail


# ----------------------------------------------------------------------------- cost bounds


def test_huge_headers_are_cut_before_the_quadratic_stdlib_parser_sees_them() -> None:
    # Unbounded, this Subject takes gigabytes and the To line minutes in email.headerregistry.
    words = " ".join(["=?utf-8?B?6YCA5qy+?="] * 200_000)
    recipients = ", ".join(f'"N{i}" <a{i}@example.cn>' for i in range(100_000))
    references = " ".join(f"<{i}@example.cn>" for i in range(300_000))
    raw = text_mail("hi", f"Subject: {words}", f"To: {recipients}", f"References: {references}")
    message = parsed(raw)
    assert message.subject.startswith("退款退款") and len(message.subject) < MAX_HEADER_CHARS
    assert 0 < len(message.to) < 1000
    # References are read raw, not cut: the thread's first id and the newest ones are kept
    assert len(message.references) == MAX_REFERENCES
    assert message.references[0] == "<0@example.cn>" and message.references[-1] == "<299999@example.cn>"


def test_only_the_first_megabyte_of_html_is_turned_into_text() -> None:
    html = "<p>开头</p>" + "<table><tr><td>订单</td><td>SO-1</td></tr></table>" * 200_000 + "<p>结尾</p>"
    message = parsed(mail(leaf("text/html; charset=utf-8", html.encode()), "Subject: big"))
    assert message.text.startswith("开头") and "结尾" not in message.text
    assert message.html == html
    assert MAX_HTML_CHARS == 1_000_000
