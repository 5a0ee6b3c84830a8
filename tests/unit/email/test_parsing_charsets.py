"""Every charset the issue names, in real encoded bytes, through QP and base64; headers in
RFC 2047 and RFC 2231 forms."""

from __future__ import annotations

import pytest

from app.domain.email.parsing import ParsedMessage, parse_message
from tests.unit.email.mime import encoded_word, leaf, mail, multipart, text_mail

CASES = [
    ("gb2312", "请尽快退款，谢谢"),
    ("gbk", "退款申请：朱镕基 喆 堃"),
    ("gb18030", "退款 𠀀 镕"),
    ("big5", "請儘快退款，謝謝"),
    ("iso-2022-jp", "返金をお願いします"),
    ("utf-8", "退款 refund ✓"),
    ("latin-1", "Rückerstattung für café"),
]


def parsed(raw: bytes) -> ParsedMessage:
    result = parse_message(raw)
    assert isinstance(result, ParsedMessage), result
    return result


@pytest.mark.parametrize(("charset", "text"), CASES)
@pytest.mark.parametrize("cte", ["base64", "quoted-printable", "8bit"])
def test_body_in_every_charset_and_transfer_encoding(charset: str, text: str, cte: str) -> None:
    if cte == "8bit" and charset == "iso-2022-jp":
        cte = "7bit"  # ISO-2022-JP is a 7-bit encoding
    message = parsed(text_mail(text, "Subject: x", charset=charset, cte=cte))
    assert message.text == text
    assert message.reply_text == text


@pytest.mark.parametrize("label", ["gb2312", "GB2312", "gbk", "x-gbk", "cp936"])
def test_gb_labels_on_gbk_and_gb18030_text_decode_in_full(label: str) -> None:
    # 镕, 喆 and 堃 are not in GB2312; mailers still label such text GB2312.
    text = "朱镕基 喆 堃 申请退款"
    raw = mail(leaf(f"text/plain; charset={label}", text.encode("gb18030"), cte="base64"), "Subject: x")
    assert parsed(raw).text == text


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("gb2312", "退款"),
        ("gbk", "朱镕基退款"),
        ("big5", "退款申請"),
        ("iso-2022-jp", "返金"),
        ("utf-8", "退款 ✓"),
        ("latin-1", "Café"),
    ],
)
@pytest.mark.parametrize("q", [False, True])
def test_rfc2047_subject_and_sender_name(charset: str, text: str, q: bool) -> None:
    word = encoded_word(text, charset, q=q)
    name = f"Wang {text}"
    raw = text_mail("hi", f"Subject: Re: {word}", sender=f"{encoded_word(name, charset, q=q)} <wang@example.cn>")
    message = parsed(raw)
    assert message.subject == f"Re: {text}"
    assert message.sender.name == name
    assert message.sender.address == "wang@example.cn"


def test_gb2312_labelled_encoded_word_with_gbk_characters() -> None:
    word = encoded_word("朱镕基", "gbk", label="gb2312")
    message = parsed(text_mail("hi", f"Subject: {word} 退款", sender=f'"{word}" <zhu@example.cn>'))
    assert message.subject == "朱镕基 退款"
    assert message.sender.name == "朱镕基"


def test_raw_8bit_headers_in_utf8_and_gbk() -> None:
    for charset in ("utf-8", "gbk"):
        raw = text_mail("hi", b"Subject: " + "退款申请 朱镕基".encode(charset), sender="")
        raw = b"From: " + "李雷".encode(charset) + b" <li@example.cn>\r\n" + raw
        message = parsed(raw)
        assert message.subject == "退款申请 朱镕基"
        assert message.sender.name == "李雷"


@pytest.mark.parametrize(
    "disposition",
    [
        "attachment; filename*=utf-8''%E5%8F%91%E7%A5%A8%20%E9%80%80%E6%AC%BE.pdf",
        # GB2312 label on a GBK file name (镕 is not in GB2312)
        "attachment; filename*=gb2312''%B7%A2%C6%B1%20%C8%DB.pdf".replace("%C8%DB", "%E9F"),
        # RFC 2231 continuations
        "attachment;\r\n filename*0*=utf-8''%E5%8F%91%E7%A5%A8;\r\n filename*1*=%20%E9%80%80%E6%AC%BE.pdf",
        # RFC 2047 inside a quoted file name: not standard, but what Outlook and Foxmail send
        f'attachment; filename="{encoded_word("发票 退款.pdf", "utf-8")}"',
    ],
)
def test_rfc2231_and_rfc2047_file_names(disposition: str) -> None:
    pdf = b"%PDF-1.4 fake"
    raw = mail(
        multipart(
            "mixed",
            [
                leaf("text/plain; charset=utf-8", "见附件".encode()),
                leaf("application/pdf", pdf, cte="base64", headers=[f"Content-Disposition: {disposition}"]),
            ],
        ),
        "Subject: invoice",
    )
    message = parsed(raw)
    assert message.text == "见附件"
    (attachment,) = message.attachments
    expected = "发票 镕.pdf" if "%E9F" in disposition else "发票 退款.pdf"
    assert attachment.filename == expected
    assert attachment.content == pdf
    assert attachment.size == len(pdf)
    assert attachment.content_type == "application/pdf"


def test_unknown_and_missing_charsets_are_guessed_not_raised() -> None:
    unknown = mail(leaf("text/plain; charset=x-unknown-charset", "退款".encode()), "Subject: x")
    assert parsed(unknown).text == "退款"
    gbk_unlabelled = mail(leaf("text/plain", "退款".encode("gbk")), "Subject: x")
    assert parsed(gbk_unlabelled).text == "退款"
    ascii_labelled_utf8 = mail(leaf("text/plain; charset=us-ascii", "退款".encode()), "Subject: x")
    assert parsed(ascii_labelled_utf8).text == "退款"
