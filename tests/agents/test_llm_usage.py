"""ModelUsage: tokens and cost of live calls from the replies' usage_metadata; sums."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from teamsim.agents import (
    Draft,
    DraftRequest,
    ModelSettings,
    ModelTeammate,
    ModelUsage,
    ReviewRequest,
)

from .llm_fakes import EMAIL_REPLY, ToolFake, reply, verdict_call

Make = Callable[..., DraftRequest]


def test_tokens_and_cost_add_up_from_the_usage_metadata(make_request: Make) -> None:
    replies = [reply(EMAIL_REPLY, tokens_in=1200, tokens_out=300),
               verdict_call("pass", tokens_out=40),
               reply(EMAIL_REPLY, tokens_in=1500, tokens_out=310)]
    model = ToolFake(messages=iter(replies))
    mate = ModelTeammate(model, name="Robin", model_id="fake", settings=ModelSettings(
        price_in_per_1m=3.0, price_out_per_1m=15.0))

    first = mate.drafter.draft(make_request("s1"))
    mate.reviewer.review(ReviewRequest(draft=first, request=make_request("s1"), reviewer="Sam"))
    mate.drafter.draft(make_request("s3"))

    usage = mate.usage()
    assert (usage.model_calls, usage.tokens_in, usage.tokens_out) == (3, 1200 + 80 + 1500,
                                                                     300 + 40 + 310)
    assert usage.cost == pytest.approx((2780 * 3.0 + 650 * 15.0) / 1_000_000)
    assert (usage.cache_hits, usage.replayed_tokens_in, usage.failures) == (0, 0, 0)


def test_a_reply_without_usage_metadata_counts_no_tokens(make_request: Make) -> None:
    model = ToolFake(messages=iter(["SUBJECT: Hi\nBODY:\nHi Ada.\n\nReply STOP to opt out."]))
    mate = ModelTeammate(model, name="Robin", model_id="fake")

    assert mate.drafter.draft(make_request("s1")) == Draft(
        subject="Hi", body="Hi Ada.\n\nReply STOP to opt out.", minutes=10)
    assert (mate.usage().model_calls, mate.usage().tokens_out) == (1, 0)


def test_usages_add_field_by_field() -> None:
    one = ModelUsage(model_calls=1, cache_hits=2, tokens_in=3, tokens_out=4, cost=0.5,
                     replayed_tokens_in=5, replayed_tokens_out=6, failures=1, prefetch_unused=2)

    assert one + one == ModelUsage(model_calls=2, cache_hits=4, tokens_in=6, tokens_out=8,
                                   cost=1.0, replayed_tokens_in=10, replayed_tokens_out=12,
                                   failures=2, prefetch_unused=4)
    assert sum((one, one), ModelUsage()) == one + one
