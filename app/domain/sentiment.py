"""Sentiment of a customer's message from a bilingual (Chinese and English) lexicon.

The word lists are data (app/domain/lexicons/*.txt), loaded by the services and passed in.
English is matched by word, with a negation just before flipping the sign ("not happy");
Chinese has no spaces, so phrases are matched as substrings, longest first, each
character counted once. Exclamation marks strengthen a negative message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.domain.enums import Sentiment

_WORD = re.compile(r"[a-z']+")
_NEGATIONS = frozenset(
    {"not", "no", "never", "don't", "doesn't", "isn't", "wasn't", "didn't", "can't", "cannot", "won't"}
)
_HAN = re.compile(r"[\u4e00-\u9fff]")
# A negation just before a phrase, possibly softened by a degree word: 不满意 is in the
# lexicon, but 不太满意 / 不是很满意 / 没有很好 must read as negative too.
_CHINESE_NEGATION = re.compile(r"(?:[不没别未]|没有)(?:太|很|是|是很|怎么|够|大|那么|算)?$")
# Phones and word processors type typographic apostrophes ("don\u2019t").
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


@dataclass(frozen=True, slots=True)
class Lexicon:
    english: dict[str, int]
    chinese: dict[str, int]

    @classmethod
    def parse(cls, english_text: str, chinese_text: str) -> Lexicon:
        return cls(_parse(english_text), _parse(chinese_text))


def _parse(text: str) -> dict[str, int]:
    """Lines of `phrase<TAB or spaces>weight`; # starts a comment."""
    entries: dict[str, int] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        phrase, weight = line.rsplit(maxsplit=1)
        entries[phrase.strip().lower()] = int(weight)
    return entries


def sentiment_score(text: str, lexicon: Lexicon) -> int:
    score = 0
    words = _WORD.findall(text.lower().translate(_APOSTROPHES))
    for i, word in enumerate(words):
        weight = lexicon.english.get(word)
        if weight is None:
            continue
        negated = any(w in _NEGATIONS for w in words[max(0, i - 2) : i])
        score += -weight if negated else weight
    if _HAN.search(text):
        taken = [False] * len(text)
        for phrase in sorted(lexicon.chinese, key=len, reverse=True):
            start = text.find(phrase)
            while start != -1:
                end = start + len(phrase)
                if not any(taken[start:end]):
                    negated = _CHINESE_NEGATION.search(text, max(0, start - 4), start) is not None
                    weight = lexicon.chinese[phrase]
                    score += -weight if negated and weight > 0 else weight
                    taken[start:end] = [True] * len(phrase)
                start = text.find(phrase, end)
    if score < 0 and (text.count("!") + text.count("！")) >= 2:
        score -= 1
    return score


def classify(score: int, threshold: int = 2) -> Sentiment:
    if score <= -threshold:
        return Sentiment.NEGATIVE
    if score >= threshold:
        return Sentiment.POSITIVE
    return Sentiment.NEUTRAL
