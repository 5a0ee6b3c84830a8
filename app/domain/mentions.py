"""Who an internal note mentions: `@name` or `@email` of an agent, matched in plain text.

Pure: the caller passes the agents who could be meant and decides who may be told.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# Chinese input methods type a full-width at sign; both start a mention.
_AT_SIGNS = frozenset("@＠")


@dataclass(frozen=True, slots=True)
class Mentionable:
    """An agent as a note may name them."""

    agent_id: int
    name: str
    email: str


def mentioned_agent_ids(text: str, agents: Iterable[Mentionable]) -> set[int]:
    """The agents `text` mentions. At each `@` (not inside a word, so `li@example.cn` alone
    mentions no one) the longest agent name or email that follows wins, case-insensitively:
    `@Li Lei` is Li Lei, not Li. A name ending in a letter or digit must end there (`@Li` does
    not mention `Lin`); a Chinese name may run straight into the sentence (`@张伟请看`), as
    Chinese is written without spaces. Punctuation after a name ends it (`@Ada,`). A name two
    agents share mentions both; anything else after an `@` stays plain text."""
    keys: dict[str, set[int]] = {}
    for agent in agents:
        for key in (agent.name.strip().casefold(), agent.email.strip().casefold()):
            if key:
                keys.setdefault(key, set()).add(agent.agent_id)
    if not keys:
        return set()
    longest_first = sorted(keys, key=len, reverse=True)
    folded = text.casefold()
    found: set[int] = set()
    for at, char in enumerate(folded):
        if char not in _AT_SIGNS or (at > 0 and _in_word(folded[at - 1])):
            continue
        rest = folded[at + 1 :]
        for key in longest_first:
            if rest.startswith(key) and _ends_there(key, rest[len(key) :]):
                found |= keys[key]
                break
    return found


def _ends_there(key: str, after: str) -> bool:
    """A name ends where the next character cannot continue it."""
    return not after or not (_spaced_word_char(key[-1]) and _spaced_word_char(after[0]))


def _in_word(char: str) -> bool:
    return char.isalnum() or char in "._-+"


def _spaced_word_char(char: str) -> bool:
    """A letter or digit of a script that separates words with spaces (not CJK, kana, hangul)."""
    return (char.isalnum() or char == "_") and unicodedata.east_asian_width(char) not in ("W", "F")
