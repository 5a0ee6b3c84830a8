"""The quoted history of a reply trimmed off, leaving what the sender wrote.

The caller keeps the raw message, so trimming only decides what becomes the comment. What is cut:
everything from the first quote header on (Gmail/Apple "On ... wrote:", Chinese "在 ... 写道：" and
"... 于 ... 写道：", Outlook's "-----Original Message-----" or underscore line with a From/发件人
block, Foxmail/QQ "------------------ 原始邮件 ------------------"), and every `>` line.
Forwarded messages are content, not history, and are kept.
"""

from __future__ import annotations

import re

_SEPARATOR = re.compile(r"^\s*-{3,}\s*(original message|原始邮件|原始郵件)\s*-{3,}\s*$", re.IGNORECASE)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
_FROM_FIELD = re.compile(r"^\s*\*?(from|发件人|寄件者|寄件人)\*?\s*[:：]", re.IGNORECASE)
_DATE_FIELD = re.compile(r"^\s*\*?(sent|date|发送时间|日期|時間|寄件日期|发送日期)\*?\s*[:：]", re.IGNORECASE)
_ON_WROTE = re.compile(r"^\s*on\s.*\d.*\bwrote\s*:\s*$", re.IGNORECASE)
_ON_START = re.compile(r"^\s*on\s", re.IGNORECASE)
_WROTE_END = re.compile(r"\bwrote\s*:\s*$", re.IGNORECASE)
_ZAI_XIEDAO = re.compile(r"^\s*(在|於|于).*\d.*(写道|寫道)\s*[:：]\s*$")
_YU_XIEDAO = re.compile(r"\S.*(于|於)\s*\d.*(写道|寫道)\s*[:：]\s*$")
_QUOTED = re.compile(r"^\s*>")
# Attribution lines carry a date (a digit), which keeps "On Monday she wrote:" in prose;
# an attribution line is short, a long paragraph that happens to end in "wrote:" is text.
_MAX_HEADER_LINE = 300


def trim_quoted(text: str) -> str:
    """What the sender wrote above (and between) the quoted history; the whole text if that is empty."""
    lines = text.replace("\r\n", "\n").split("\n")
    cut = _history_start(lines)
    kept = [line for line in lines[:cut] if not _QUOTED.match(line)]
    if len(kept) == len(lines):
        return text.strip()
    trimmed = _squeeze_blank_lines(kept)
    return trimmed if trimmed else text.strip()


def _history_start(lines: list[str]) -> int:
    """Index of the first line of a quote header, or len(lines)."""
    for i, line in enumerate(lines):
        if len(line) > _MAX_HEADER_LINE:
            continue
        following = [n for n in lines[i + 1 : i + 6] if n.strip()]
        if _SEPARATOR.match(line) or _ON_WROTE.match(line) or _ZAI_XIEDAO.match(line) or _YU_XIEDAO.match(line):
            return i
        # Gmail wraps a long attribution: "On Mon, 1 Jan 2024 at 10:00, Name <a@b.c>\nwrote:"
        if _ON_START.match(line) and re.search(r"\d", line) and i + 1 < len(lines) and _WROTE_END.search(lines[i + 1]):
            return i
        if _UNDERSCORES.match(line) and following and _FROM_FIELD.match(following[0]):
            return i
        # Outlook and Foxmail without a separator: a From/发件人 line with a Sent/发送时间 field under it.
        if _FROM_FIELD.match(line) and any(_DATE_FIELD.match(n) for n in following[:3]):
            return i
    return len(lines)


def _squeeze_blank_lines(lines: list[str]) -> str:
    out: list[str] = []
    for line in lines:
        line = line.rstrip()
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip()
