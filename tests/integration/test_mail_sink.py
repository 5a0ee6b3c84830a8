"""The recording SMTP sink (app/demo/mail_sink.py) over real SMTP: what it records, refusals,
STARTTLS with a test CA."""

from __future__ import annotations

import asyncio
import ssl
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from app.demo.mail_sink import CapturedMail, MailSink
from tests.fixtures.certificates import make_certificate


async def _arrived(sink: MailSink, count: int) -> list[CapturedMail]:
    async with asyncio.timeout(30):
        return await sink.wait_for(count)


def _message(subject: str = "你好 [#7]") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "客服 <support@example.cn>"
    message["To"] = "王芳 <wang@example.cn>"
    message["Subject"] = subject
    message["Message-ID"] = "<reply-1@example.cn>"
    message["In-Reply-To"] = "<cust-1@mail.example.cn>"
    message["References"] = "<cust-0@mail.example.cn> <cust-1@mail.example.cn>"
    message.set_content("您的订单已发货。")
    message.add_alternative("<p>您的订单已发货。</p>", subtype="html")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="发票.pdf")
    return message


async def test_records_envelope_headers_bodies_and_attachments() -> None:
    async with MailSink() as sink:
        await aiosmtplib.send(_message(), hostname="127.0.0.1", port=sink.port)
        [mail] = await _arrived(sink, 1)
    assert mail.mail_from == "support@example.cn"
    assert mail.recipients == ("wang@example.cn",)
    assert mail.subject == "你好 [#7]"
    assert mail.to == ("王芳 <wang@example.cn>",)
    assert "support@example.cn" in mail.from_
    assert mail.message_id == "<reply-1@example.cn>"
    assert mail.in_reply_to == "<cust-1@mail.example.cn>"
    assert mail.references == ("<cust-0@mail.example.cn>", "<cust-1@mail.example.cn>")
    assert mail.text.strip() == "您的订单已发货。"
    assert mail.html is not None and "您的订单已发货" in mail.html
    assert mail.attachments == [("发票.pdf", "application/pdf", b"%PDF-1.4")]
    assert mail.raw.startswith(b"From:") or b"\r\nSubject:" in mail.raw
    assert sink.to("WANG@example.cn") == [mail]


@pytest.mark.parametrize("code", [451, 550])
async def test_refuses_the_next_transactions_with_the_code_then_accepts(code: int) -> None:
    async with MailSink() as sink:
        sink.refuse(code, times=2)
        for _ in range(2):
            with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
                await aiosmtplib.send(_message(), hostname="127.0.0.1", port=sink.port)
            assert [r.code for r in refused.value.recipients] == [code]
        assert sink.messages == []
        await aiosmtplib.send(_message(), hostname="127.0.0.1", port=sink.port)
        assert len(await _arrived(sink, 1)) == 1


async def test_starttls_with_a_test_ca(tmp_path: Path) -> None:
    certificate = make_certificate(tmp_path)
    async with MailSink(tls=certificate.server_context()) as sink:
        trusting = ssl.create_default_context(cafile=str(certificate.ca_file))
        await aiosmtplib.send(_message(), hostname="127.0.0.1", port=sink.port, start_tls=True, tls_context=trusting)
        # Without the CA the client refuses the certificate; without STARTTLS the sink refuses MAIL.
        with pytest.raises(ssl.SSLCertVerificationError):
            await aiosmtplib.send(_message(), hostname="127.0.0.1", port=sink.port, start_tls=True)
        with pytest.raises(aiosmtplib.SMTPSenderRefused):
            await aiosmtplib.send(_message(), hostname="127.0.0.1", port=sink.port, start_tls=False)
        assert len(sink.messages) == 1
