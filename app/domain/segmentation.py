"""Turning text into search terms, the same way for what is indexed and for what is asked.

PostgreSQL's own parser does not know where Chinese words end (and what it does with CJK
depends on the database's locale), so all tokenising happens here and the database only
stores and matches the result:

- Text is NFKC-normalised (full-width letters and digits become ASCII) and case-folded.
- Markdown syntax is stripped first (link targets, code fences, emphasis, tables), so
  ``https`` or ``**`` never become terms.
- Chinese runs are segmented with jieba (the ``rjieba`` binding of jieba-rs) in search mode,
  which also emits the shorter words inside long ones (增值税 -> 增值, 增值税). Every pair of
  adjacent characters (a bigram) is added too, so a word the dictionary does not know
  (到账 comes out as 到 + 账) or a text segmented differently (开发票 vs 发票) still matches.
- Latin words are stemmed with the Snowball English stemmer (refunds, refunded -> refund).
- Function words of both languages (的, 了, 怎么, the, my ...) are dropped.

Documents become a ``tsvector`` literal with positions and weights (title A, body B, ...);
queries become a ``tsquery`` literal of alternatives (``'a' | 'b'``). Both are built here,
fully quoted, so user text is never handed to ``to_tsquery``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import rjieba
import snowballstemmer

# PostgreSQL limits: positions above 16383 are clamped, at most 256 positions per lexeme,
# lexemes shorter than 2 KiB.
MAX_POSITION = 16_383
MAX_POSITIONS_PER_LEXEME = 256
MAX_LEXEME_LENGTH = 100
# More alternatives than this in one query only cost time: paraphrases rarely need them.
MAX_QUERY_TERMS = 32

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?P<word>[^\W_{_CJK}]+(?:['’.\-][^\W_{_CJK}]+)*)")
_LETTERS_DIGITS = re.compile(r"[^\W\d_]+|\d+")

# Words that say nothing about the topic. Kept small on purpose: a question word such as
# 多久 or "where" still carries intent in a helpdesk and stays.
_STOP_ZH = frozenset(
    "的 了 吗 呢 吧 啊 呀 哦 嘛 是 在 和 与 及 或 也 都 就 还 又 再 很 太 被 把 给 让 对 从 向 这 那 这个 那个 "
    "我 你 他 她 它 我们 你们 他们 我的 您 您的 自己 一个 一下 一些 有 没 不 会 能 可以 要 想 请 怎么 怎样 "
    "怎么办 如何 为什么 什么 哪里 哪 了吗 是否 已经 一直 还是 而且 但是 如果 因为 所以 之后 之前 以及 等 个 "
    "上 下 中 里 后 前 时 到 去 来 说 看 用 做 得 地 着 过".split()
)
_STOP_EN = frozenset(
    "a an the and or but if of to in on at by for with from into onto about as is are was were be been being "
    "do does did doing have has had having i me my mine we us our you your yours he him his she her it its "
    "they them their this that these those there here what which who whom whose when where why how can could "
    "will would shall should may might must not no nor so than too very just also only own same s t don didn "
    "doesn isn wasn aren won wont cant cannot please get got any some all up out off again then once".split()
)


@dataclass(frozen=True, slots=True)
class Term:
    """A search term found in a text: its lexeme and where its word is, as [start, end)."""

    lexeme: str
    start: int
    end: int


@lru_cache(maxsize=1)
def _stemmer() -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=65_536)
def _stem(word: str) -> str:
    if not word.isascii() or not word.isalpha():
        return word
    return str(_stemmer().stemWord(word))


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


_MD_FENCE = re.compile(r"^\s*(```|~~~).*$", re.MULTILINE)
_MD_IMAGE_OR_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_REF_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$", re.MULTILINE)
_MD_AUTOLINK = re.compile(r"<(?:https?|mailto):[^>]*>")
_MD_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_MD_LINE_PREFIX = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)", re.MULTILINE)
_MD_RULE = re.compile(r"^\s*(?:[-*_]\s*){3,}$", re.MULTILINE)
_MD_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$", re.MULTILINE)
_MD_EMPHASIS = re.compile(r"(\*{1,3}|_{2,3}|~~|`+)")
_SPACES = re.compile(r"[ \t]+")


def strip_markdown(text: str) -> str:
    """Plain text of a Markdown body: what a reader sees, without the syntax."""
    text = _MD_FENCE.sub("", text)
    text = _MD_REF_LINK.sub("", text)
    text = _MD_IMAGE_OR_LINK.sub(r"\1", text)
    text = _MD_AUTOLINK.sub("", text)
    text = _MD_HTML_TAG.sub("", text)
    text = _MD_RULE.sub("", text)
    text = _MD_TABLE_RULE.sub("", text)
    text = _MD_LINE_PREFIX.sub("", text)
    text = _MD_EMPHASIS.sub("", text)
    text = text.replace("|", " ")
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _cjk_terms(run: str, offset: int, all_bigrams: bool) -> Iterator[Term]:
    folded = unicodedata.normalize("NFKC", run)
    if len(folded) != len(run):  # compatibility ideographs map one to one; anything else keeps the original
        folded = run
    words = rjieba.tokenize(folded, mode="search")
    for word, start, end in words:
        if word not in _STOP_ZH:
            yield Term(word, offset + start, offset + end)
    # Bigrams catch what segmentation misses: words the dictionary does not know (到账 comes
    # out as 到 + 账) and texts segmented differently on the two sides (开发票 vs 发票). With
    # `all_bigrams` false, only characters the segmenter left on their own are paired.
    cut = rjieba.tokenize(folded)
    singles = {start for word, start, _ in cut if len(word) == 1}
    stop_singles = {start for word, start, _ in cut if len(word) == 1 and word in _STOP_ZH}
    in_words = {i for word, start, end in cut if len(word) > 1 for i in range(start, end)}
    # Characters of a function word (怎么办, 我们) pair with nothing; a lone function word (的)
    # does not pair with part of a real word (的订 in 的订单).
    in_stop_words = {i for word, start, end in cut if len(word) > 1 and word in _STOP_ZH for i in range(start, end)}
    emitted = {(start, end) for _, start, end in words}
    for i in range(len(folded) - 1):
        pair = folded[i : i + 2]
        if (i, i + 2) in emitted or i in in_stop_words or i + 1 in in_stop_words:
            continue
        if (i in stop_singles and (i + 1 in in_words or i + 1 in stop_singles)) or (
            i + 1 in stop_singles and i in in_words
        ):
            continue
        if all_bigrams or (i in singles and i + 1 in singles):
            yield Term(pair, offset + i, offset + i + 2)


def terms(text: str, *, all_bigrams: bool = True) -> list[Term]:
    """Every search term of a plain text, in reading order, with its position in `text`."""
    found: list[Term] = []
    for match in _TOKEN.finditer(text):
        if match.group("cjk") is not None:
            found.extend(_cjk_terms(match.group("cjk"), match.start(), all_bigrams))
            continue
        found.extend(Term(lex, match.start(), match.end()) for lex in _word_lexemes(_fold(match.group("word"))))
    return found


_WORD_JOINERS = re.compile(r"['’.\-]")


@lru_cache(maxsize=65_536)
def _word_lexemes(word: str) -> tuple[str, ...]:
    """Lexemes of one Latin word: stemmed; compounds (wi-fi, iphone15) also whole and in parts."""
    return tuple(_word_lexemes_uncached(word))


def _word_lexemes_uncached(word: str) -> Iterator[str]:
    parts = [p for p in _WORD_JOINERS.split(word) if p]
    if "-" in word and all(p.isalpha() for p in parts):
        parts.append("".join(parts))  # wi-fi is also wifi
    for part in parts:
        pieces = _LETTERS_DIGITS.findall(part)
        candidates = [part, *pieces] if len(pieces) > 1 else [part]  # iphone15: also iphone, 15
        for candidate in candidates:
            if candidate in _STOP_EN or len(candidate) > MAX_LEXEME_LENGTH:
                continue
            lexeme = _stem(candidate)
            if lexeme and lexeme not in _STOP_EN:
                yield lexeme


def lexemes(text: str) -> list[str]:
    """The lexemes of a plain text, in order (duplicates kept: they count)."""
    return [t.lexeme for t in terms(text)]


def query_lexemes(text: str) -> list[str]:
    """The distinct lexemes of a question, most specific first, at most MAX_QUERY_TERMS.

    Longer Chinese words come before the bigrams and single characters that overlap them,
    so a cut at the limit drops the least specific terms."""
    unique = list(dict.fromkeys(lexemes(text)))
    ranked = sorted(unique, key=lambda lex: (-_specificity(lex), unique.index(lex)))
    return ranked[:MAX_QUERY_TERMS]


def _specificity(lexeme: str) -> int:
    if re.search(f"[{_CJK}]", lexeme):
        return 2 if len(lexeme) >= 2 else 0
    return 2 if len(lexeme) >= 3 else 1


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(fields: Sequence[tuple[str, str]]) -> str:
    """A tsvector literal of several weighted plain texts, e.g. [(title, "A"), (body, "B")].

    Positions run on across fields (a phrase never spans two of them: each field starts
    one position after a gap). Repeated lexemes keep up to 256 positions, as PostgreSQL does."""
    positions: dict[str, list[str]] = {}
    position = 1
    for text, weight in fields:
        for lexeme in lexemes(text):
            slots = positions.setdefault(lexeme, [])
            if len(slots) < MAX_POSITIONS_PER_LEXEME:
                slots.append(f"{min(position, MAX_POSITION)}{weight}")
            position += 1
        position += 1
    return " ".join(f"{_quote(lex)}:{','.join(slots)}" for lex, slots in positions.items())


def tsquery_literal(lexemes_: Iterable[str], weights: str = "") -> str | None:
    """`'a' | 'b' | ...` (each restricted to `weights` when given), or None when nothing is left."""
    suffix = f":{weights}" if weights else ""
    parts = [f"{_quote(lex)}{suffix}" for lex in lexemes_]
    return " | ".join(parts) if parts else None


def query_groups(text: str) -> list[list[str]]:
    """The concepts of a question, each as its alternative lexemes, for an all-words match.

    Terms whose words overlap in the text are one concept (增值税 with 增值; iphone15 with
    iphone and 15; 到账 with 账), so `all concepts` asks for every word the user typed
    without demanding each sub-word."""
    groups: list[tuple[int, int, list[str]]] = []
    # Bigrams across word boundaries would merge neighbouring words into one concept: left out.
    for term in sorted(terms(text, all_bigrams=False), key=lambda t: (t.start, -t.end)):
        if groups and term.start < groups[-1][1]:
            start, end, lexemes_ = groups[-1]
            if term.lexeme not in lexemes_:
                lexemes_.append(term.lexeme)
            groups[-1] = (start, max(end, term.end), lexemes_)
        else:
            groups.append((term.start, term.end, [term.lexeme]))
    unique: list[list[str]] = []
    for _, _, lexemes_ in groups[:MAX_QUERY_TERMS]:
        if lexemes_ not in unique:
            unique.append(lexemes_)
    return unique


def tsquery_all_literal(groups: Sequence[Sequence[str]], weights: str = "") -> str | None:
    """`('a' | 'a2') & 'b' & ...`: every group matches (each restricted to `weights` when given)."""
    parts = [f"({alternatives})" for group in groups if (alternatives := tsquery_literal(group, weights))]
    return " & ".join(parts) if parts else None


_LATIN_WORD = re.compile(rf"[^\W\d_{_CJK}]{{4,}}")


def misspellable_words(text: str, limit: int = 5) -> list[str]:
    """Latin words of a question long enough for trigram matching to find them misspelt
    (folded, not stemmed: trigrams compare spellings), stop words left out."""
    words = [w for w in _LATIN_WORD.findall(_fold(text)) if w not in _STOP_EN]
    return list(dict.fromkeys(words))[:limit]


_HAS_CJK = re.compile(f"[{_CJK}]")
_LATIN_RUN = re.compile(rf"[^\W_{_CJK}]+(?:['’.\-][^\W_{_CJK}]+)*")


def find_lexemes(text: str, wanted: Iterable[str], per_lexeme: int = 20) -> list[Term]:
    """Where the `wanted` lexemes occur in a plain text, in reading order, without segmenting
    it: a Chinese lexeme is its own spelling, so it is found by substring; Latin words are
    folded and stemmed one by one. Cheap enough to run on every search hit's body."""
    wanted = set(wanted)
    found: list[Term] = []
    for lexeme in (w for w in wanted if _HAS_CJK.search(w)):
        start = text.find(lexeme)
        for _ in range(per_lexeme):
            if start == -1:
                break
            found.append(Term(lexeme, start, start + len(lexeme)))
            start = text.find(lexeme, start + 1)
    if any(not _HAS_CJK.search(w) for w in wanted):
        for match in _LATIN_RUN.finditer(text):
            for lexeme in _word_lexemes(_fold(match.group())):
                if lexeme in wanted:
                    found.append(Term(lexeme, match.start(), match.end()))
                    break
    return sorted(found, key=lambda t: (t.start, t.end))
