"""The template drafter: literal output for fixed inputs, templates, and the revision loop."""

from __future__ import annotations

from collections.abc import Callable

import pydantic
import pytest

from teamsim.agents import (
    Draft,
    DraftRequest,
    DraftStyle,
    MessageTemplate,
    ReviewRequest,
    RuleReviewer,
    TemplateDrafter,
    ThreadMessage,
    Verdict,
    check_template,
    find_placeholders,
)
from teamsim.model import Contact, MessageStep, ValidationError

MakeRequest = Callable[..., DraftRequest]
Sent = Callable[..., ThreadMessage]


def draft(request: DraftRequest, style: DraftStyle | None = None) -> Draft:
    return TemplateDrafter(style).draft(request)


def with_templates(
    make_request: MakeRequest, step_id: str, subject: str | None = None, body: str | None = None
) -> DraftRequest:
    request = make_request(step_id)
    assert request.step is not None
    step = request.step.model_copy(update={"subject_template": subject, "body_template": body})
    return make_request(step_id, step=step)


# -- without templates -----------------------------------------------------------------------


def test_first_email_without_templates_uses_label_brief_and_signs(
    make_request: MakeRequest,
) -> None:
    assert draft(make_request("s1")) == Draft(
        subject="Intro",
        body=(
            "Hi Ada,\n\n"
            "We help renovation teams plan projects faster.\n\n"
            "Let me know if you would like to hear more.\n\n"
            "Best,\nRobin\n\n"
            "Reply STOP to opt out."
        ),
        minutes=15,
    )


def test_first_email_without_brief_or_label_still_reads_sensibly(
    contact: Contact, make_request: MakeRequest
) -> None:
    step = MessageStep(id="s9", label="Email", channel="email")

    assert draft(make_request("s1", step=step)) == Draft(
        subject="A quick note for Analytical Engines",
        body=(
            "Hi Ada,\n\n"
            "I wanted to introduce myself and see whether I can help Analytical Engines.\n\n"
            "Let me know if you would like to hear more.\n\n"
            "Best,\nRobin\n\n"
            "Reply STOP to opt out."
        ),
        minutes=15,
    )


def test_sms_follow_up_without_templates_refers_to_the_earlier_email(
    make_request: MakeRequest, sent: Sent
) -> None:
    intro = sent(draft(make_request("s1")), "s1")

    assert draft(make_request("s2", step_index=1, thread=(intro,))) == Draft(
        subject=None,
        body=(
            "Hi Ada, Robin again. I'm following up on my last email. "
            "Is this worth a quick conversation for Analytical Engines?"
        ),
        minutes=15,
    )


def test_email_follow_up_without_templates_replies_to_the_earlier_subject(
    make_request: MakeRequest, sent: Sent
) -> None:
    intro = sent(draft(make_request("s1")), "s1")
    nudge = sent(draft(make_request("s2", step_index=1, thread=(intro,))), "s2", "sms", day=4)

    assert draft(make_request("s3", step_index=2, thread=(intro, nudge))) == Draft(
        subject="Re: Intro",
        body=(
            "Hi Ada,\n\n"
            "I wanted to come back to my last text. "
            "If the timing is not right, just let me know.\n\n"
            "Best,\nRobin\n\n"
            "Reply STOP to opt out."
        ),
        minutes=15,
    )


def test_first_sms_with_a_long_brief_is_cut_to_one_message(make_request: MakeRequest) -> None:
    brief = "we plan loft conversions, kitchens and extensions " * 5

    body = draft(make_request("s2", brief=brief)).body

    assert body == (
        "Hi Ada, it's Robin. We plan loft conversions, kitchens and extensions we plan loft "
        "conversions, kitchens and extensions we plan loft conversions, kitchens..."
    )
    assert len(body) <= 160


def test_plain_drafts_pass_the_rule_reviewer_through_a_sequence(
    make_request: MakeRequest, sent: Sent
) -> None:
    thread: tuple[ThreadMessage, ...] = ()
    for index, (step_id, channel) in enumerate([("s1", "email"), ("s2", "sms"), ("s3", "email")]):
        request = make_request(step_id, step_index=index, thread=thread)
        result = draft(request)
        review = RuleReviewer().review(ReviewRequest(draft=result, request=request, reviewer="Bo"))
        assert review.reasons == ()
        thread = (*thread, sent(result, step_id, channel, day=index + 1))


def test_chat_request_without_a_step_uses_its_brief(contact: Contact) -> None:
    request = DraftRequest(
        contact=contact, channel="sms", teammate="Robin", brief="can we move our call to 3pm?"
    )

    assert draft(request).body == "Hi Ada, it's Robin. Can we move our call to 3pm?"


def test_same_request_gives_the_same_draft(make_request: MakeRequest) -> None:
    assert draft(make_request("s1")) == draft(make_request("s1"))


# -- with templates --------------------------------------------------------------------------


def test_email_step_templates_fill_contact_and_teammate_fields(make_request: MakeRequest) -> None:
    request = with_templates(
        make_request,
        "s1",
        subject="Your {{ project }} at {{ company }}",
        body=(
            "Hello {{ contact.first_name }},\n\n"
            "{{ step.brief|capitalize }}, starting with your {{ project }}.\n\n"
            "{{ teammate }}"
        ),
    )

    assert draft(request) == Draft(
        subject="Your loft conversion at Analytical Engines",
        body=(
            "Hello Ada,\n\n"
            "We help renovation teams plan projects faster, starting with your loft conversion."
            "\n\nRobin\n\n"
            "Reply STOP to opt out."
        ),
        minutes=15,
    )


def test_sms_step_template_can_use_the_thread(make_request: MakeRequest, sent: Sent) -> None:
    intro = sent(Draft(subject="Intro", body="..."), "s1")
    request = with_templates(
        make_request,
        "s2",
        body='Hi {{ first_name }}, did my email "{{ thread[-1].subject }}" reach you? '
        "{{ teammate }}",
    )

    result = draft(make_request("s2", step=request.step, step_index=1, thread=(intro,)))

    assert result == Draft(
        subject=None, body='Hi Ada, did my email "Intro" reach you? Robin', minutes=15
    )


@pytest.mark.parametrize("key", ["Welcome/s1", "s1", "Intro"])
def test_style_templates_apply_by_sequence_step_id_or_label(
    make_request: MakeRequest, key: str
) -> None:
    style = DraftStyle(
        templates={
            key: MessageTemplate(subject="Hello {{ first_name }}", body="Hi {{ first_name }}")
        }
    )

    result = draft(make_request("s1"), style)

    assert (result.subject, result.body) == ("Hello Ada", "Hi Ada\n\nReply STOP to opt out.")


def test_step_template_wins_over_style_template(make_request: MakeRequest) -> None:
    style = DraftStyle(templates={"s1": MessageTemplate(subject="From style", body="Style")})
    request = with_templates(make_request, "s1", body="From step")

    result = draft(request, style)

    assert (result.subject, result.body) == ("From style", "From step\n\nReply STOP to opt out.")


def test_template_opt_out_is_left_alone_when_present(make_request: MakeRequest) -> None:
    request = with_templates(make_request, "s1", body="Hi Ada. Unsubscribe any time.")

    assert draft(request).body == "Hi Ada. Unsubscribe any time."


def test_opt_out_line_is_configurable(make_request: MakeRequest) -> None:
    style = DraftStyle(opt_out_line="Not for you? Reply 'opt out'.")

    assert draft(make_request("s1"), style).body.endswith("\n\nNot for you? Reply 'opt out'.")


def test_undefined_template_variables_render_as_visible_placeholders(
    make_request: MakeRequest,
) -> None:
    request = with_templates(
        make_request,
        "s2",
        body="{{ budget }} {{ contact.title }} {{ contact.attributes.size }} {{ a.b() }}",
    )

    body = draft(request).body

    assert body == "{{ budget }} {{ contact.title }} {{ contact.attributes.size }} {{ a.b }}"
    assert find_placeholders(body) == [
        "{{ budget }}",
        "{{ contact.title }}",
        "{{ contact.attributes.size }}",
        "{{ a.b }}",
    ]


def test_template_cannot_reach_python_internals(make_request: MakeRequest) -> None:
    request = with_templates(make_request, "s2", body="{{ contact.__class__ }}")

    assert draft(request).body == "{{ contact.__class__ }}"


def test_broken_template_raises_validation_error_naming_the_step(
    make_request: MakeRequest,
) -> None:
    request = with_templates(make_request, "s1", body="Hi {{ first_name ")

    with pytest.raises(ValidationError, match=r"sequence 'Welcome' step 's1' body template: "):
        draft(request)


def test_check_template_names_where_the_template_came_from() -> None:
    with pytest.raises(ValidationError, match=r"^steps\[0\]\.body_template: .*fix the template"):
        check_template("{% if %}", "steps[0].body_template")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{{ 1/0 }}", "ZeroDivisionError: division by zero"),
        ("{{ '{0}'.format_map({}) }}", "IndexError: tuple index out of range"),
        ("{{ 'x' * 4000000000 }}",
         r"SecurityError: repeating 1 item\(s\) 4000000000 times makes more than 20,000"),
        ("{{ [0] * 30000 }}",
         r"SecurityError: repeating 1 item\(s\) 30000 times makes more than 20,000"),
        ("{{ 2 ** 100000 }}", "SecurityError: exponent 100000 is larger than 1000"),
        ("{{ 'x'.ljust(10000000000) }}",
         "SecurityError: a width or count larger than 20,000"),
        ("{{ '{:>9999999999}'.format('x') }}",
         "SecurityError: a width or count larger than 20,000"),
        ("{{ '%9999999999s' % 'x' }}", "SecurityError: a format width of more than 5 digits"),
        ("{{ 'x'|center(9999999999) }}", "SecurityError: a width or count larger than 20,000"),
        ("{{ '%9999999999s'|format('x') }}",
         "SecurityError: a format width of more than 5 digits"),
        ("{{ 'a' + 1 }}", r"TypeError: .*"),
    ],
    ids=["divide", "format-map", "huge-text", "huge-list", "huge-power", "huge-pad",
         "huge-format", "huge-printf", "huge-center", "huge-format-filter", "type"],
)
def test_any_render_failure_is_a_validation_error_naming_teammate_sequence_and_step(
    make_request: MakeRequest, body: str, reason: str
) -> None:
    request = with_templates(make_request, "s1", body=body)

    with pytest.raises(ValidationError, match=(
            rf"^teammate 'Robin' drafting sequence 'Welcome' step 's1' body template: {reason}; "
            "fix the template$")):
        draft(request)


_DOUBLE = "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s "


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{{ range(100000)|join('x'*2000) }}", "loops take more than 100,000 steps"),
        ("{{ range(1000)|join('x'*2000) }}", "joining makes more than 20,000 characters"),
        ("{{ ('x'*2000).join(['a']*10000) }}", "joining makes more than 20,000 characters"),
        ("{{ ('x'*20000)|replace('x','x'*20000) }}",
         "replacing makes more than 20,000 characters"),
        ("{{ ('x'*20000).replace('x','x'*20000) }}",
         "replacing makes more than 20,000 characters"),
        ("{{ '{0:>{1}}'.format('a','100000000') }}", "a width or count larger than 20,000"),
        (_DOUBLE + "~ ns.s %}{% endfor %}{{ ns.s }}",
         "joining with ~ makes more than 20,000 characters"),
        (_DOUBLE + "+ ns.s %}{% endfor %}{{ ns.s }}", "adding makes more than 20,000 characters"),
        ("{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% else %}{{ s }}{% endif %}"
         "{% endmacro %}{{ d('x', 40) }}", "joining with ~ makes more than 20,000 characters"),
        ("{% macro g(s) %}{{ s }}{{ s }}{% endmacro %}{% set ns = namespace(s='x') %}"
         "{% for i in range(40) %}{% set ns.s = g(ns.s) %}{% endfor %}{{ ns.s }}",
         "a text of more than 20,000 characters"),
        ("{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s %}{{ ns.s }}"
         "{{ ns.s }}{% endset %}{% endfor %}{{ ns.s }}", "a text of more than 20,000 characters"),
        ("{% macro m(s) %}{% for i in range(100000) %}{{ s }}{% endfor %}{% endmacro %}"
         "{{ m('x'*20000)|length }}", "prints more than 1,000,000 characters in all"),
        ("{% macro f(n) %}{% if n %}{{f(n-1)}}{{f(n-1)}}{% endif %}{% endmacro %}{{f(40)}}",
         "loops and calls take more than 100,000 steps"),
        ("{% for x in [1] recursive %}{{ loop(range(1000)) }}{% endfor %}",
         "(RecursionError|SecurityError): .*"),
        ("{{ lipsum(3000000,false,20,21) }}", r"lipsum\(\) is not available in templates"),
    ],
    ids=["join-range", "join-wide", "join-method", "replace", "replace-method", "nested-width",
         "tilde-doubling", "plus-doubling", "macro-doubling", "macro-output-doubling",
         "set-block-doubling", "macro-loop-printing", "exponential-macro", "recursive-loop",
         "lipsum"],
)
def test_templates_that_would_build_huge_texts_or_run_long_are_refused_quickly(
    make_request: MakeRequest, body: str, reason: str
) -> None:
    request = with_templates(make_request, "s1", body=body)

    # The refusal names the bound that stopped the template (not a timeout): without the
    # bound these ran for hours or took all the memory. About 0.4 s of CPU for the
    # exponential macro (100,000 calls), far less for the others; no timed assertion, which
    # a loaded machine turns into a false failure.
    with pytest.raises(ValidationError, match=(
            rf"^teammate 'Robin' drafting sequence 'Welcome' step 's1' body template: "
            rf"(SecurityError: )?{reason}.*; fix the template$")):
        draft(request)


def test_number_formatting_with_large_values_renders(make_request: MakeRequest) -> None:
    # Only widths and precisions written in the format are limited, not the values formatted.
    request = with_templates(
        make_request, "s1",
        body="{{ '{:,} employees'.format(25000) }} {{ '%d'|format(25000) }} "
             "{{ '{:>{}}'.format('x', 3) }}|{{ 'ab'|replace('a', 'c') }} {{ 'x' ~ 1 }}")

    assert draft(request).body.startswith("25,000 employees 25000   x|cb x1")


def test_rendered_text_is_capped_at_20_000_characters(make_request: MakeRequest) -> None:
    request = with_templates(make_request, "s1",
                             body="{% for i in range(3000) %}0123456789{% endfor %}")

    with pytest.raises(ValidationError, match=(
            r"body template: renders more than 20,000 characters; shorten the template$")):
        draft(request)


def test_loops_are_capped_at_100_000_steps_even_when_they_print_nothing(
    make_request: MakeRequest,
) -> None:
    loops = "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}"
    request = with_templates(make_request, "s1", body=loops)

    with pytest.raises(ValidationError, match=(
            r"body template: SecurityError: loops take more than 100,000 steps; fix the "
            "template$")):
        draft(request)


def test_loops_within_the_budget_render_and_the_budget_is_per_rendering(
    make_request: MakeRequest,
) -> None:
    request = with_templates(
        make_request, "s1",
        body="{% for a in range(300) %}{% for b in range(300) %}{% endfor %}{% endfor %}"
             "{% for c in 'abc' %}{{ c }}{{ loop.length }}{% endfor %}")

    assert draft(request).body.startswith("a3b3c3")
    assert draft(request).body.startswith("a3b3c3")


def test_small_repetition_and_powers_still_render(make_request: MakeRequest) -> None:
    request = with_templates(make_request, "s1", body="{{ '-' * 3 }} {{ 2 ** 10 }} {{ 3 * 4 }}")

    assert draft(request).body.startswith("--- 1024 12")


def test_a_style_template_with_bad_syntax_is_refused_where_it_is_written() -> None:
    with pytest.raises(pydantic.ValidationError, match=(
            r"templates\.s1\.body\n.*Expected an expression, got 'end of statement block'; fix "
            "the template's Jinja2 syntax")):
        DraftStyle.model_validate({"templates": {"s1": {"body": "Hi {% if %}"}}})


# -- revisions -------------------------------------------------------------------------------


def test_revision_drops_sentences_with_unfilled_placeholders(make_request: MakeRequest) -> None:
    request = with_templates(
        make_request,
        "s1",
        subject="About {{ size }}",
        body="Hi Ada,\n\nYour {{ project }} is planned. It costs {{ budget }}. Talk soon.\n\nRobin",
    )
    notes = ("placeholders: unfilled placeholder {{ budget }} in the body; fill it in",)

    revised = draft(make_request("s1", step=request.step, revision=1, review_notes=notes))

    assert revised == Draft(
        subject="Intro",
        body="Hi Ada,\n\nYour loft conversion is planned. Talk soon.\n\nRobin\n\n"
        "Reply STOP to opt out.",
        minutes=10,
    )


def test_revision_loop_with_placeholders_converges(make_request: MakeRequest) -> None:
    request = with_templates(
        make_request, "s1", body="Hi {{ contact.nickname }},\n\n{{ pitch }}\n\nRobin"
    )
    drafter, reviewer = TemplateDrafter(), RuleReviewer()

    verdicts = []
    for revision in range(3):
        result = drafter.draft(request)
        review = reviewer.review(ReviewRequest(draft=result, request=request, reviewer="Bo"))
        verdicts.append(review.verdict)
        if review.verdict is Verdict.PASS:
            break
        request = make_request(
            "s1",
            step=request.step,
            revision=revision + 1,
            review_notes=review.reasons,
            previous=result,
        )

    assert verdicts == [Verdict.REVISE, Verdict.PASS]
    assert result.body == draft(make_request("s1", revision=1)).body


def test_revision_about_the_name_rewrites_in_plain_wording(make_request: MakeRequest) -> None:
    request = with_templates(make_request, "s1", subject="Hi", body="Hi Bob,\n\nHello.")
    notes = ("name: the greeting greets 'Bob', but the contact is Ada; greet them as Ada",)

    revised = draft(make_request("s1", step=request.step, revision=1, review_notes=notes))

    assert revised == draft(make_request("s1", revision=1))
    assert revised.body.startswith("Hi Ada,\n\n")


def test_revision_about_a_repeat_changes_the_follow_up_wording(
    make_request: MakeRequest, sent: Sent
) -> None:
    intro = sent(draft(make_request("s1")), "s1")
    first = draft(make_request("s3", step_index=1, thread=(intro,)))
    notes = ("repeat: the body repeats the message sent at step s1; say something new",)

    revised = draft(
        make_request("s3", step_index=1, thread=(intro,), revision=1, review_notes=notes)
    )

    assert first.body.splitlines()[2] == (
        'I\'m following up on my email "Intro". Is this worth a quick conversation for '
        "Analytical Engines?"
    )
    assert revised.body.splitlines()[2] == (
        'I wanted to come back to my email "Intro". If the timing is not right, just let me know.'
    )


def test_revision_cuts_an_overlong_template_sms_to_fit(make_request: MakeRequest) -> None:
    request = with_templates(make_request, "s2", body="Hi Ada, " + "news " * 40)
    notes = ("length: the body is 208 GSM characters, over the sms limit of 160; shorten it",)

    first = draft(request).body
    revised = draft(make_request("s2", step=request.step, revision=1, review_notes=notes)).body

    assert len(first) > 160
    assert len(revised) <= 160
    assert revised.endswith("news...")


# -- timing ----------------------------------------------------------------------------------


def test_draft_minutes_are_base_plus_every_started_hundred_words(
    make_request: MakeRequest,
) -> None:
    style = DraftStyle(base_minutes=20, revision_minutes=4, minutes_per_100_words=3)
    request = make_request("s1", brief="word " * 120)

    assert draft(request, style).minutes == 20 + 3 * 2
    assert draft(make_request("s1", brief="word " * 120, revision=1), style).minutes == 4 + 3 * 2

