"""Teammates and who reviews whose drafts: round robin, fixed pairing, never oneself."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from teamsim.agents import Draft, FakeDrafter, RuleReviewer, TemplateDrafter
from teamsim.graph import Team, TeamMember
from teamsim.model import NotFoundError, Teammate, TeammateRole, ValidationError

BOTH = [TeammateRole.DRAFTER, TeammateRole.REVIEWER]


def mate(name: str, *roles: TeammateRole, capacity: int = 1) -> Teammate:
    return Teammate(name=name, roles=list(roles) or BOTH, capacity=capacity)


def team_of(teammates: list[Teammate], *, pairing: Mapping[str, str] | None = None) -> Team:
    """A team of ``teammates``, each with the template drafter and the rule reviewer."""
    return Team.of(teammates, drafters={t.name: TemplateDrafter() for t in teammates},
                   reviewers={t.name: RuleReviewer() for t in teammates}, pairing=pairing)


def names(members: tuple[TeamMember, ...] | list[TeamMember]) -> list[str]:
    return [m.name for m in members]


def test_member_takes_name_roles_and_capacity_from_its_teammate() -> None:
    member = TeamMember(teammate=mate("Robin", TeammateRole.DRAFTER, capacity=3),
                        drafter=TemplateDrafter(), reviewer=RuleReviewer())

    assert (member.name, member.capacity, member.drafts, member.reviews) == (
        "Robin",
        3,
        True,
        False,
    )


def test_round_robin_takes_the_other_reviewers_in_turn_starting_after_the_drafter() -> None:
    team = team_of([mate("Cy"), mate("Ann"), mate("Bo")])

    picks = {d: names([team.next_reviewer(d) for _ in range(4)]) for d in ("Ann", "Bo", "Cy")}

    assert picks == {
        "Ann": ["Bo", "Cy", "Bo", "Cy"],
        "Bo": ["Cy", "Ann", "Cy", "Ann"],
        "Cy": ["Ann", "Bo", "Ann", "Bo"],
    }


def test_round_robin_skips_teammates_without_the_reviewer_role() -> None:
    team = team_of([mate("Ann"), mate("Bo", TeammateRole.DRAFTER), mate("Cy")])

    assert names(team.reviewers_for("Ann")) == ["Cy"]
    assert names(team.reviewers_for("Bo")) == ["Cy", "Ann"]


def test_round_robin_counts_turns_per_drafter() -> None:
    team = team_of([mate("Ann"), mate("Bo"), mate("Cy")])

    team.next_reviewer("Ann")
    team.next_reviewer("Ann")

    assert team.next_reviewer("Bo").name == "Cy"
    assert team.next_reviewer("Ann").name == "Bo"


def test_reviewer_for_a_turn_matches_the_round_robin_without_state() -> None:
    team = team_of([mate("Ann"), mate("Bo"), mate("Cy")])

    stateless = names([team.reviewer_for("Ann", turn) for turn in range(5)])

    assert stateless == names([team.next_reviewer("Ann") for _ in range(5)])


def test_nobody_is_ever_picked_to_review_their_own_draft() -> None:
    team = team_of([mate(n) for n in ("Ann", "Bo", "Cy", "Di")])

    for drafter in ("Ann", "Bo", "Cy", "Di"):
        assert all(team.next_reviewer(drafter).name != drafter for _ in range(10))


def test_fixed_pairing_always_picks_the_paired_reviewer() -> None:
    team = team_of([mate("Ann"), mate("Bo"), mate("Cy")], pairing={"Ann": "Cy"})

    assert names([team.next_reviewer("Ann") for _ in range(3)]) == ["Cy", "Cy", "Cy"]
    assert names([team.next_reviewer("Bo") for _ in range(2)]) == ["Cy", "Ann"]


def test_fixed_pairing_lets_a_lone_drafter_have_a_reviewer() -> None:
    team = team_of(
        [mate("Ann", TeammateRole.DRAFTER), mate("Bo", TeammateRole.REVIEWER)],
        pairing={"Ann": "Bo"},
    )

    assert team.next_reviewer("Ann").name == "Bo"


@pytest.mark.parametrize(
    ("pairing", "message"),
    [
        ({"Ann": "Ann"}, "a teammate never reviews its own drafts; pair 'Ann' with another"),
        ({"Ann": "Zed"}, "there is no teammate 'Zed'; use one of Ann, Bo, Cy"),
        ({"Ann": "Bo"}, "'Bo' does not have the reviewer role"),
        ({"Cy": "Ann"}, "'Cy' does not have the drafter role"),
    ],
    ids=["self", "unknown", "not-a-reviewer", "not-a-drafter"],
)
def test_invalid_pairing_is_rejected(pairing: dict[str, str], message: str) -> None:
    members = [mate("Ann"), mate("Bo", TeammateRole.DRAFTER), mate("Cy", TeammateRole.REVIEWER)]

    with pytest.raises(ValidationError, match=message):
        team_of(members, pairing=pairing)


def test_drafter_without_any_other_reviewer_is_rejected() -> None:
    members = [mate("Ann"), mate("Bo", TeammateRole.DRAFTER)]

    with pytest.raises(
        ValidationError,
        match=r"teammate 'Ann' drafts but no other teammate can review its drafts.*"
        r"give another teammate the reviewer role, or pair 'Ann' with a reviewer",
    ):
        team_of(members)


def test_lone_teammate_cannot_review_itself() -> None:
    with pytest.raises(ValidationError, match="teammate 'Ann' drafts but no other teammate"):
        team_of([mate("Ann")])


def test_team_without_a_drafter_is_rejected() -> None:
    with pytest.raises(ValidationError, match="no teammate has the drafter role"):
        team_of([mate("Ann", TeammateRole.REVIEWER)])


def test_repeated_teammate_name_is_rejected() -> None:
    with pytest.raises(ValidationError, match="'Ann' used more than once"):
        team_of([mate("Ann"), mate("Ann"), mate("Bo")])


def test_unknown_drafter_is_not_found() -> None:
    team = team_of([mate("Ann"), mate("Bo")])

    with pytest.raises(NotFoundError, match="team has no teammate 'Zed'; it has Ann, Bo"):
        team.next_reviewer("Zed")


def test_reviewer_only_teammate_has_no_drafts_to_review() -> None:
    team = team_of([mate("Ann"), mate("Bo", TeammateRole.REVIEWER)])

    with pytest.raises(ValidationError, match="'Bo' does not have the drafter role"):
        team.next_reviewer("Bo")


def test_negative_turn_is_a_value_error() -> None:
    team = team_of([mate("Ann"), mate("Bo")])

    with pytest.raises(ValueError, match="turn must be >= 0, got -1"):
        team.reviewer_for("Ann", -1)


def test_members_drafters_and_reviewers_are_listed_in_name_order() -> None:
    team = team_of(
        [mate("Cy", TeammateRole.REVIEWER), mate("Bo"), mate("Ann", TeammateRole.DRAFTER)]
    )

    assert names(team.members) == ["Ann", "Bo", "Cy"]
    assert names(team.drafters) == ["Ann", "Bo"]
    assert names(team.reviewers) == ["Bo", "Cy"]


def test_team_of_uses_the_drafter_given_for_each_teammate() -> None:
    fake = FakeDrafter(lambda request: Draft(subject=None, body="Hi"))
    template = TemplateDrafter()
    reviewer = RuleReviewer()
    team = Team.of([mate("Ann"), mate("Bo")], drafters={"Ann": fake, "Bo": template},
                   reviewers={"Ann": reviewer, "Bo": reviewer})

    assert team.member("Ann").drafter is fake
    assert team.member("Bo").drafter is template
    assert team.member("Bo").reviewer is reviewer


def test_team_of_needs_a_drafter_and_a_reviewer_for_every_teammate() -> None:
    with pytest.raises(ValidationError, match="teammate 'Bo' has no drafter and no reviewer"):
        Team.of([mate("Ann"), mate("Bo")], drafters={"Ann": TemplateDrafter()},
                reviewers={"Ann": RuleReviewer()})


def test_check_refuses_what_a_team_would_refuse_without_any_agents() -> None:
    Team.check([mate("Ann"), mate("Bo")])
    with pytest.raises(ValidationError, match="teammate 'Ann' drafts but no other teammate"):
        Team.check([mate("Ann")])
    with pytest.raises(ValidationError, match="there is no teammate 'Zed'"):
        Team.check([mate("Ann"), mate("Bo")], pairing={"Ann": "Zed"})
