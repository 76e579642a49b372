"""The rule reviewer: one test per check, each failing and passing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from teamsim.agents import (
    Check,
    Draft,
    DraftRequest,
    Review,
    ReviewRequest,
    ReviewRules,
    RuleReviewer,
    ThreadMessage,
    Verdict,
)

GOOD_BODY = (
    "Hi Ada,\n\nWe help renovation teams plan projects faster.\n\nBest,\nRobin\n\n"
    "Reply STOP to opt out."
)
GOOD_EMAIL = Draft(subject="Intro", body=GOOD_BODY)

MakeRequest = Callable[..., DraftRequest]


def review(draft: Draft, request: DraftRequest, rules: ReviewRules | None = None) -> Review:
    return RuleReviewer(rules).review(ReviewRequest(draft=draft, request=request, reviewer="Bo"))


def reasons_of(result: Review, check: Check) -> list[str]:
    return [r for r in result.reasons if r.startswith(f"{check}: ")]


def with_body(body: str, subject: str | None = "Intro") -> Draft:
    return Draft(subject=subject, body=body)


def test_clean_email_passes_with_no_reasons(make_request: MakeRequest) -> None:
    result = review(GOOD_EMAIL, make_request())

    assert result == Review(verdict=Verdict.PASS, reasons=(), minutes=4)


def test_any_reason_makes_the_verdict_revise(make_request: MakeRequest) -> None:
    result = review(with_body(GOOD_BODY.replace("Ada", "Bob")), make_request())

    assert result.verdict is Verdict.REVISE
    assert result.reasons == (
        "name: the greeting greets 'Bob', but the contact is Ada; greet them as Ada",
    )


# -- placeholders ----------------------------------------------------------------------------


@pytest.mark.parametrize("placeholder", ["{{ project }}", "{% if x %}", "{first_name}", "[Name]"])
def test_unfilled_placeholder_in_body_asks_for_revision(
    make_request: MakeRequest, placeholder: str
) -> None:
    body = GOOD_BODY.replace("plan projects", f"plan {placeholder}")

    result = review(with_body(body), make_request())

    assert reasons_of(result, Check.PLACEHOLDERS) == [
        f"placeholders: unfilled placeholder {placeholder} in the body; "
        "fill it in or remove the sentence"
    ]


def test_unfilled_placeholder_in_subject_asks_for_revision(make_request: MakeRequest) -> None:
    result = review(with_body(GOOD_BODY, subject="Intro for {{ company }}"), make_request())

    assert reasons_of(result, Check.PLACEHOLDERS) == [
        "placeholders: unfilled placeholder {{ company }} in the subject; "
        "fill it in or remove the sentence"
    ]


def test_markdown_link_is_not_a_placeholder(make_request: MakeRequest) -> None:
    body = GOOD_BODY.replace("faster.", "faster: [our guide](https://example.com).")

    assert reasons_of(review(with_body(body), make_request()), Check.PLACEHOLDERS) == []


# -- name ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("greeting", "why"),
    [
        ("Hi Bob,", "greets 'Bob'"),
        ("Hi ada,", "writes their name as 'ada'"),
        ("Hello countess,", "uses the email address 'countess' instead of their name"),
    ],
    ids=["another-name", "wrong-case", "email-local-part"],
)
def test_greeting_with_the_wrong_name_asks_for_revision(
    make_request: MakeRequest, greeting: str, why: str
) -> None:
    body = GOOD_BODY.replace("Hi Ada,", greeting)

    result = review(with_body(body), make_request())

    assert reasons_of(result, Check.NAME) == [
        f"name: the greeting {why}, but the contact is Ada; greet them as Ada"
    ]


@pytest.mark.parametrize(
    "greeting", ["Hi Ada,", "Hi Ada Lovelace,", "Hi there,", "Dear Ms. Lovelace,", "Ada -"]
)
def test_greeting_that_names_the_contact_rightly_passes(
    make_request: MakeRequest, greeting: str
) -> None:
    body = GOOD_BODY.replace("Hi Ada,", greeting)

    assert reasons_of(review(with_body(body), make_request()), Check.NAME) == []


def test_title_with_the_wrong_surname_asks_for_revision(make_request: MakeRequest) -> None:
    body = GOOD_BODY.replace("Hi Ada,", "Dear Mr. Babbage,")

    result = review(with_body(body), make_request())

    assert reasons_of(result, Check.NAME) == [
        "name: the greeting says 'Dear Mr. Babbage'; address them as Lovelace"
    ]


# -- length ----------------------------------------------------------------------------------


def test_sms_longer_than_one_segment_asks_for_revision(make_request: MakeRequest) -> None:
    result = review(with_body("x" * 161, subject=None), make_request("s2"))

    assert reasons_of(result, Check.LENGTH) == [
        "length: the body is 161 GSM characters, over the sms limit of 160; shorten it"
    ]


def test_sms_of_exactly_one_segment_passes(make_request: MakeRequest) -> None:
    result = review(with_body("x" * 160, subject=None), make_request("s2"))

    assert reasons_of(result, Check.LENGTH) == []


def test_sms_with_non_gsm_characters_fits_only_70(make_request: MakeRequest) -> None:
    body = "Hi Ada \N{GRINNING FACE} " + "x" * 61

    result = review(with_body(body, subject=None), make_request("s2"))

    assert reasons_of(result, Check.LENGTH) == [
        "length: the body is 71 UCS-2 characters (not all GSM, so 70 fit one SMS), "
        "over the sms limit of 70; shorten it"
    ]


def test_email_longer_than_the_channel_limit_asks_for_revision(
    make_request: MakeRequest,
) -> None:
    body = GOOD_BODY + " more" * 1000

    result = review(with_body(body), make_request())

    assert reasons_of(result, Check.LENGTH) == [
        f"length: the body is {len(body)} characters, over the email limit of 5000; shorten it"
    ]


def test_configured_length_limit_overrides_the_channel(make_request: MakeRequest) -> None:
    rules = ReviewRules(max_chars={"email": 50})

    result = review(GOOD_EMAIL, make_request(), rules)

    assert reasons_of(result, Check.LENGTH) == [
        f"length: the body is {len(GOOD_BODY)} characters, over the email limit of 50; "
        "shorten it"
    ]


# -- subject ---------------------------------------------------------------------------------


@pytest.mark.parametrize("subject", [None, "  "])
def test_email_without_subject_asks_for_revision(
    make_request: MakeRequest, subject: str | None
) -> None:
    result = review(with_body(GOOD_BODY, subject=subject), make_request())

    assert reasons_of(result, Check.SUBJECT) == [
        "subject: a message on email needs a subject line; write one"
    ]


def test_sms_needs_no_subject(make_request: MakeRequest) -> None:
    result = review(with_body("Hi Ada, it's Robin.", subject=None), make_request("s2"))

    assert result.verdict is Verdict.PASS


# -- repeat ----------------------------------------------------------------------------------


def test_same_body_as_an_earlier_message_asks_for_revision(
    make_request: MakeRequest, sent: Callable[..., ThreadMessage]
) -> None:
    earlier = sent(Draft(subject="Intro", body=GOOD_BODY.upper()), "s1")

    result = review(GOOD_EMAIL, make_request("s3", step_index=2, thread=(earlier,)))

    assert reasons_of(result, Check.REPEAT) == [
        "repeat: the body repeats the message sent at step s1; say something new"
    ]


def test_near_duplicate_of_an_earlier_message_asks_for_revision(
    make_request: MakeRequest, sent: Callable[..., ThreadMessage]
) -> None:
    earlier = sent(Draft(subject="Intro", body=GOOD_BODY.replace("faster", "quicker")), "s1")

    result = review(GOOD_EMAIL, make_request("s3", step_index=2, thread=(earlier,)))

    assert reasons_of(result, Check.REPEAT) == [
        "repeat: the body is 95% the same as the message sent at step s1; say something new"
    ]


def test_different_body_from_earlier_messages_passes(
    make_request: MakeRequest, sent: Callable[..., ThreadMessage]
) -> None:
    other = "Hi Ada,\n\nDid you see my note about planning?\n\nRobin\n\nReply STOP to opt out."
    earlier = sent(Draft(subject="Intro", body=other), "s1")

    result = review(GOOD_EMAIL, make_request("s3", step_index=2, thread=(earlier,)))

    assert reasons_of(result, Check.REPEAT) == []


def test_near_duplicate_threshold_is_configurable(
    make_request: MakeRequest, sent: Callable[..., ThreadMessage]
) -> None:
    earlier = sent(Draft(subject="Intro", body=GOOD_BODY.replace("faster", "quicker")), "s1")
    rules = ReviewRules(near_duplicate_ratio=0.99)

    result = review(GOOD_EMAIL, make_request("s3", step_index=2, thread=(earlier,)), rules)

    assert reasons_of(result, Check.REPEAT) == []


# -- opt-out ---------------------------------------------------------------------------------


def test_email_without_opt_out_line_asks_for_revision(make_request: MakeRequest) -> None:
    body = GOOD_BODY.removesuffix("\n\nReply STOP to opt out.")

    result = review(with_body(body), make_request())

    assert reasons_of(result, Check.OPT_OUT) == [
        "opt_out: a message on email must say how to opt out; add an opt-out line"
    ]


def test_unsubscribe_line_counts_as_opt_out(make_request: MakeRequest) -> None:
    body = GOOD_BODY.replace("Reply STOP to opt out.", "Unsubscribe: https://example.com/u")

    assert reasons_of(review(with_body(body), make_request()), Check.OPT_OUT) == []


def test_channel_without_opt_out_rule_needs_no_opt_out_line(make_request: MakeRequest) -> None:
    result = review(with_body("Hi Ada, it's Robin.", subject=None), make_request("s2"))

    assert reasons_of(result, Check.OPT_OUT) == []


# -- banned phrases --------------------------------------------------------------------------


def test_banned_phrase_asks_for_revision_whatever_its_case(make_request: MakeRequest) -> None:
    rules = ReviewRules(banned_phrases=("act now", "guarantee"))
    draft = with_body(GOOD_BODY.replace("faster.", "faster. ACT NOW!"), subject="We Guarantee")

    result = review(draft, make_request(), rules)

    assert reasons_of(result, Check.BANNED_PHRASE) == [
        "banned_phrase: uses the banned phrase 'act now'; reword it",
        "banned_phrase: uses the banned phrase 'guarantee'; reword it",
    ]


def test_banned_phrase_inside_another_word_passes(make_request: MakeRequest) -> None:
    rules = ReviewRules(banned_phrases=("ovation",))

    assert reasons_of(review(GOOD_EMAIL, make_request(), rules), Check.BANNED_PHRASE) == []


# -- configuration and timing ----------------------------------------------------------------


def test_switched_off_check_is_not_run(make_request: MakeRequest) -> None:
    rules = ReviewRules(checks=frozenset(Check) - {Check.SUBJECT})

    result = review(with_body(GOOD_BODY, subject=None), make_request(), rules)

    assert result.verdict is Verdict.PASS


def test_review_minutes_grow_with_every_started_hundred_words(
    make_request: MakeRequest,
) -> None:
    rules = ReviewRules(base_minutes=2, minutes_per_100_words=3)
    short = with_body("Hi Ada, " + "word " * 90, subject=None)
    long = with_body("Hi Ada, " + "word " * 150, subject=None)

    assert review(short, make_request("s2"), rules).minutes == 2 + 3
    assert review(long, make_request("s2"), rules).minutes == 2 + 6
