"""Teammates at work: each with its drafter and reviewer, and who reviews whose drafts.

A teammate never reviews its own draft. :class:`Team` picks the reviewer deterministically:
from a fixed pairing when the configuration gives one for the drafter, otherwise round robin
over the *other* teammates with the reviewer role. The round starts with the next name after
the drafter's (in name order) and wraps around, so reviews spread over the team rather than
all landing on the first name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from teamsim.agents import Drafter, Reviewer
from teamsim.model import NotFoundError, Teammate, TeammateRole, ValidationError

__all__ = ["Team", "TeamMember", "prefetches"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamMember:
    """A teammate at work: its settings, and the drafter and reviewer it uses.

    Attributes:
        teammate: name, roles and capacity (how many tasks it works on at once).
        drafter: writes its drafts.
        reviewer: checks other teammates' drafts.
    """

    teammate: Teammate
    drafter: Drafter
    reviewer: Reviewer

    @property
    def name(self) -> str:
        """The teammate's name."""
        return self.teammate.name

    @property
    def capacity(self) -> int:
        """How many tasks the teammate works on at once."""
        return self.teammate.capacity

    @property
    def drafts(self) -> bool:
        """Whether the teammate takes the drafter role."""
        return TeammateRole.DRAFTER in self.teammate.roles

    @property
    def reviews(self) -> bool:
        """Whether the teammate takes the reviewer role."""
        return TeammateRole.REVIEWER in self.teammate.roles


class Team:
    """The teammates of a run, and the choice of who reviews each draft.

    Args:
        members: the teammates; names must be unique.
        pairing: fixed reviewers, drafter name -> reviewer name; drafters not named here
            are reviewed round robin.

    Raises:
        ValidationError: names repeat, nobody drafts, the pairing names an unknown teammate,
            a non-drafter, a non-reviewer or the drafter itself, or a drafter has nobody
            else to review its drafts.
    """

    def __init__(
        self, members: Iterable[TeamMember], *, pairing: Mapping[str, str] | None = None
    ) -> None:
        ordered = sorted(members, key=lambda m: m.name)
        self._members = {m.name: m for m in ordered}
        self._pairing = dict(pairing or {})
        self._rounds = _rounds([m.teammate for m in ordered], self._pairing)
        self._turns: dict[str, int] = dict.fromkeys(self._rounds, 0)

    @staticmethod
    def check(teammates: Iterable[Teammate], *, pairing: Mapping[str, str] | None = None) -> None:
        """Check that ``teammates`` (with the fixed ``pairing``) make a team, before any
        drafter or reviewer is chosen for them.

        Raises:
            ValidationError: as :class:`Team` raises it.
        """
        _rounds(sorted(teammates, key=lambda t: t.name), dict(pairing or {}))

    @classmethod
    def of(
        cls,
        teammates: Iterable[Teammate],
        *,
        drafters: Mapping[str, Drafter],
        reviewers: Mapping[str, Reviewer],
        pairing: Mapping[str, str] | None = None,
    ) -> Team:
        """A team of ``teammates``, each with the drafter and reviewer named for it.

        Args:
            teammates: the teammates.
            drafters: the drafter of every teammate, by name.
            reviewers: the reviewer of every teammate, by name.
            pairing: fixed reviewers, drafter name -> reviewer name.

        Raises:
            ValidationError: a teammate has no drafter or no reviewer in the mappings.
        """
        members = []
        for teammate in teammates:
            missing = [what for what, given in (("drafter", drafters), ("reviewer", reviewers))
                       if teammate.name not in given]
            if missing:
                raise ValidationError(
                    f"team: teammate {teammate.name!r} has no {' and no '.join(missing)}; "
                    "give every teammate both"
                )
            members.append(TeamMember(teammate=teammate, drafter=drafters[teammate.name],
                                      reviewer=reviewers[teammate.name]))
        return cls(members, pairing=pairing)

    @property
    def members(self) -> tuple[TeamMember, ...]:
        """Every teammate, in name order."""
        return tuple(self._members.values())

    @property
    def drafters(self) -> tuple[TeamMember, ...]:
        """The teammates with the drafter role, in name order."""
        return tuple(m for m in self._members.values() if m.drafts)

    @property
    def reviewers(self) -> tuple[TeamMember, ...]:
        """The teammates with the reviewer role, in name order."""
        return tuple(m for m in self._members.values() if m.reviews)

    def member(self, name: str) -> TeamMember:
        """The teammate called ``name``.

        Raises:
            NotFoundError: there is no such teammate.
        """
        try:
            return self._members[name]
        except KeyError:
            raise NotFoundError(
                f"team has no teammate {name!r}; it has {', '.join(self._members)}"
            ) from None

    def reviewers_for(self, drafter: str) -> tuple[TeamMember, ...]:
        """Who reviews ``drafter``'s drafts, in the order they take turns."""
        self._drafter(drafter)
        if drafter in self._pairing:
            return (self._members[self._pairing[drafter]],)
        return tuple(self._members[name] for name in self._rounds[drafter])

    def reviewer_for(self, drafter: str, turn: int) -> TeamMember:
        """Who reviews ``drafter``'s draft number ``turn`` (0 for its first), without state.

        The same as the ``turn + 1``-th call of :meth:`next_reviewer`; use it where the turn is
        kept elsewhere (a checkpointed graph, say).
        """
        if turn < 0:
            raise ValueError(f"turn must be >= 0, got {turn}")
        candidates = self.reviewers_for(drafter)
        return candidates[turn % len(candidates)]

    def upcoming_reviewers(self, drafter: str, count: int) -> tuple[TeamMember, ...]:
        """Who reviews ``drafter``'s next ``count`` drafts, in order: what the next ``count``
        calls of :meth:`next_reviewer` would return, without moving the round robin."""
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        turn = self._turns.get(drafter, 0)
        return tuple(self.reviewer_for(drafter, turn + k) for k in range(count))

    @property
    def prefetches(self) -> bool:
        """Whether any teammate's drafter or reviewer may be called ahead of time
        (:class:`~teamsim.agents.Prefetching` with ``prefetch = True``)."""
        return any(prefetches(agent)
                   for m in self._members.values() for agent in (m.drafter, m.reviewer))

    def next_reviewer(self, drafter: str) -> TeamMember:
        """Who reviews ``drafter``'s next draft; moves ``drafter``'s round robin on by one."""
        turn = self._turns.get(drafter, 0)
        chosen = self.reviewer_for(drafter, turn)
        if drafter in self._turns:
            self._turns[drafter] = turn + 1
        return chosen

    def _drafter(self, name: str) -> TeamMember:
        member = self.member(name)
        if not member.drafts:
            raise ValidationError(
                f"teammate {name!r} does not have the drafter role, so it has no drafts to "
                "review; add drafter to its roles"
            )
        return member


def prefetches(agent: object) -> bool:
    """Whether ``agent`` (a drafter or a reviewer) may be called ahead of time
    (:class:`~teamsim.agents.Prefetching` with ``prefetch = True``)."""
    return getattr(agent, "prefetch", False) is True


def _drafts(teammate: Teammate) -> bool:
    return TeammateRole.DRAFTER in teammate.roles


def _reviews(teammate: Teammate) -> bool:
    return TeammateRole.REVIEWER in teammate.roles


def _rounds(ordered: list[Teammate], pairing: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Check the roster (in name order) and the pairing; the review round of every drafter
    not in the pairing."""
    roster = {t.name: t for t in ordered}
    if len(roster) != len(ordered):
        names = [t.name for t in ordered]
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValidationError(
            f"team: teammate name(s) {', '.join(map(repr, twice))} used more than once; "
            "give every teammate its own name"
        )
    if not any(_drafts(t) for t in ordered):
        raise ValidationError(
            "team: no teammate has the drafter role; give at least one teammate the "
            "roles [drafter]"
        )
    for drafter, reviewer in sorted(pairing.items()):
        _check_pair(roster, drafter, reviewer)
    return {t.name: _round_for(roster, t.name) for t in ordered
            if _drafts(t) and t.name not in pairing}


def _check_pair(roster: Mapping[str, Teammate], drafter: str, reviewer: str) -> None:
    where = f"team pairing {drafter!r} -> {reviewer!r}"
    for name in (drafter, reviewer):
        if name not in roster:
            raise ValidationError(
                f"{where}: there is no teammate {name!r}; use one of "
                f"{', '.join(roster)}"
            )
    if drafter == reviewer:
        raise ValidationError(
            f"{where}: a teammate never reviews its own drafts; pair {drafter!r} with "
            "another teammate"
        )
    if not _drafts(roster[drafter]):
        raise ValidationError(
            f"{where}: {drafter!r} does not have the drafter role; add it or drop the pair"
        )
    if not _reviews(roster[reviewer]):
        raise ValidationError(
            f"{where}: {reviewer!r} does not have the reviewer role; add it or pair "
            f"{drafter!r} with a reviewer"
        )


def _round_for(roster: Mapping[str, Teammate], drafter: str) -> tuple[str, ...]:
    names = list(roster)
    start = names.index(drafter) + 1
    ring = names[start:] + names[:start]
    others = tuple(n for n in ring if n != drafter and _reviews(roster[n]))
    if not others:
        raise ValidationError(
            f"team: teammate {drafter!r} drafts but no other teammate can review its "
            f"drafts (a teammate never reviews its own); give another teammate the "
            f"reviewer role, or pair {drafter!r} with a reviewer in the pairing"
        )
    return others
