"""The IMAP fetcher's decisions: what to take and how, retry delays, IDLE length, lastError text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.domain.email.fetch_plan import (
    LONGEST_IDLE_SECONDS,
    MAX_ERROR_LENGTH,
    TAKEN_KEYWORD,
    FailureKind,
    FetchFailure,
    error_text,
    idle_seconds,
    keywords_allowed,
    must_follow,
    plan_fetch,
    retry_delay,
    search_criteria,
    taken_flags,
)
from app.domain.email.parsing import conversation_keys
from app.services.imap_connection import uid_set


def test_unread_mail_without_our_keyword_is_taken_and_gets_seen_and_the_keyword() -> None:
    assert search_criteria(True) == ("UNSEEN", "UNKEYWORD", TAKEN_KEYWORD)
    assert taken_flags(True) == f"(\\Seen {TAKEN_KEYWORD})"


def test_without_keywords_unread_mail_is_taken_and_marked_seen() -> None:
    assert search_criteria(False) == ("UNSEEN",)
    assert taken_flags(False) == "(\\Seen)"


def test_keywords_are_allowed_when_the_folder_says_so_or_already_has_ours() -> None:
    assert keywords_allowed(["\\Seen", "\\*"])
    assert keywords_allowed(["\\Seen", TAKEN_KEYWORD])
    assert not keywords_allowed(["\\Seen", "\\Deleted"])


def test_messages_are_taken_oldest_first_and_the_large_ones_only_up_to_one_byte_over_the_limit() -> None:
    plan = plan_fetch({7: 100, 3: 5000, 5: 1000}, max_bytes=1000)
    assert plan.steps() == [(3, 1001), (5, None), (7, None)]
    assert (plan.whole, plan.too_large) == ((5, 7), (3,))


def test_retries_start_at_five_seconds_double_and_stop_growing_at_five_minutes() -> None:
    assert [retry_delay(n) for n in range(0, 9)] == [0, 5, 10, 20, 40, 80, 160, 300, 300]
    assert retry_delay(10_000) == 300


@given(st.floats(min_value=0.01, max_value=1e7))
def test_an_idle_never_outlasts_the_poll_interval_or_29_minutes(poll: float) -> None:
    assert idle_seconds(poll) <= min(poll, LONGEST_IDLE_SECONDS)
    assert idle_seconds(poll) > 0


def test_a_refused_login_names_the_user_and_never_the_password() -> None:
    failure = FetchFailure(
        FailureKind.LOGIN, "imap.qq.com", 993, "[AUTHENTICATIONFAILED] bad password s3cret", "support"
    )
    text = error_text(failure, secrets=["s3cret"])
    assert "imap.qq.com:993" in text and "'support'" in text and "app password" in text
    assert "s3cret" not in text and "***" in text


@given(st.sampled_from(list(FailureKind)), st.text(max_size=2000))
def test_every_error_text_is_one_printable_line_of_bounded_length(kind: FailureKind, detail: str) -> None:
    text = error_text(FetchFailure(kind, "mail.example.cn", 143, detail, "u", "INBOX"))
    assert text and len(text) <= MAX_ERROR_LENGTH and text.isprintable()


def test_uid_sets_are_compact_ranges() -> None:
    assert uid_set([5, 1, 2, 3, 9, 10]) == "1:3,5,9:10"
    assert uid_set([4]) == "4"


def test_conversation_keys_are_the_ids_a_message_has_and_answers_and_its_ticket_tags() -> None:
    raw = (
        b"From: a@example.cn\r\nMessage-ID: <own@x>\r\nIn-Reply-To: <parent@x>\r\n"
        b"References: <root@x>\r\n <parent@x>\r\nSubject: =?utf-8?b?5L2g5aW9IFsjMTIzXQ==?=\r\n\r\n"
        b"Message-ID: <in-the-body@x>\r\n"
    )
    assert conversation_keys(raw) == {"<own@x>", "<parent@x>", "<root@x>", "#123"}
    assert conversation_keys(b"From: a@example.cn\n\nno ids") == frozenset()


def test_a_message_follows_an_earlier_one_it_shares_a_key_with_or_either_unread() -> None:
    reply, original, other = frozenset({"<r@x>", "<o@x>"}), frozenset({"<o@x>"}), frozenset({"<n@x>"})
    assert must_follow(reply, original)
    assert not must_follow(reply, other) and not must_follow(frozenset(), frozenset())
    assert must_follow(None, other) and must_follow(other, None)
