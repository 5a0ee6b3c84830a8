"""Sentiment from the bilingual lexicon shipped with the app, and language detection."""

from __future__ import annotations

import pytest

from app.domain.enums import Sentiment
from app.domain.language import detect_language
from app.domain.sentiment import Lexicon, classify, sentiment_score
from app.services.lexicons import sentiment_lexicon


def sentiment(text: str) -> Sentiment:
    return classify(sentiment_score(text, sentiment_lexicon()))


# ---------------------------------------------------------------- sentiment

ANGRY_CHINESE = [
    "你们的客服态度恶劣，我要投诉！！",
    "等了两周还没到货，太差了，要求退款",
    "产品用了三天就坏了，太失望了，忍无可忍",
    "垃圾产品，骗子公司，我要起诉你们",
    "客服一直不回复，气死我了，再也不买了",
    "系统又崩溃了，这种服务无法接受！",
    "我对你们的处理非常不满意",
]

ANGRY_ENGLISH = [
    "This is unacceptable, I want a refund NOW!!",
    "Worst service ever, I am furious",
    "Your agent was rude and incompetent. I will complain to my lawyer.",
    "The product arrived broken and your support is useless",
    "I am so frustrated and angry, this whole thing is a scam",
    "Terrible experience. Disappointed doesn't begin to cover it!!",
]

CALM_CHINESE = [
    "请问发票什么时候能开？",
    "我想修改一下收货地址",
    "请问你们周末上班吗？",
    "如何重置我的密码",
    "我的订单号是SO-1001，请帮我查询物流",
    "请尽快帮我处理一下，谢谢",
]

CALM_ENGLISH = [
    "How do I change my shipping address?",
    "What are your opening hours on Saturday?",
    "Can I add a second user to my account?",
    "Please send me the invoice for order 1001",
    "Where can I download the manual for the X200 router?",
    "My parcel is a bit late, could you tell me when it will arrive?",
]

GRATEFUL = [
    "谢谢你们的及时帮助，非常满意",
    "感谢客服，服务很专业，好评！",
    "Thank you so much, your team was excellent and very helpful",
    "Great support, I really appreciate it, thanks!",
    "I love how fast you fixed this, thank you",
]


@pytest.mark.parametrize("text", ANGRY_CHINESE + ANGRY_ENGLISH)
def test_angry_messages_are_negative(text: str) -> None:
    assert sentiment(text) is Sentiment.NEGATIVE


@pytest.mark.parametrize("text", CALM_CHINESE + CALM_ENGLISH)
def test_calm_and_neutral_messages_are_not_negative(text: str) -> None:
    assert sentiment(text) is not Sentiment.NEGATIVE


@pytest.mark.parametrize("text", GRATEFUL)
def test_grateful_messages_are_positive(text: str) -> None:
    assert sentiment(text) is Sentiment.POSITIVE


@pytest.mark.parametrize(
    "text",
    [
        "not happy",
        "I am not happy with the delivery",
        "I am not very happy",
        "I don't appreciate being ignored",
        "我对结果不满意",
    ],
)
def test_a_negated_positive_word_leans_negative(text: str) -> None:
    assert sentiment_score(text, sentiment_lexicon()) < 0
    assert sentiment(text) is not Sentiment.POSITIVE


def test_not_happy_scores_the_opposite_of_happy() -> None:
    lexicon = sentiment_lexicon()
    assert sentiment_score("happy", lexicon) > 0
    assert sentiment_score("not happy", lexicon) == -sentiment_score("happy", lexicon)
    assert sentiment("not happy") is Sentiment.NEGATIVE


@pytest.mark.parametrize(
    "text",
    [
        "我对服务不太满意",  # "not very satisfied"
        "说实话，不是很满意",  # "to be honest, not very satisfied"
        "没有很好地解决我的问题",
    ],
)
def test_a_chinese_negation_before_a_degree_word_still_negates(text: str) -> None:
    assert sentiment_score(text, sentiment_lexicon()) < 0


@pytest.mark.parametrize(
    ("typed", "straight"),
    [
        ("I don\u2019t appreciate being ignored", "I don't appreciate being ignored"),
        ("This isn\u2019t great at all", "This isn't great at all"),
        ("It wasn\u2019t helpful", "It wasn't helpful"),
    ],
)
def test_typographic_apostrophes_negate_like_straight_ones(typed: str, straight: str) -> None:
    """Phones type \u2019 for an apostrophe; "don\u2019t appreciate" must not read as praise."""
    lexicon = sentiment_lexicon()
    assert sentiment_score(typed, lexicon) == sentiment_score(straight, lexicon)
    assert sentiment_score(typed, lexicon) < 0


def test_exclamation_marks_strengthen_only_a_negative_message() -> None:
    lexicon = sentiment_lexicon()
    assert sentiment_score("This is terrible!!", lexicon) < sentiment_score("This is terrible", lexicon)
    assert sentiment_score("太差了！！", lexicon) < sentiment_score("太差了", lexicon)
    assert sentiment_score("Thanks, great!!", lexicon) == sentiment_score("Thanks, great", lexicon)
    assert sentiment_score("Where is it?!!", lexicon) == 0


def test_chinese_phrases_match_longest_first_and_count_each_character_once() -> None:
    lexicon = Lexicon.parse("", "满意 2\n不满意 -3\n不满 -2\n")
    assert sentiment_score("我很不满意", lexicon) == -3  # not 不满 (-2) + 满意 (+2) + ...
    assert sentiment_score("满意", lexicon) == 2
    assert sentiment_score("不满，不满意", lexicon) == -5


def test_lexicon_files_parse_comments_and_weights() -> None:
    lexicon = Lexicon.parse("# comment\nangry -3  # trailing\nThanks 1\n\n", "生气 -3\n")
    assert lexicon.english == {"angry": -3, "thanks": 1}
    assert lexicon.chinese == {"生气": -3}


def test_the_shipped_lexicon_has_both_languages() -> None:
    lexicon = sentiment_lexicon()
    assert lexicon.english["furious"] < 0 < lexicon.english["thanks"]
    assert lexicon.chinese["投诉"] < 0 < lexicon.chinese["感谢"]


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (-5, Sentiment.NEGATIVE),
        (-2, Sentiment.NEGATIVE),
        (-1, Sentiment.NEUTRAL),
        (0, Sentiment.NEUTRAL),
        (1, Sentiment.NEUTRAL),
        (2, Sentiment.POSITIVE),
        (9, Sentiment.POSITIVE),
    ],
)
def test_classify_thresholds(score: int, expected: Sentiment) -> None:
    assert classify(score) is expected


def test_empty_text_is_neutral() -> None:
    assert sentiment("") is Sentiment.NEUTRAL


# ---------------------------------------------------------------- language detection


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("我无法登录我的账号，请帮忙处理一下", "zh"),
        ("网络故障", "zh"),
        ("我的 iPhone 无法连接 Wi-Fi", "zh"),
        ("ログインできません。パスワードを忘れました", "ja"),
        ("東京の住所に配送してください", "ja"),  # kanji with kana is Japanese, not Chinese
        ("로그인이 안 됩니다. 도와주세요", "ko"),
        ("Я не могу войти в свой аккаунт", "ru"),
        ("I cannot log in to my account and the page is blank", "en"),
        ("The printer is not working and it is urgent for my team", "en"),
        ("Je ne peux pas me connecter à mon compte depuis hier", "fr"),
        ("Bonjour, ma commande n'est pas arrivée et je suis inquiet pour la livraison", "fr"),
        ("Ich kann mich nicht in mein Konto einloggen, bitte helfen Sie mir", "de"),
        ("Die Lieferung ist nicht angekommen und ich warte seit einer Woche", "de"),
    ],
)
def test_detects_the_language_of_a_message(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize("text", ["", "   ", "ok", "Hi", "123 456", "Bonjour", "中", "SO-1001", "!!!", "http://x.io"])
def test_too_little_text_gives_no_language(text: str) -> None:
    assert detect_language(text) is None
