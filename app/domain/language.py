"""Guessing a ticket's language from its text when neither the intake nor the customer says.

Scripts decide most cases (Han characters mean zh, kana ja, Hangul ko, ...); Latin-script
text is told apart by its most common short words. Unsure means None, not a guess.
"""

from __future__ import annotations

import re

_SCRIPTS: list[tuple[str, re.Pattern[str]]] = [
    ("ja", re.compile(r"[\u3040-\u30ff]")),  # kana first: Japanese text also uses Han characters
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("zh", re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("th", re.compile(r"[\u0e00-\u0e7f]")),
]

_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("the and is are was my your not have has with this that for you it of to in on can".split()),
    "fr": frozenset("le la les est et je ne pas mon ma mes une un des du avec pour vous que qui sur dans".split()),
    "de": frozenset("der die das und ist ich nicht mein meine ein eine mit für sie zu auf den dem bitte".split()),
    "es": frozenset("el la los las es y no mi mis un una con para usted que por del está pero".split()),
    "pt": frozenset("o a os as é e não meu minha um uma com para você que por do da está mas".split()),
    "it": frozenset("il lo la gli le è e non mio mia un una con per lei che del della sono ma".split()),
}
_WORD = re.compile(r"[a-zà-öø-ÿ']+")


def detect_language(text: str) -> str | None:
    """A BCP 47 primary tag, or None when the text does not say clearly enough."""
    counts = {lang: len(pattern.findall(text)) for lang, pattern in _SCRIPTS}
    if counts["ja"] >= 2:
        return "ja"
    script, found = max(((lang, n) for lang, n in counts.items() if lang != "ja"), key=lambda item: item[1])
    if found >= 2:
        return script
    words = _WORD.findall(text.lower())
    if not words:
        return None
    scores = {lang: sum(word in vocabulary for word in words) for lang, vocabulary in _FUNCTION_WORDS.items()}
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    if top >= 2 and top > second:
        return best
    return None
