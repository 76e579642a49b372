"""ChatModelReviewer: a typed verdict from structured output (tool calls) or from plain text."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.runnables import RunnableLambda

from teamsim.agents import (
    AgentFailure,
    Draft,
    DraftRequest,
    ModelSettings,
    ModelTeammate,
    Review,
    ReviewRequest,
    Verdict,
)

from .llm_fakes import Scripted, ToolFake, fake, reply, verdict_call

Make = Callable[..., DraftRequest]

DRAFT = Draft(subject="Hi", body="Hi Ada, [calendar link].\n\nReply STOP to opt out.")


def review(model: object, request: DraftRequest, **settings: object) -> Review:
    mate = ModelTeammate(model, name="Sam", model_id="fake",  # type: ignore[arg-type]
                         settings=ModelSettings(**settings), sleep=lambda _: None)
    return mate.reviewer.review(ReviewRequest(draft=DRAFT, request=request, reviewer="Sam"))


def test_a_verdict_comes_from_the_structured_output_tool_call(make_request: Make) -> None:
    model = ToolFake(messages=iter([verdict_call("revise", "remove the [calendar link] slot")]))

    assert review(model, make_request("s1")) == Review(
        verdict=Verdict.REVISE, reasons=("remove the [calendar link] slot",), minutes=5)


def test_a_verdict_comes_from_plain_text_when_the_model_has_no_tools(make_request: Make) -> None:
    text = "Thanks.\nVERDICT: revise\n- remove the [calendar link] slot\n- sign the message"

    assert review(fake(reply(text)), make_request("s1")) == Review(
        verdict=Verdict.REVISE,
        reasons=("remove the [calendar link] slot", "sign the message"), minutes=5)


def test_a_json_verdict_in_the_text_is_read(make_request: Make) -> None:
    text = 'Here you go: {"verdict": "pass", "reasons": []}'

    assert review(fake(reply(text)), make_request("s1")).verdict is Verdict.PASS


def test_the_prompt_asks_for_the_tool_or_the_text_form(make_request: Make) -> None:
    class ScriptedTools(Scripted):
        def bind_tools(self, tools, **kwargs):  # type: ignore[no-untyped-def,override]
            return self

    tools = ScriptedTools(script=[verdict_call("pass")])
    text = Scripted(script=[reply("VERDICT: pass")])
    review(tools, make_request("s1"))
    review(text, make_request("s1"))

    assert "calling the ReviewVerdict tool" in tools.prompts[0][0][1]
    assert "VERDICT: pass (or VERDICT: revise)" in text.prompts[0][0][1]
    user = text.prompts[0][1][1]
    assert "SUBJECT: Hi\nBODY:\nHi Ada, [calendar link]." in user
    assert user.startswith("Review this email draft by Robin to Ada Lovelace of Analytical")


def test_review_minutes_come_from_the_settings_and_the_tokens(make_request: Make) -> None:
    model = ToolFake(messages=iter([verdict_call("pass", tokens_out=2500)]))

    result = review(model, make_request("s1"), review_minutes=4, minutes_per_1k_tokens=1.0)

    assert result.minutes == 4 + 3


def test_revise_without_a_reason_is_asked_again(make_request: Make) -> None:
    model = Scripted(script=[reply("VERDICT: revise"), reply("VERDICT: revise\n- be brief")])

    assert review(model, make_request("s1")).reasons == ("be brief",)
    assert "needs at least one reason" in model.prompts[1][-1][1]


def test_no_verdict_at_all_fails_after_the_tries(make_request: Make) -> None:
    model = Scripted(script=[reply("Looks fine to me!")] * 2)

    with pytest.raises(AgentFailure, match=r"malformed reply: the reply has no verdict.* after 2"):
        review(model, make_request("s1"), max_tries=2)


def test_an_invalid_tool_call_is_malformed(make_request: Make) -> None:
    bad = reply("", tool_calls=[{"name": "ReviewVerdict", "args": {"verdict": "maybe"},
                                 "id": "c", "type": "tool_call"}])
    model = ToolFake(messages=iter([bad, verdict_call("pass")]))

    assert review(model, make_request("s1")).verdict is Verdict.PASS


class _OwnStructuredOutput(ToolFake):
    """A provider that overrides with_structured_output (as OpenAI's JSON-schema mode does)."""

    asked: list[bool] = []  # noqa: RUF012 - a pydantic field: each instance gets its own list

    def with_structured_output(self, schema: Any, *, include_raw: bool = False,
                               **kwargs: Any) -> Any:
        self.asked.append(include_raw)
        return RunnableLambda(
            lambda messages: {"raw": self.invoke(messages), "parsed": None,
                              "parsing_error": None})


def test_a_provider_s_own_structured_output_is_used_with_its_raw_reply(
        make_request: Make) -> None:
    model = _OwnStructuredOutput(messages=iter([verdict_call("pass")]))

    assert review(model, make_request("s1")).verdict is Verdict.PASS
    assert model.asked
    assert all(model.asked)


def test_the_default_structured_output_calls_the_model_in_the_caller_s_thread(
        make_request: Make) -> None:
    # LangChain's include_raw wrapper would run the call in a thread pool started per call.
    threads: list[threading.Thread] = []

    class Recording(ToolFake):
        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            threads.append(threading.current_thread())
            return super()._generate(*args, **kwargs)

    model = Recording(messages=iter([verdict_call("pass")]))

    assert review(model, make_request("s1")).verdict is Verdict.PASS
    assert threads == [threading.current_thread()]
