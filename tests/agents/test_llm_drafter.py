"""ChatModelDrafter: drafts come from the chat model, the prompt carries what the model needs,
and replies that break the channel's rules are asked for again."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError as PydanticError

from teamsim.agents import (
    AgentFailure,
    Draft,
    DraftRequest,
    ModelSettings,
    ModelTeammate,
    PromptTemplates,
    ThreadMessage,
)

from .llm_fakes import EMAIL_REPLY, Scripted, fake, reply

Make = Callable[..., DraftRequest]


def teammate(model: object, **settings: object) -> ModelTeammate:
    return ModelTeammate(model, name="Robin", model_id="fake",  # type: ignore[arg-type]
                         settings=ModelSettings(**settings), sleep=lambda _: None)


def test_the_draft_is_the_models_reply(make_request: Make) -> None:
    draft = teammate(fake(reply(EMAIL_REPLY))).drafter.draft(make_request("s1"))

    assert draft == Draft(subject="Faster project plans",
                          body="Hi Ada,\n\nWe help renovation teams plan projects faster."
                               "\n\nBest,\nRobin\n\nReply STOP to opt out.",
                          minutes=10)


def test_the_prompt_carries_contact_step_thread_and_channel_rules(
        make_request: Make, sent: Callable[..., ThreadMessage]) -> None:
    model = Scripted(script=[reply(EMAIL_REPLY)])
    earlier = sent(Draft(subject="Hello", body="Hi Ada, our first note."), "s1")

    teammate(model).drafter.draft(make_request("s3", step_index=2, thread=(earlier,)))

    (system, _), (_, user) = model.prompts[0]
    assert system == "system"
    for expected in ("Contact: Ada Lovelace", "Company: Analytical Engines",
                     "- project: loft conversion", "Sequence: Welcome",
                     "Step: Email (message 3 of the sequence)", "Channel: email",
                     'subject "Hello"', "Hi Ada, our first note."):
        assert expected in user
    rules = model.prompts[0][0][1]
    assert "at most 5000 characters" in rules
    assert "SUBJECT:" in rules
    assert "Reply STOP to opt out." in rules


def test_a_revision_carries_the_notes_and_the_previous_draft(make_request: Make) -> None:
    model = Scripted(script=[reply(EMAIL_REPLY)])
    previous = Draft(subject="Old subject", body="Hi [Name], old body.")
    request = make_request("s1", revision=1, previous=previous,
                           review_notes=("placeholders: unfilled placeholder [Name]",))

    draft = teammate(model).drafter.draft(request)

    user = model.prompts[0][1][1]
    assert "Write revision 1 of the email message" in user
    assert "- placeholders: unfilled placeholder [Name]" in user
    assert "SUBJECT: Old subject\nBODY:\nHi [Name], old body." in user
    assert draft.minutes == 5  # revision_minutes


def test_minutes_add_the_output_tokens_by_the_documented_formula(make_request: Make) -> None:
    model = fake(reply(EMAIL_REPLY, tokens_out=1500), reply(EMAIL_REPLY, tokens_out=1))
    drafter = teammate(model, minutes_per_1k_tokens=2.0, draft_minutes=7).drafter

    assert drafter.draft(make_request("s1")).minutes == 7 + 3  # ceil(1500 / 1000 * 2)
    assert drafter.draft(make_request("s3")).minutes == 7 + 1  # ceil(0.002)


def test_an_sms_over_the_limit_is_asked_for_again_with_a_note(make_request: Make) -> None:
    long_sms = "BODY:\nHi Ada, " + "very " * 40 + "long."
    model = Scripted(script=[reply(long_sms), reply("Hi Ada, it's Robin. Quick call?")])

    draft = teammate(model).drafter.draft(make_request("s2"))

    assert draft == Draft(subject=None, body="Hi Ada, it's Robin. Quick call?", minutes=10)
    note = model.prompts[1][-1][1]
    assert "over the sms limit of 160; shorten it" in note
    assert model.prompts[1][:2] == model.prompts[0]


@pytest.mark.parametrize(("text", "what"), [
    ("BODY:\nHi Ada, nothing else.", "the reply has no subject line"),
    ("SUBJECT: Hi\nBODY:\nHi Ada, nothing else.", "the body has no opt-out line"),
    ("SUBJECT: Hi\nBODY:\n", "the reply has no message body"),
])
def test_a_reply_breaking_the_channel_rules_is_malformed(make_request: Make, text: str,
                                                         what: str) -> None:
    model = Scripted(script=[reply(text), reply(EMAIL_REPLY)])

    assert teammate(model).drafter.draft(make_request("s1")).subject == "Faster project plans"
    assert what in model.prompts[1][-1][1]


def test_malformed_replies_until_the_tries_run_out_fail(make_request: Make) -> None:
    model = Scripted(script=[reply("no format at all")] * 3)
    mate = teammate(model, max_tries=3)

    with pytest.raises(AgentFailure, match=r"^malformed reply: the reply has no subject line .*"
                                           r"after 3 tries$") as failed:
        mate.drafter.draft(make_request("s1"))

    assert failed.value.tries == 3
    assert mate.usage().failures == 1
    assert mate.usage().model_calls == 3


def test_a_json_reply_is_read_too(make_request: Make) -> None:
    text = '```json\n{"subject": "Hi", "body": "Hi Ada.\\n\\nReply STOP to opt out."}\n```'

    draft = teammate(fake(reply(text))).drafter.draft(make_request("s1"))

    assert (draft.subject, draft.body) == ("Hi", "Hi Ada.\n\nReply STOP to opt out.")


def test_each_teammate_may_override_its_prompt_templates(make_request: Make) -> None:
    custom = Scripted(script=[reply(EMAIL_REPLY)])
    plain = Scripted(script=[reply(EMAIL_REPLY)])
    prompts = PromptTemplates(draft_user="Write to {{ contact.first_name }}: {{ brief }}")

    teammate(custom, prompts=prompts).drafter.draft(make_request("s1"))
    teammate(plain).drafter.draft(make_request("s1"))

    assert custom.prompts[0][1][1] == "Write to Ada: we help renovation teams plan projects faster"
    assert plain.prompts[0][1][1].startswith("Write the email message to Ada Lovelace.")
    assert custom.prompts[0][0] == plain.prompts[0][0]  # the system template was not touched


def test_a_prompt_template_with_a_syntax_error_is_a_clear_error() -> None:
    with pytest.raises(PydanticError, match=r"draft_user\n.*fix the template's Jinja2 syntax"):
        PromptTemplates(draft_user="Hello {{ contact.name ")


def test_a_misspelt_variable_in_a_prompt_template_is_a_clear_error() -> None:
    """Sent as literal text before: now a validation error naming the template and the name."""
    with pytest.raises(PydanticError, match=r"draft_user\n.*the template draft_user reads "
                                            r"'nosuchvar', which the prompt does not have"):
        PromptTemplates(draft_user="{{ nosuchvar.attr }}")
    with pytest.raises(PydanticError, match=r"reads 'draft'"):
        PromptTemplates(draft_system="{{ draft.body }}")  # only reviews see the draft
    PromptTemplates(review_user="{% set x = draft.body %}{% for m in thread %}{{ m.body }}"
                                "{% endfor %}{{ x }} {{ reviewer }} {{ range(2) | list }}")


def test_the_documented_prompt_names_are_the_context_the_templates_get(
    make_request: Make,
) -> None:
    from teamsim.agents._prompts import context, review_context
    from teamsim.agents._settings import DRAFT_PROMPT_NAMES, REVIEW_PROMPT_NAMES

    request = make_request("s1")
    assert set(context(request)) == DRAFT_PROMPT_NAMES
    draft = Draft(subject="s", body="b")
    assert set(review_context(draft, request, "Sam", structured=False,
                              tool_name="t")) == REVIEW_PROMPT_NAMES
