"""Mentions in internal notes: who `@name` and `@email` name (app.domain.mentions)."""

from __future__ import annotations

import pytest

from app.domain.mentions import Mentionable, mentioned_agent_ids

AGENTS = [
    Mentionable(1, "张伟", "zhang.wei@example.cn"),
    Mentionable(2, "张伟民", "weimin@example.cn"),
    Mentionable(3, "Li Lei", "li.lei@example.cn"),
    Mentionable(4, "Li", "li@example.cn"),
    Mentionable(5, "Ada", "ada@example.com"),
    Mentionable(6, "Lin", "lin@example.com"),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Chinese names, with and without a space after, and with the full-width at sign.
        ("@张伟 请看一下这个退款", {1}),
        ("@张伟请看一下这个退款", {1}),
        ("＠张伟 请跟进", {1}),
        ("@张伟民 请跟进", {2}),
        # Names with spaces: the longest name wins.
        ("@Li Lei can you check?", {3}),
        ("@Li can you check?", {4}),
        # Emails, with punctuation after them.
        ("cc @li.lei@example.cn.", {3}),
        ("@ADA@EXAMPLE.COM: please call back", {5}),
        # Punctuation right after a name ends it; case does not matter.
        ("Thanks @ada, and @LIN!", {5, 6}),
        ("(@Ada)", {5}),
        # A Latin name must end at a word boundary.
        ("@Adam will do it", set()),
        ("@Lina", set()),
        # Unknown names, bare addresses and a lone at sign stay plain text.
        ("@nobody here", set()),
        ("write to li@example.cn", set()),
        ("price @ 5 yuan", set()),
        ("", set()),
        ("@", set()),
    ],
)
def test_who_a_note_mentions(text: str, expected: set[int]) -> None:
    assert mentioned_agent_ids(text, AGENTS) == expected


def test_a_name_two_agents_share_mentions_both() -> None:
    agents = [Mentionable(1, "Wang Fang", "a@example.cn"), Mentionable(2, "wang fang", "b@example.cn")]
    assert mentioned_agent_ids("@Wang Fang please", agents) == {1, 2}


def test_several_mentions_in_one_note() -> None:
    assert mentioned_agent_ids("@张伟 和 @Li Lei 一起处理，@ada@example.com 知悉", AGENTS) == {1, 3, 5}


def test_no_agents_no_mentions() -> None:
    assert mentioned_agent_ids("@张伟", []) == set()
