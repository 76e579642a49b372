"""The fakes wrap a plain function, for tests and notebooks."""

from __future__ import annotations

from collections.abc import Callable

from teamsim.agents import (
    Draft,
    Drafter,
    DraftRequest,
    FakeDrafter,
    FakeReviewer,
    Review,
    Reviewer,
    ReviewRequest,
    Verdict,
)


def test_fake_drafter_returns_what_its_function_returns(
    make_request: Callable[..., DraftRequest],
) -> None:
    seen: list[DraftRequest] = []

    def write(request: DraftRequest) -> Draft:
        seen.append(request)
        return Draft(subject=None, body=f"Hi {request.contact.first_name}", minutes=7)

    drafter: Drafter = FakeDrafter(write)
    request = make_request("s2")

    assert drafter.draft(request) == Draft(subject=None, body="Hi Ada", minutes=7)
    assert seen == [request]


def test_fake_reviewer_returns_what_its_function_returns(
    make_request: Callable[..., DraftRequest],
) -> None:
    def check(request: ReviewRequest) -> Review:
        verdict = Verdict.PASS if request.reviewer == "Bo" else Verdict.REVISE
        return Review(verdict=verdict, reasons=(), minutes=2)

    reviewer: Reviewer = FakeReviewer(check)
    draft = Draft(subject=None, body="Hi Ada")
    asked = make_request("s2")

    assert reviewer.review(ReviewRequest(draft=draft, request=asked, reviewer="Bo")) == Review(
        verdict=Verdict.PASS, minutes=2
    )
    assert (
        reviewer.review(ReviewRequest(draft=draft, request=asked, reviewer="Cy")).verdict
        is Verdict.REVISE
    )
