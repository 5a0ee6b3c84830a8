"""The message fed to the parser in pieces, and attachments decoded a piece at a time: the same
results as the whole message parsed at once and `get_payload(decode=True)`."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.email import parsing
from app.domain.email.parsing import (
    MailLimits,
    ParsedMessage,
    Rejected,
    RejectReason,
    decoded_chunks,
    parse_message,
    parse_message_chunks,
)
from tests.unit.email.mime import encoded_word, leaf, mail, multipart

ENCODINGS = ["base64", "quoted-printable", "8bit", "7bit", "binary"]


def pieces(raw: bytes, cuts: list[int]) -> list[bytes]:
    bounds = sorted({0, len(raw), *(c % (len(raw) + 1) for c in cuts)})
    return [raw[a:b] for a, b in itertools.pairwise(bounds)]


def with_attachment(payload: bytes, cte: str) -> bytes:
    body = leaf('text/plain; charset="gbk"', "收据见附件。".encode("gbk"), cte="base64")
    name = encoded_word("收据.pdf", "gbk")
    disposition = f'Content-Disposition: attachment; filename="{name}"'
    attachment = leaf(f'application/pdf; name="{name}"', payload, cte=cte, headers=[disposition])
    return mail(multipart("mixed", [body, attachment]), "Subject: receipt", "Message-ID: <r@x.cn>")


@settings(max_examples=150, deadline=None)
@given(payload=st.binary(max_size=3000), cte=st.sampled_from(ENCODINGS), cuts=st.lists(st.integers(0, 10_000)))
def test_a_message_fed_in_pieces_parses_as_the_whole(payload: bytes, cte: str, cuts: list[int]) -> None:
    if cte in ("8bit", "7bit", "binary"):
        payload = payload.replace(b"\r", b"").replace(b"\n", b"\r\n")  # line ends as a mailer sends them
    raw = with_attachment(payload, cte)
    whole, fed = parse_message(raw), parse_message_chunks(pieces(raw, cuts))
    assert isinstance(whole, ParsedMessage) and isinstance(fed, ParsedMessage)
    assert (fed.subject, fed.text, fed.sender) == (whole.subject, whole.text, whole.sender)
    assert [(a.filename, a.content_type, a.content) for a in fed.attachments] == [
        (a.filename, a.content_type, a.content) for a in whole.attachments
    ]


@settings(max_examples=200, deadline=None)
@given(payload=st.binary(max_size=5000), cte=st.sampled_from(ENCODINGS), run=st.integers(1, 300))
def test_decoding_a_piece_at_a_time_gives_what_the_stdlib_decodes(payload: bytes, cte: str, run: int) -> None:
    # Runs of a few hundred characters, so pieces split a payload many times over.
    raw = leaf("application/octet-stream", payload, cte=cte)
    part = BytesParser(policy=policy.default).parsebytes(raw)
    pieces = list(decoded_chunks(part, run))
    assert all(pieces) and b"".join(pieces) == part.get_payload(decode=True)


def test_pieces_of_a_large_attachment_are_bounded() -> None:
    payload = bytes(range(256)) * 20_000  # 5 MB
    parsed = parse_message(with_attachment(payload, "base64"))
    assert isinstance(parsed, ParsedMessage)
    (attachment,) = parsed.attachments
    sizes = [len(chunk) for chunk in attachment.chunks()]
    assert sum(sizes) == attachment.size == len(payload) and max(sizes) <= parsing.CHUNK


def test_pieces_over_the_limit_are_rejected_before_the_rest_is_read() -> None:
    def endless() -> Iterator[bytes]:
        yield b"From: a@b.cn\r\nSubject: x\r\n\r\n"
        while True:
            yield b"x" * 1000

    result = parse_message_chunks(endless(), MailLimits(max_bytes=10_000))
    assert isinstance(result, Rejected) and result.reason is RejectReason.TOO_LARGE
