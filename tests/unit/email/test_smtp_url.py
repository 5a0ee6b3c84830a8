"""HELPDESK_SMTP_URL parsing: every accepted form, and a clear refusal of the rest."""

from __future__ import annotations

import pytest

from app.domain.email.smtp_url import SmtpServer, parse_smtp_url
from app.domain.enums import MailSecurity
from app.domain.errors import InvalidInput


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.cn", SmtpServer("mail.example.cn", 25, MailSecurity.NONE)),
        ("smtp://127.0.0.1:2525", SmtpServer("127.0.0.1", 2525, MailSecurity.NONE)),
        ("smtp://mail.example.cn?starttls=true", SmtpServer("mail.example.cn", 587, MailSecurity.STARTTLS)),
        ("smtp://mail.example.cn:25?starttls=false", SmtpServer("mail.example.cn", 25, MailSecurity.NONE)),
        ("smtps://mail.example.cn", SmtpServer("mail.example.cn", 465, MailSecurity.TLS)),
        (
            "smtps://help%40example.cn:p%40ss%3Aw0rd@smtp.exmail.qq.com:465",
            SmtpServer("smtp.exmail.qq.com", 465, MailSecurity.TLS, "help@example.cn", "p@ss:w0rd"),
        ),
        ("SMTP://relay:2525/", SmtpServer("relay", 2525, MailSecurity.NONE)),
    ],
)
def test_accepted_forms(url: str, expected: SmtpServer) -> None:
    assert parse_smtp_url(url) == expected


def test_the_password_is_not_in_the_repr() -> None:
    assert "secret" not in repr(parse_smtp_url("smtp://u:secret@host"))


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://mail.example.cn", "smtp:// or smtps://"),
        ("mail.example.cn:25", "smtp:// or smtps://"),
        ("smtp://", "no host"),
        ("smtp://host:99999", "not a valid URL"),
        ("smtp://host:port", "not a valid URL"),
        ("smtp://host/path", "no path"),
        ("smtp://host?tls=true", "unknown parameter"),
        ("smtp://host?starttls=maybe", "true or false"),
        ("smtps://host?starttls=true", "does not apply"),
        ("smtp://:pw@host", "no user"),
        ("smtp://host\r\nRCPT TO:<x@y>", "CR, LF"),
    ],
)
def test_refusals_say_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(InvalidInput, match="HELPDESK_SMTP_URL") as refused:
        parse_smtp_url(url)
    assert says in refused.value.message
    assert refused.value.field == ["HELPDESK_SMTP_URL"]
