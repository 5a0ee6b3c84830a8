"""Pure rules of the web form and the satisfaction survey: the limit's notation, ratings and the
low-csat tag, and the texts of the mails."""

from __future__ import annotations

import pytest

from app.domain.customer_mail import acknowledgement_text, survey_text, survey_url
from app.domain.errors import InvalidInput, ValidationErrors
from app.domain.rate_limits import RateLimit
from app.domain.satisfaction import LOW_CSAT_TAG, checked_rating, is_low, tags_after_rating


@pytest.mark.parametrize(
    ("text", "limit", "wait"),
    [
        ("5/600", RateLimit(5, 600), "10 minutes"),
        (" 1 / 45 ", RateLimit(1, 45), "45 seconds"),
        ("3/7200", RateLimit(3, 7200), "2 hours"),
    ],
)
def test_a_limit_is_count_per_seconds(text: str, limit: RateLimit, wait: str) -> None:
    assert RateLimit.parse(text) == limit
    assert limit.wait_text() == wait


@pytest.mark.parametrize("text", ["", "5", "5/", "/600", "0/600", "5/0", "-1/600", "5 per 600", "5/600/1"])
def test_anything_else_is_refused_naming_the_form(text: str) -> None:
    with pytest.raises(ValueError, match="count"):
        RateLimit.parse(text)


def test_scores_and_sub_scores_are_checked_at_their_arguments() -> None:
    rating = checked_rating(4, " 很好 ", {"speed": 5, "professionalism": None, "attitude": 1})
    assert (rating.score, rating.comment, rating.speed, rating.professionalism, rating.attitude) == (
        4,
        "很好",
        5,
        None,
        1,
    )
    with pytest.raises(ValidationErrors) as raised:
        checked_rating(0, "x" * 5001, {"speed": 6, "attitude": 0})
    assert sorted(e.field[0] for e in raised.value.errors) == ["attitude", "comment", "score", "speed"]
    with pytest.raises(InvalidInput):
        checked_rating(6, None)


def test_a_low_score_adds_the_tag_once() -> None:
    assert [s for s in range(0, 7) if is_low(s)] == [1, 2]
    assert not is_low(True) and not is_low("1")
    assert tags_after_rating(["vip"], 2) == ["vip", LOW_CSAT_TAG]
    assert tags_after_rating(["vip", LOW_CSAT_TAG], 1) == ["vip", LOW_CSAT_TAG]
    assert tags_after_rating(["vip"], 3) == ["vip"]


def test_the_mails_carry_the_number_and_their_links_in_both_languages() -> None:
    url = survey_url("https://help.example.cn/", "hdr_a-b_c")
    assert url == "https://help.example.cn/examples/portal/survey.html?token=hdr_a-b_c"
    text = survey_text("张伟", 1042, "发票", url, 14)
    assert text.count(url) == 2 and "#1042" in text and "14" in text
    ack = acknowledgement_text("王芳", 1042, "退款", None)
    assert "#1042" in ack and "http" not in ack
    assert acknowledgement_text("王芳", 1042, "退款", "https://x.example/sign-in?token=t").count("sign-in") == 2
