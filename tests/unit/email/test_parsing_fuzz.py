"""Generated MIME trees (random nesting of multipart/mixed|alternative|related, charsets,
transfer encodings, header junk) and raw junk: the parser always answers ParsedMessage or
Rejected, within the limits, and the rules downstream of it never raise either."""

from __future__ import annotations

import base64
import quopri

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.email.classification import classify
from app.domain.email.conversation_match import KnownTicket, lookup_keys, match_conversation
from app.domain.email.parsing import MailLimits, ParsedMessage, Rejected, mime_children, parse_message
from app.domain.enums import TicketStatus
from tests.unit.email.mime import encode_body, encoded_word, leaf, mail, multipart

LIMITS = MailLimits(max_bytes=200_000, max_parts=12, max_depth=4, max_header_repeats=3)
CHARSETS = ["utf-8", "gb2312", "gbk", "gb18030", "big5", "iso-2022-jp", "latin-1", "us-ascii", "x-bogus", ""]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "binary", "x-uuencode", "bogus"]
TYPES = ["text/plain", "text/html", "image/png", "application/pdf", "message/rfc822", "message/delivery-status"]
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)

junk_header = st.one_of(
    st.sampled_from(
        [
            b"X-Junk: \xff\xfe\x00",
            b"no colon here",
            b" continuation without a header",
            b"Content-Type: multipart/mixed",
            b"Content-Type: text/plain; charset*=''",
            b"Content-Disposition: attachment; filename*0*=gb2312''%B7; filename*2=x",
            b"From: <<>>@@",
            b'To: a@b.cn, ,,, "unterminated',
            b"Subject: =?utf-8?B?not base64?=",
            b"Subject: =?gb2312?Q?=C9=FA?= =?bogus?B?eA==?=",
            b"Message-ID: <" + b"x" * 2000 + b">",
            b"Auto-Submitted: auto-replied",
            b"Content-Transfer-Encoding: base64",
        ]
    ),
    st.binary(max_size=30).map(lambda b: b"X-Rand: " + b.replace(b"\n", b"").replace(b"\r", b"")),
)


@st.composite
def leaves(draw: st.DrawFn) -> bytes:
    content_type = draw(st.sampled_from(TYPES))
    charset = draw(st.sampled_from(CHARSETS))
    text = draw(TEXT)
    try:
        payload = text.encode(charset) if charset else text.encode()
    except (UnicodeEncodeError, LookupError):
        payload = draw(st.binary(max_size=40))
    params = f'; charset="{charset}"' if charset else ""
    headers: list[str] = []
    if draw(st.booleans()):
        name = draw(st.sampled_from(["发票.pdf", "a b.txt", "../x", "图片.png"]))
        disposition = draw(st.sampled_from(["attachment", "inline"]))
        headers.append(f'Content-Disposition: {disposition}; filename="{encoded_word(name, "utf-8")}"')
    if draw(st.booleans()):
        headers.append("Content-ID: <img1@example.cn>")
    entity = leaf(content_type + params, payload, cte=draw(st.sampled_from(ENCODINGS)), headers=headers)
    junk = draw(st.lists(junk_header, max_size=3))
    return b"\r\n".join(junk) + (b"\r\n" if junk else b"") + entity


def trees(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return st.builds(
        lambda subtype, parts, boundary, truncate: (lambda raw: raw[: len(raw) // 2] if truncate else raw)(
            multipart(subtype, parts, boundary=boundary)
        ),
        st.sampled_from(["mixed", "alternative", "related", "report", "signed"]),
        st.lists(children, max_size=4),
        st.sampled_from(["b1", "=_b2", "b1", "----=_NextPart_000"]),  # repeats: a boundary reused inside its own part
        st.booleans(),
    )


entities = st.recursive(leaves(), trees, max_leaves=16)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    headers: list[str | bytes] = []
    sender = draw(st.sampled_from(["Li Lei <li@example.cn>", f"{encoded_word('李雷', 'gbk')} <li@example.cn>", ""]))
    subject = draw(TEXT)
    headers.append(f"Subject: {encoded_word(subject, draw(st.sampled_from(['utf-8', 'gb18030'])))}")
    headers.append(f"In-Reply-To: <{draw(st.sampled_from(['a@x', 'b@x']))}>")
    headers.extend(draw(st.lists(junk_header, max_size=5)))
    return mail(draw(entities), *headers, sender=sender)


def check(raw: bytes) -> None:
    result = parse_message(raw, LIMITS)
    assert isinstance(result, (ParsedMessage, Rejected))
    if isinstance(result, Rejected):
        assert result.detail
        return
    # within the limits
    assert len(result.attachments) < LIMITS.max_parts
    stack, count = [(result.message, 0)], 0
    while stack:
        part, depth = stack.pop()
        assert part is not None and depth <= LIMITS.max_depth
        count += 1
        stack.extend((child, depth + 1) for child in mime_children(part))
    assert count <= LIMITS.max_parts
    # stored text is storable
    for value in (result.text, result.reply_text, result.subject, result.sender.name, result.sender.address):
        assert "\x00" not in value
        value.encode("utf-8")
    for attachment in result.attachments:
        assert attachment.filename is None or ("/" not in attachment.filename and "\x00" not in attachment.filename)
    # the rules downstream never raise on what the parser accepted
    classify(result, own_addresses=["support@example.cn"])
    keys = lookup_keys(result.in_reply_to, result.references, result.subject)
    match_conversation(
        in_reply_to=result.in_reply_to,
        references=result.references,
        subject=result.subject,
        sender=result.sender.address,
        tickets_by_message_id={},
        tickets_by_number={n: _ticket(n) for n in keys.ticket_numbers},
    )


def _ticket(number: int) -> KnownTicket:
    return KnownTicket(ticket_id=number, status=TicketStatus.CLOSED, customer_email="li@example.cn")


FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@FUZZ
@given(messages())
def test_generated_mime_trees_always_get_an_answer(raw: bytes) -> None:
    check(raw)


@FUZZ
@given(st.binary(max_size=2000))
def test_raw_junk_always_gets_an_answer(raw: bytes) -> None:
    check(raw)


@FUZZ
@given(messages(), st.integers(min_value=0, max_value=2000), st.binary(min_size=1, max_size=20))
def test_corrupted_messages_always_get_an_answer(raw: bytes, at: int, noise: bytes) -> None:
    at = at % (len(raw) + 1)
    check(raw[:at] + noise + raw[at:])


def test_encode_body_helper_round_trips() -> None:
    # the generator's own encodings are real ones (else the fuzz would only test junk)
    assert base64.decodebytes(encode_body("退款".encode(), "base64")) == "退款".encode()
    assert quopri.decodestring(encode_body("退款".encode(), "quoted-printable")) == "退款".encode()
