"""Segmentation, query building and snippets: the pure half of knowledge-base search."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain import knowledge as rules
from app.domain import segmentation as seg
from app.domain.enums import AgentRole, ArticleStatus, TicketStatus
from app.domain.errors import InvalidTransition, PreconditionFailed
from app.domain.principal import CredentialKind, Principal
from app.domain.snippets import snippet

# ---------------------------------------------------------------- tokens


def test_chinese_is_segmented_into_words_and_bigrams() -> None:
    question = seg.lexemes("退款多久到账")
    title = seg.lexemes("退款到账时间说明")
    assert {"退款", "多久", "到账"} <= set(question)
    assert {"退款", "时间", "说明", "到账"} <= set(title)
    # What lets the question find the title: shared words, and 到账 (a word the dictionary
    # splits into 到 + 账) rebuilt as a bigram on both sides.
    assert {"退款", "到账"} <= set(question) & set(title)


def test_search_mode_keeps_the_words_inside_long_words() -> None:
    assert {"增值税", "增值", "专用发票", "发票"} <= set(seg.lexemes("增值税专用发票"))
    assert "发票" in seg.lexemes("怎么开发票")  # 开发票 is one dictionary word


def test_function_words_are_dropped_in_both_languages() -> None:
    assert seg.lexemes("我的订单在哪里") == ["订单"]
    assert seg.lexemes("Where is my order?") == ["order"]
    assert seg.lexemes("的了吗 the and of") == []


def test_english_is_case_folded_and_stemmed() -> None:
    assert seg.lexemes("Refunds REFUNDED refunding") == ["refund", "refund", "refund"]
    assert seg.lexemes("Passwords") == seg.lexemes("password")


def test_full_width_and_mixed_script_text() -> None:
    assert seg.lexemes("ＡＰＩ返回４２９") == ["api", "返回", "429"]
    assert seg.lexemes("iPhone15电池") == ["iphone15", "iphon", "15", "电池"]
    assert set(seg.lexemes("Wi-Fi 掉线")) >= {"wi", "fi", "wifi", "掉线"}


def test_markdown_syntax_never_becomes_a_term() -> None:
    body = (
        "## 标题\n\n**加粗** 和 `code` 与 [链接文字](https://example.com/path)\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n```\nfenced\n```\n<b>html</b>"
    )
    plain = seg.strip_markdown(body)
    for syntax in ("##", "**", "`", "](", "https", "---", "<b>", "```"):
        assert syntax not in plain
    assert "链接文字" in plain and "fenced" in plain and "加粗" in plain
    assert "https" not in seg.lexemes(plain) and "exampl" not in seg.lexemes(plain)


def test_terms_point_at_their_words() -> None:
    text = "Your 退款 was refunded"
    for term in seg.terms(text):
        surface = text[term.start : term.end]
        assert seg.lexemes(surface)[0] == term.lexeme or term.lexeme in seg.lexemes(surface)


# ---------------------------------------------------------------- tsvector and tsquery literals


def test_tsvector_literal_has_weights_positions_and_quotes() -> None:
    literal = seg.tsvector_literal([("O'Brien 退款", "A"), ("退款 body", "B")])
    assert literal == "'o':1A 'brien':2A '退款':3A,5B 'bodi':6B"


def test_tsvector_positions_are_capped_per_lexeme_and_overall() -> None:
    literal = seg.tsvector_literal([("refund " * 400, "B")])
    positions = literal.split(":", 1)[1].split(",")
    assert len(positions) == seg.MAX_POSITIONS_PER_LEXEME
    long = seg.tsvector_literal([(" ".join(f"w{i}" for i in range(20_000)), "B")])
    positions = [int(p) for p in re.findall(r"(?:[:,])(\d+)B", long)]
    assert max(positions) == seg.MAX_POSITION


def test_tsquery_literal_quotes_every_term_so_user_text_cannot_inject_operators() -> None:
    assert seg.tsquery_literal(["退款", "o'brien"]) == "'退款' | 'o''brien'"
    assert seg.tsquery_literal(["a\\b"], "AB") == "'a\\\\b':AB"
    assert seg.tsquery_literal([]) is None


@given(st.text(max_size=200))
def test_any_text_makes_a_well_formed_query(text: str) -> None:
    literal = seg.tsquery_literal(seg.query_lexemes(text))
    if literal is None:
        return
    # Every alternative is one quoted lexeme: no operator survives outside quotes.
    assert re.fullmatch(r"'(?:[^']|'')*'(?: \| '(?:[^']|'')*')*", literal), literal
    assert len(literal.split(" | ")) <= seg.MAX_QUERY_TERMS


def test_query_lexemes_put_specific_terms_first_and_are_capped() -> None:
    lexemes = seg.query_lexemes("账 退款")
    assert lexemes.index("退款") < lexemes.index("账")
    assert len(seg.query_lexemes(" ".join(f"word{i}" for i in range(100)))) == seg.MAX_QUERY_TERMS


def test_query_groups_ask_for_every_word_with_its_alternatives() -> None:
    assert seg.query_groups("退款多久到账") == [["退款"], ["多久"], ["到账", "账"]]
    assert seg.query_groups("增值税 iPhone15") == [["增值税", "增值"], ["iphone15", "iphon", "15"]]
    assert seg.tsquery_all_literal([["a"], ["b", "c"]], "ABC") == "('a':ABC) & ('b':ABC | 'c':ABC)"
    assert seg.tsquery_all_literal([]) is None


def test_misspellable_words_are_the_long_latin_ones() -> None:
    assert seg.misspellable_words("refnud the 退款 to my CARD ok") == ["refnud", "card"]


# ---------------------------------------------------------------- snippets


def test_snippet_shows_the_matched_words_not_the_opening() -> None:
    body = "会员权益说明。" * 30 + "退款会在审核通过后原路退回，银行卡 3-7 个工作日到账。" + "积分规则。" * 30
    excerpt = snippet(body, set(seg.query_lexemes("退款多久到账")), width=60)
    assert "退款" in excerpt and "到账" in excerpt
    assert excerpt.startswith("…") and excerpt.endswith("…")
    assert len(excerpt) <= 62


def test_snippet_finds_stemmed_english_and_does_not_cut_words() -> None:
    body = ("Intro text about many things. " * 10) + "Your refunds arrive on the original card. " + "Tail. " * 20
    excerpt = snippet(body, {"refund"}, width=50)
    assert "refunds" in excerpt
    inner = excerpt.strip("…")
    assert body.find(inner) != -1
    start = body.find(inner)
    assert start == 0 or body[start - 1] == " "


def test_snippet_of_a_short_or_unmatched_text() -> None:
    assert snippet("  short   text ", {"x"}) == "short text"
    assert snippet("word " * 100, {"nothing"}, width=20).startswith("word")


# ---------------------------------------------------------------- article rules


def _principal(credential: CredentialKind = CredentialKind.SESSION) -> Principal:
    return Principal(agent_id=1, role=AgentRole.AGENT, credential=credential)


def test_lifecycle() -> None:
    assert rules.published(ArticleStatus.DRAFT) is ArticleStatus.PUBLISHED
    assert rules.published(ArticleStatus.ARCHIVED) is ArticleStatus.PUBLISHED
    assert rules.archived(ArticleStatus.PUBLISHED) is ArticleStatus.ARCHIVED
    assert rules.archived(ArticleStatus.DRAFT) is ArticleStatus.ARCHIVED
    with pytest.raises(InvalidTransition):
        rules.published(ArticleStatus.PUBLISHED)
    with pytest.raises(InvalidTransition):
        rules.archived(ArticleStatus.ARCHIVED)
    assert not rules.edit_needs_supervisor(ArticleStatus.DRAFT)
    assert rules.edit_needs_supervisor(ArticleStatus.PUBLISHED)


def test_who_reads_what_and_who_counts_views() -> None:
    assert rules.readable_statuses(None) == {ArticleStatus.PUBLISHED}
    assert rules.readable_statuses(_principal(CredentialKind.API_TOKEN)) == {ArticleStatus.PUBLISHED}
    assert rules.readable_statuses(_principal()) == set(ArticleStatus)
    assert rules.counts_views(None) and rules.counts_views(_principal(CredentialKind.API_TOKEN))
    assert not rules.counts_views(_principal())


def test_draft_from_ticket() -> None:
    draft = rules.draft_from_ticket(
        status=TicketStatus.CLOSED,
        subject="  Printer offline ",
        description="It says offline.",
        resolution="Fixed IP.",
        category="device",
        tags=["printer"],
        language="en-GB",
    )
    assert draft.title == "Printer offline"
    assert draft.body == "## Problem\n\nIt says offline.\n\n## Resolution\n\nFixed IP.\n"
    assert (draft.category, draft.tags, draft.language) == ("device", ["printer"], "en-GB")
    chinese = rules.draft_from_ticket(
        status=TicketStatus.RESOLVED,
        subject="s",
        description="d",
        resolution="r",
        category=None,
        tags=[],
        language="zh",
    )
    assert chinese.body.startswith("## 问题描述")
    for status, resolution in ((TicketStatus.OPEN, "r"), (TicketStatus.RESOLVED, "  ")):
        with pytest.raises(PreconditionFailed):
            rules.draft_from_ticket(
                status=status,
                subject="s",
                description="d",
                resolution=resolution,
                category=None,
                tags=[],
                language=None,
            )
