"""The demo chat model drafts and reviews sensibly, offline and deterministically."""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.messages import HumanMessage, SystemMessage

from teamsim.agents import (
    Draft,
    DraftRequest,
    ModelTeammate,
    ReviewRequest,
    RuleReviewer,
    ThreadMessage,
    Verdict,
)
from teamsim.agents.demo import DemoChatModel, demo_model

Make = Callable[..., DraftRequest]


def mate(**kwargs: object) -> ModelTeammate:
    return ModelTeammate(demo_model(**kwargs), name="Robin", model_id="demo")


def test_a_demo_email_is_personal_signed_and_within_the_rules(make_request: Make) -> None:
    request = make_request("s1")
    draft = mate().drafter.draft(request)

    assert draft.subject == "Your loft conversion project"
    assert draft.body.startswith("Hi Ada,\n\n")
    for expected in ("Analytical Engines", "We help renovation teams plan projects faster.",
                     "loft conversion", "Best,\nRobin", "Reply STOP to opt out."):
        assert expected in draft.body
    review = RuleReviewer().review(ReviewRequest(draft=draft, request=request, reviewer="Sam"))
    assert review.verdict is Verdict.PASS, review.reasons


def test_a_demo_sms_fits_one_message(make_request: Make) -> None:
    draft = mate().drafter.draft(make_request("s2", step_index=1))

    assert draft.subject is None
    assert draft.body.startswith("Hi Ada, Robin again.")
    assert len(draft.body) <= 160


def test_a_demo_follow_up_replies_to_the_earlier_subject(
        make_request: Make, sent: Callable[..., ThreadMessage]) -> None:
    first = sent(Draft(subject="Intro", body="Hi Ada, hello."), "s1")
    draft = mate().drafter.draft(make_request("s3", step_index=2, thread=(first,)))

    assert draft.subject == "Re: Intro"
    assert "follow" in draft.body.lower()


def test_the_demo_reviewer_catches_a_slip_and_the_revision_fixes_it(make_request: Make) -> None:
    teammate = mate(slip_every=1)  # every first draft leaves a placeholder in
    request = make_request("s1")
    draft = teammate.drafter.draft(request)
    review = teammate.reviewer.review(ReviewRequest(draft=draft, request=request, reviewer="Sam"))

    assert "[calendar link]" in draft.body
    assert review.verdict is Verdict.REVISE
    assert review.reasons[0].startswith("placeholders: unfilled placeholder [calendar link]")

    revising = make_request("s1", revision=1, review_notes=review.reasons, previous=draft)
    revised = teammate.drafter.draft(revising)
    again = teammate.reviewer.review(ReviewRequest(draft=revised, request=revising,
                                                   reviewer="Sam"))
    assert "[calendar link]" not in revised.body
    assert revised.body != draft.body
    assert again.verdict is Verdict.PASS


def test_the_demo_answers_with_a_tool_call_when_tools_are_bound(make_request: Make) -> None:
    draft = Draft(subject="Hi", body="Hello there, no opt-out line")
    request = make_request("s1")
    teammate = mate()
    review = teammate.reviewer.review(ReviewRequest(draft=draft, request=request, reviewer="S"))

    assert review.verdict is Verdict.REVISE
    assert [reason.split(":")[0] for reason in review.reasons] == ["name"]
    bound = DemoChatModel().bind_tools([{"type": "function", "function": {
        "name": "ReviewVerdict", "parameters": {"type": "object", "properties": {}}}}])
    answer = bound.invoke([SystemMessage("You are Sam, reviewing a draft."),
                           HumanMessage("Review this sms draft by Robin.\n\nDraft:\nBODY:\n"
                                        "Hi [Name]!")])
    assert answer.tool_calls[0]["name"] == "ReviewVerdict"
    assert answer.tool_calls[0]["args"]["verdict"] == "revise"


def test_the_demo_is_deterministic_and_reports_usage() -> None:
    messages = [SystemMessage("You are Robin, an outreach specialist."),
                HumanMessage("Write the email message to Ada.\n\nFirst name: Ada\n"
                             "Channel: email\nBrief: say hello")]
    one, two = DemoChatModel().invoke(messages), DemoChatModel().invoke(messages)

    assert one.content == two.content
    assert str(one.content).startswith("SUBJECT: ")
    assert one.usage_metadata is not None
    assert one.usage_metadata["output_tokens"] > 0
    assert one.usage_metadata == two.usage_metadata


def test_the_demo_sleeps_its_latency_per_call() -> None:
    import time

    model = demo_model(latency_seconds=0.05)
    started = time.perf_counter()
    model.invoke([HumanMessage("Write the sms message to Ada.\n\nChannel: sms")])

    assert time.perf_counter() - started >= 0.05


def test_the_demo_says_to_the_contact_what_the_brief_asks_for(make_request: Make) -> None:
    from teamsim.model import MessageStep

    step = MessageStep(id="s9", label="Say hello", brief=(
        "Welcome the lead, thank them for asking about their renovation, and offer a free "
        "20-minute call to talk through scope, budget and timing."))
    draft = mate().drafter.draft(make_request("s1", step=step))

    assert "It's great to hear from you. Thank you for asking about your renovation. I'd " \
           "like to offer you a free 20-minute call to talk through scope, budget and " \
           "timing." in draft.body
    assert "them" not in draft.body
    assert "I'll" in draft.body.split("\n\n")[3]  # an offer closes with how to take it up


def test_a_demo_sms_keeps_whole_sentences_that_fit(make_request: Make) -> None:
    from teamsim.model import MessageStep

    step = MessageStep(id="s9", label="Nudge", channel="sms", brief=(
        "Ask whether the samples arrived and which finish they liked; mention the spring "
        "scheduling slots still open, which are filling up quickly this year."))
    draft = mate().drafter.draft(make_request("s1", step=step, channel="sms"))

    assert draft.body == ("Hi Ada, it's Robin. Could you let me know whether the samples "
                          "arrived and which finish you liked?")
