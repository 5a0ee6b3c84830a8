"""Text in whatever charset mail declares.

Chinese mailers label GBK (and GB18030) text as GB2312; GB18030 is a superset of both, so every
GB label is read as GB18030 and loses nothing. Nothing here raises: undecodable bytes become
U+FFFD, and the caller keeps the raw message.
"""

from __future__ import annotations

import codecs
import re

GB_LABELS = frozenset({"gb2312", "gbk", "x-gbk", "cp936", "euc-cn", "x-euc-cn", "csgb2312", "gb_2312-80", "x-gb2312"})

# Labels read as a wider charset that contains them (WHATWG does the same for Latin-1).
_WIDER = {"gb2312": "gb18030", "gbk": "gb18030", "iso8859-1": "cp1252"}

# Charset labels inside RFC 2047 encoded words (`=?gb2312?B?`) and RFC 2231 parameters
# (`filename*=gb2312''...`), where the stdlib would decode them with the narrow codec.
_GB_IN_HEADER = re.compile(
    r"(=\?|\*=\s*\"?)(" + "|".join(re.escape(label) for label in sorted(GB_LABELS)) + r")(?=[?*'])",
    re.IGNORECASE,
)


def codec_for(label: str | None) -> str | None:
    """The Python codec to read a declared charset with, or None for a missing or unknown label."""
    if not label:
        return None
    label = label.strip().strip('"').lower()
    if label in GB_LABELS:
        return "gb18030"
    try:
        name = codecs.lookup(label).name
    except (LookupError, ValueError):
        return None
    return _WIDER.get(name, name)


def decode_text(data: bytes, charset: str | None) -> str:
    """Bytes of a text part as str, in the declared charset (widened); unlabelled ones are guessed."""
    codec = codec_for(charset)
    # "us-ascii" is what a mailer says when it says nothing; 8-bit bytes under it are guessed.
    if codec is None or codec == "ascii":
        return guess_decode(data)
    try:
        return data.decode(codec, errors="replace")
    except (LookupError, ValueError):  # a name Python knows but cannot read text with (base64, idna...)
        return guess_decode(data)


def guess_decode(data: bytes) -> str:
    """Bytes with no usable label: UTF-8 if they are, else GB18030 if they are, else Windows-1252."""
    for codec in ("utf-8", "gb18030"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("cp1252", errors="replace")


def readable_header_value(value: str) -> str:
    """A raw header value the stdlib header parser will decode correctly.

    Raw 8-bit bytes (carried as surrogate escapes) are decoded as UTF-8, else GB18030; GB labels
    in encoded words and RFC 2231 parameters become GB18030.
    """
    if any("\udc80" <= c <= "\udcff" for c in value):
        value = guess_decode(value.encode("ascii", "surrogateescape"))
    return _GB_IN_HEADER.sub(lambda m: m.group(1) + "gb18030", value)


def clean_text(value: str) -> str:
    """Text safe to store: no NUL (PostgreSQL refuses it), no lone surrogates, LF line ends."""
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return value.encode("utf-8", errors="replace").decode("utf-8")


_CONTROL_RUN = re.compile(r"[\x00-\x1f\x7f\s]+")


def clean_header_text(value: str) -> str:
    """One line of header text: control characters and runs of whitespace become one space."""
    return _CONTROL_RUN.sub(" ", clean_text(value)).strip()
