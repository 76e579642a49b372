"""Timeouts, rate limits and malformed replies are retried with bounded, seeded backoff; what
still fails is an AgentFailure with a readable reason and the tries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from teamsim.agents import AgentFailure, DraftRequest, ModelSettings, ModelTeammate

from .llm_fakes import EMAIL_REPLY, APITimeoutError, RateLimited, Scripted, Waits, reply

Make = Callable[..., DraftRequest]


def teammate(script: list[object], waits: Waits, seed: int = 0,
             **settings: object) -> tuple[ModelTeammate, Scripted]:
    model = Scripted(script=script)
    mate = ModelTeammate(model, name="Robin", model_id="fake", seed=seed,
                         settings=ModelSettings(**settings), sleep=waits)
    return mate, model


def test_a_timeout_is_retried_after_a_wait(make_request: Make) -> None:
    waits = Waits()
    mate, _ = teammate([TimeoutError("read timed out"), reply(EMAIL_REPLY)], waits)

    assert mate.drafter.draft(make_request("s1")).subject == "Faster project plans"
    assert len(waits.waits) == 1
    assert 0.5 <= waits.waits[0] < 1.0  # backoff_seconds * jitter in [0.5, 1)
    assert mate.usage().model_calls == 2
    assert mate.usage().failures == 0


def test_rate_limits_until_the_tries_run_out_fail_with_the_reason(make_request: Make) -> None:
    waits = Waits()
    mate, _ = teammate([RateLimited("429 Too Many Requests")] * 4, waits)

    with pytest.raises(AgentFailure) as failed:
        mate.drafter.draft(make_request("s1"))

    assert str(failed.value) == "rate limited after 4 tries"
    assert (failed.value.reason, failed.value.tries) == ("rate limited", 4)
    assert len(waits.waits) == 3
    assert mate.usage().failures == 1


def test_the_waits_double_are_capped_and_repeat_run_after_run(make_request: Make) -> None:
    runs = []
    for _ in range(2):
        waits = Waits()
        mate, _ = teammate([APITimeoutError()] * 6, waits, max_tries=6, backoff_seconds=1.0,
                           max_backoff_seconds=5.0)
        with pytest.raises(AgentFailure, match=r"^timed out after 6 tries$"):
            mate.drafter.draft(make_request("s1"))
        runs.append(waits.waits)

    assert runs[0] == runs[1]
    caps = [1.0, 2.0, 4.0, 5.0, 5.0]
    assert all(cap / 2 <= wait < cap for wait, cap in zip(runs[0], caps, strict=True))


def test_another_seed_gives_other_waits(make_request: Make) -> None:
    seen = []
    for seed in (1, 2):
        waits = Waits()
        mate, _ = teammate([TimeoutError()] * 2, waits, seed=seed, max_tries=2)
        with pytest.raises(AgentFailure):
            mate.drafter.draft(make_request("s1"))
        seen.append(waits.waits)

    assert seen[0] != seen[1]


def test_another_error_is_not_retried(make_request: Make) -> None:
    waits = Waits()
    mate, _ = teammate([ValueError("bad api key\nmore detail")], waits)

    with pytest.raises(AgentFailure, match=r"^ValueError: bad api key after 1 try$"):
        mate.drafter.draft(make_request("s1"))

    assert waits.waits == []


def test_a_failure_reason_is_redacted_before_it_is_raised_or_recorded(
    make_request: Make, tmp_path: Path,
) -> None:
    """A provider's error text quoting the API key is masked by the teammate's ``redact``, in
    the failure raised and in the cassette's recorded failure."""
    from teamsim.agents import Cassette

    cassette = Cassette("record")
    mate = ModelTeammate(Scripted(script=[PermissionError("401 invalid api key sk-LEAK-1")]),
                         name="Robin", model_id="fake", cassette=cassette, sleep=Waits(),
                         redact=lambda text: text.replace("sk-LEAK-1", "***"))
    with pytest.raises(AgentFailure) as failed:
        mate.drafter.draft(make_request("s1"))
    assert failed.value.reason == "PermissionError: 401 invalid api key ***"
    cassette.save(tmp_path / "c.json")
    saved = (tmp_path / "c.json").read_text()
    assert "401 invalid api key ***" in saved
    assert "sk-LEAK-1" not in saved


def test_malformed_replies_and_timeouts_share_the_tries(make_request: Make) -> None:
    waits = Waits()
    mate, model = teammate([reply("nonsense"), TimeoutError(), reply("nonsense")], waits,
                           max_tries=3)

    with pytest.raises(AgentFailure, match=r"^malformed reply: .* after 3 tries$"):
        mate.drafter.draft(make_request("s1"))

    assert len(model.prompts) == 3
    assert len(waits.waits) == 1


def test_the_status_attribute_of_an_http_error_counts_as_a_rate_limit(
        make_request: Make) -> None:
    class HTTPError(Exception):
        status = 429

    mate, _ = teammate([HTTPError(), reply(EMAIL_REPLY)], Waits())

    assert mate.drafter.draft(make_request("s1")).body.startswith("Hi Ada")


def test_a_structured_output_call_is_retried_the_same_way(make_request: Make) -> None:
    from teamsim.agents import Draft, ReviewRequest, Verdict

    from .llm_fakes import verdict_call

    class ScriptedTools(Scripted):
        def bind_tools(self, tools, **kwargs):  # type: ignore[no-untyped-def,override]
            return self

    waits = Waits()
    model = ScriptedTools(script=[RateLimited(), verdict_call("pass")])
    mate = ModelTeammate(model, name="Sam", model_id="fake", sleep=waits)
    request = ReviewRequest(draft=Draft(subject="S", body="Hi Ada"), request=make_request("s1"),
                            reviewer="Sam")

    assert mate.reviewer.review(request).verdict is Verdict.PASS
    assert len(waits.waits) == 1
    assert mate.usage().model_calls == 2
