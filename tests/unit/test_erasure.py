"""What erasure does to free-form data: the known word-holding keys always go, other strings go
when they mention one of the customer's personal strings, ids and statuses stay."""

from __future__ import annotations

from app.domain.erasure import ERASED_TEXT, needles, scrub_event_data, scrub_json


def test_needles_are_lowercased_and_leave_out_short_latin_strings_but_not_han_names() -> None:
    assert needles(["Li Lei", "li@EXAMPLE.cn", None, "", "Al", "李雷"]) == ("li lei", "li@example.cn", "李雷")


def test_strings_that_mention_the_person_go_whatever_their_key() -> None:
    found = needles(["Han Meimei", "meimei@shop.cn"])
    data = {"error": "550 MEIMEI@shop.cn unknown", "routing": {"rules": [{"id": 3, "name": "VIP"}]}, "to": ["x"]}
    assert scrub_json(data, found) == {
        "error": ERASED_TEXT,
        "routing": {"rules": [{"id": 3, "name": "VIP"}]},
        "to": ["x"],
    }


def test_event_words_go_and_ids_statuses_and_versions_stay() -> None:
    found = needles(["Han Meimei"])
    created = {"subject": "Broken kettle", "customerId": 7, "channel": "EMAIL", "version": 1}
    assert scrub_event_data(created, found) == {**created, "subject": ERASED_TEXT}
    updated = {
        "changes": {"subject": {"from": "a", "to": "b"}, "priority": {"from": "LOW", "to": "HIGH"}, "customFields": {}},
        "version": 3,
    }
    assert scrub_event_data(updated, found)["changes"] == {
        "subject": {"from": ERASED_TEXT, "to": ERASED_TEXT},
        "priority": {"from": "LOW", "to": "HIGH"},
        "customFields": {},
    }
    field = {"key": "orderId", "before": None, "after": "SO-1"}
    assert scrub_event_data(field, found) == {"key": "orderId", "before": None, "after": ERASED_TEXT}
    rated = {"score": 2, "comment": "slow"}
    assert scrub_event_data(rated, found) == {"score": 2, "comment": ERASED_TEXT}
