"""Quoted history trimmed from replies: each style in English and Chinese, and the reply shapes
of Outlook, Foxmail, Gmail and QQ Mail as they arrive."""

from __future__ import annotations

import pytest

from app.domain.email.html_text import html_to_text
from app.domain.email.parsing import ParsedMessage, parse_message
from app.domain.email.quotes import trim_quoted
from tests.unit.email.mime import fixture

NEW = "Still waiting for the refund.\n退款还没到账。"
HISTORY = "Hello, we are processing your refund.\n您好，退款正在处理中。"


@pytest.mark.parametrize(
    "header",
    [
        "On Mon, Jan 1, 2024 at 9:00 AM Customer Service <support@example.cn> wrote:",
        "On Mon, Jan 1, 2024 at 9:00 AM Customer Service <support@example.cn>\nwrote:",
        "On 1 Jan 2024, at 09:00, Customer Service <support@example.cn> wrote:",
        '在 2024-01-01 09:00:00，"客服中心" <support@example.cn> 写道：',
        "在 2024年1月1日 星期一 上午9:00，客服中心 写道:",
        "客服中心 <support@example.cn> 于2024年1月1日周一 09:00写道：",
        "-----Original Message-----\nFrom: Customer Service <support@example.cn>\nSent: Monday, 1 January 2024",
        "-----原始邮件-----\n发件人: 客服中心 <support@example.cn>\n发送时间: 2024年1月1日 9:00",
        "------------------ 原始邮件 ------------------\n"
        '发件人: "客服中心"<support@example.cn>;\n发送时间: 2024年1月1日(星期一) 上午9:00',
        "------------------\xa0原始邮件\xa0------------------",
        "________________________________\nFrom: Customer Service <support@example.cn>\nSent: Monday, 1 January 2024",
        "________________________________\n发件人: 客服中心 <support@example.cn>\n发送时间: 2024年1月1日 9:00",
        "From: Customer Service <support@example.cn>\nDate: 2024-01-01 09:00\nTo: li.lei@example.cn",
        "发件人： 客服中心\n发送时间： 2024-01-01 09:00\n收件人： 李雷",
    ],
)
def test_history_after_a_quote_header_is_cut(header: str) -> None:
    text = f"{NEW}\n\n{header}\n\n{HISTORY}\n> {HISTORY}\n"
    assert trim_quoted(text) == NEW


@pytest.mark.parametrize("marker", [">", "> ", ">>"])
def test_quoted_lines_are_dropped_and_inline_answers_kept(marker: str) -> None:
    text = f"{marker}Which order?\n{marker}订单号是多少？\nSO-1001\n\n{marker}When did you pay?\n昨天付的款。\n"
    assert trim_quoted(text) == "SO-1001\n\n昨天付的款。"


def test_text_without_history_is_unchanged() -> None:
    text = "Hello,\n\nMy order SO-1001 has not arrived.\nOn Monday she wrote: nothing.\n-- \nLi Lei"
    assert trim_quoted(text) == text


def test_forwarded_message_is_content_not_history() -> None:
    text = "Please see below.\n\n---------- Forwarded message ---------\nFrom: Shop <shop@example.cn>\nOrder shipped."
    assert trim_quoted(text) == text


def test_a_reply_that_is_all_history_keeps_the_whole_text() -> None:
    text = "-----Original Message-----\nFrom: a@example.cn\nSent: today\n\nthe forwarded request"
    assert trim_quoted(text) == text


def reply(name: str) -> ParsedMessage:
    result = parse_message(fixture(name))
    assert isinstance(result, ParsedMessage), result
    return result


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gmail_reply_en.eml", "Still no refund, please check again."),
        ("gmail_reply_zh.eml", "退款还没到账，麻烦再查一下。"),
        ("outlook_reply_en.eml", "Thanks, that works for me.\n\nLi Lei"),
        ("outlook_reply_zh.eml", "好的，谢谢。朱镕基"),
        ("foxmail_reply.eml", "收到，谢谢！"),
        ("qq_reply.eml", "我的订单号是 SO-1001，请尽快处理。"),
    ],
)
def test_reply_shapes_of_common_clients(name: str, expected: str) -> None:
    message = reply(name)
    assert message.reply_text == expected
    assert len(message.text) > len(expected)  # the full text is still there


def test_foxmail_html_alternative_is_trimmed_too() -> None:
    # Foxmail's HTML part uses the "-----原始邮件-----" separator.
    html = reply("foxmail_reply.eml").html
    assert html is not None
    assert trim_quoted(html_to_text(html)) == "收到，谢谢！"
