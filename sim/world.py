"""What a simulated world is made of: personas, the human approver, teammates, the timeline.

These pydantic models (``extra="forbid"``) are the simulator's configuration; :class:`World` is
one whole run's input. A scenario file is a :class:`World` plus what only the roof reads
(expectations, diagnosis checks, variants, the teammates' drafter and reviewer settings): see
:class:`teamsim.scenario.Scenario`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from statistics import NormalDist
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from teamsim.model import (
    MAX_DELAY_MINUTES,
    AttributeValue,
    AutoApproveRule,
    Cap,
    Capacity,
    Contact,
    Days,
    DelayHours,
    Factor,
    Hours,
    ItemMinutes,
    LocalTime,
    PositiveDelayHours,
    Probability,
    RunDays,
    Seed,
    Sequence,
    SequenceStatus,
    Sigma,
    SimMinutes,
    TeammateRole,
    Weight,
    WhenDate,
    WhenDateTime,
    channels,
    check_moment,
    check_timezone,
    shorten,
)
from teamsim.sim._actions import (
    ActivateAction,
    ChatAction,
    EditAction,
    PauseAction,
    TimelineAction,
)

__all__ = [
    "ApproverPolicy",
    "ContactSpec",
    "DateRange",
    "Delay",
    "KnownContacts",
    "Persona",
    "Population",
    "SimSettings",
    "TeammateSpec",
    "World",
]

_MODEL = ConfigDict(extra="forbid")
_NORMAL = NormalDist()


class Delay(BaseModel):
    """A random delay, drawn by inverse transform from one uniform number.

    ``fixed`` takes ``hours``; ``exponential`` takes ``mean_hours``; ``lognormal`` takes
    ``median_hours`` and ``sigma``; ``uniform`` takes ``min_hours`` and ``max_hours``.
    """

    model_config = _MODEL
    dist: Literal["fixed", "exponential", "lognormal", "uniform"] = "lognormal"
    hours: DelayHours | None = None
    mean_hours: PositiveDelayHours | None = None
    median_hours: PositiveDelayHours | None = None
    sigma: Sigma = 1.0
    min_hours: DelayHours | None = None
    max_hours: DelayHours | None = None

    @model_validator(mode="after")
    def _parameters(self) -> Delay:
        needs = {"fixed": ("hours",), "exponential": ("mean_hours",),
                 "lognormal": ("median_hours",), "uniform": ("min_hours", "max_hours")}
        missing = [f for f in needs[self.dist] if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.dist} delay needs {' and '.join(missing)}")
        if self.dist == "uniform" and self.max_hours < self.min_hours:  # type: ignore[operator]
            raise ValueError("max_hours must be >= min_hours")
        return self

    def minutes(self, u: float) -> SimMinutes:
        """The delay for the uniform draw ``u`` in [0, 1), in whole minutes (at least 1).

        A lognormal tail can reach far beyond any run: the delay is cut to ten years
        (:data:`~teamsim._ranges.MAX_DELAY_MINUTES`), which never lands inside one.
        """
        u = min(max(u, 1e-12), 1 - 1e-12)
        if self.dist == "fixed":
            hours = self.hours or 0.0
        elif self.dist == "exponential":
            hours = -(self.mean_hours or 0.0) * math.log(1 - u)
        elif self.dist == "lognormal":
            hours = (self.median_hours or 0.0) * math.exp(self.sigma * _NORMAL.inv_cdf(u))
        else:
            lo, hi = self.min_hours or 0.0, self.max_hours or 0.0
            hours = lo + (hi - lo) * u
        return max(1, min(MAX_DELAY_MINUTES, round(hours * 60)))


def _lognormal(median: float, sigma: float = 1.0) -> Delay:
    return Delay(dist="lognormal", median_hours=median, sigma=sigma)


class Persona(BaseModel):
    """How a kind of contact reacts to messages.

    Probabilities are per delivered message. ``reply`` may be a list: the chance for the first
    message step, the second, ... (the last value repeats). ``channel_factors`` multiply the
    reply chance per channel; ``edited_factor`` applies to messages the human edited and
    ``flagged_factor`` to messages sent with the reviewer's concerns still open.
    """

    model_config = _MODEL
    name: str = Field(min_length=1)
    open: Probability = 0.55
    open_delay: Delay = Field(default_factory=lambda: _lognormal(3.0))
    click: Probability = 0.15
    click_delay: Delay = Field(default_factory=lambda: Delay(dist="exponential", mean_hours=0.5))
    reply: Probability | list[Probability] = 0.08
    reply_delay: Delay = Field(default_factory=lambda: _lognormal(6.0))
    channel_factors: dict[str, Factor] = Field(default_factory=dict)
    edited_factor: Factor = 1.0
    flagged_factor: Factor = 1.0
    out_of_office: Probability = 0.0
    bounce: Probability = 0.0
    unsubscribe: Probability = 0.0
    unsubscribe_delay: Delay = Field(default_factory=lambda: _lognormal(12.0))

    @field_validator("reply")
    @classmethod
    def _reply_list(cls, value: float | list[float]) -> float | list[float]:
        if isinstance(value, list) and not value:
            raise ValueError("reply as a list needs at least one probability")
        return value

    @field_validator("channel_factors")
    @classmethod
    def _channels(cls, value: dict[str, float]) -> dict[str, float]:
        for name in value:
            if name not in channels():
                raise ValueError(f"unknown channel {name!r}; use one of: {', '.join(channels())}")
        return value

    def reply_chance(self, message_index: int, channel: str, edited: bool, flagged: bool) -> float:
        """The chance that this persona replies to a message, all factors applied (max 1)."""
        base = self.reply[min(message_index, len(self.reply) - 1)] if isinstance(
            self.reply, list) else self.reply
        chance = base * self.channel_factors.get(channel, 1.0)
        if edited:
            chance *= self.edited_factor
        if flagged:
            chance *= self.flagged_factor
        return min(1.0, chance)


class DateRange(BaseModel):
    """Whole days from ``start`` to ``end`` inclusive."""

    model_config = _MODEL
    start: WhenDate
    end: WhenDate

    @field_validator("start", "end")
    @classmethod
    def _in_range(cls, value: date) -> date:
        check_moment(value)
        return value

    @model_validator(mode="after")
    def _order(self) -> DateRange:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class ApproverPolicy(BaseModel):
    """The simulated human who works Needs attention.

    The human checks in at ``sessions`` (local times in ``timezone``) on ``workdays`` (0 is
    Monday), unless ``away``; each session handles up to ``max_items_per_session`` items, oldest
    first, spending ``minutes_per_item`` on a draft and ``minutes_per_reply`` on a reply.
    ``approve``/``edit``/``reject`` are the chances of each decision on a draft (they must add
    up to 1). ``on_reply`` is what the human does with a person who replied: leave them paused,
    resume their sequence, or end their enrollment. ``on_draft_failure`` is what the human does
    with a person whose step could not be drafted or reviewed (their enrollment paused): resume
    it so the step falls due and is drafted again (``retry``), move on to the next step
    (``skip``), or end the enrollment (``end``); each costs ``minutes_per_item``.
    ``accept_suggestions_after_days`` makes the human enable a suggested auto-approve rule that
    many days after it is suggested.
    """

    model_config = _MODEL
    timezone: str = "UTC"
    workdays: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    sessions: list[LocalTime] = Field(default_factory=lambda: [time(9), time(13), time(17)])
    minutes_per_item: ItemMinutes = 2.0
    minutes_per_reply: ItemMinutes = 5.0
    max_items_per_session: Cap = 30
    approve: Probability = 0.85
    edit: Probability = 0.10
    reject: Probability = 0.05
    away: list[DateRange] = Field(default_factory=list)
    on_reply: Literal["leave", "resume", "end"] = "leave"
    on_draft_failure: Literal["retry", "skip", "end"] = "retry"
    accept_suggestions_after_days: Days | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("workdays")
    @classmethod
    def _workdays(cls, value: list[int]) -> list[int]:
        if not value or any(d < 0 or d > 6 for d in value):
            raise ValueError("workdays must be a non-empty list of 0 (Monday) to 6 (Sunday)")
        return sorted(set(value))

    @field_validator("sessions")
    @classmethod
    def _sessions(cls, value: list[time]) -> list[time]:
        if not value:
            raise ValueError("sessions needs at least one check-in time, like '09:00'")
        return sorted(set(value))

    @model_validator(mode="after")
    def _sum(self) -> ApproverPolicy:
        total = self.approve + self.edit + self.reject
        if abs(total - 1.0) > 1e-9:
            raise ValueError(
                f"approve + edit + reject must add up to 1, got {total:g}; adjust them"
            )
        return self

    def is_away(self, day: date) -> bool:
        """Whether the human is away on ``day`` (their local date)."""
        return any(r.start <= day <= r.end for r in self.away)


class TeammateSpec(BaseModel):
    """An AI teammate as the simulator sees it: name, roles and capacity (tasks at once).

    ``reviewed_by`` fixes the peer who reviews this teammate's drafts (default: round robin
    over the other reviewers).
    """

    model_config = _MODEL
    name: str = Field(min_length=1)
    roles: list[TeammateRole] = Field(
        default_factory=lambda: [TeammateRole.DRAFTER, TeammateRole.REVIEWER])
    capacity: Capacity = 2
    reviewed_by: str | None = None


class ContactSpec(Contact):
    """A contact in a scenario: a contact plus its persona and the sequences it is enrolled in."""

    persona: str = "default"
    enroll_in: list[str] = Field(default_factory=list)
    enroll_at: Days = Field(default=0, description="Days after the start.")


_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                     r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")


class Population(BaseModel):
    """``count`` generated contacts with deterministic names, companies and time zones.

    ``personas`` and ``timezones`` map a name to a weight; each generated contact's persona and
    time zone are drawn from them with the run's keyed random numbers. ``enroll_over_days``
    spreads their enrollment evenly over that many days from ``enroll_at``.
    """

    model_config = _MODEL
    name: str = Field(default="lead", min_length=1, pattern=r"^[a-z][a-z0-9_-]*$")
    count: int = Field(ge=1, le=1_000_000)
    personas: dict[str, Weight] = Field(default_factory=lambda: {"default": 1.0})
    timezones: dict[str, Weight] = Field(default_factory=lambda: {"UTC": 1.0})
    domain: str = "example.com"
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)
    enroll_in: list[str] = Field(default_factory=list)
    enroll_at: Days = 0
    enroll_over_days: Days = 0

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        # The generated emails (name-N@domain) must be valid contact emails.
        if len(value) > 253 or not _DOMAIN.fullmatch(value):
            raise ValueError(f"not a domain name: {shorten(value)}; write it like example.com")
        return value

    @field_validator("personas", "timezones")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        if not value or any(w < 0 for w in value.values()) or sum(value.values()) <= 0:
            raise ValueError("weights must be >= 0 and not all 0")
        return value

    @field_validator("timezones")
    @classmethod
    def _tzs(cls, value: dict[str, float]) -> dict[str, float]:
        for name in value:
            check_timezone(name)
        return value


# ---------------------------------------------------------------------------------------------
# Settings and the world


class SimSettings(BaseModel):
    """Knobs of the simulator itself.

    ``tick_minutes``: how often the scheduler picks up due steps. ``catch_up_hours``: after a
    sequence is activated again, the steps that fell due while it was paused (and messages held)
    are spread evenly over this many hours of open sending-window time (clock hours without a
    window) instead of all firing at once. ``max_review_rounds`` and ``on_reject``
    configure the pipeline. ``suggest_after``: approvals in a row without edits (of the same
    sequence step, channel and teammate) before a rule is suggested;
    ``suggested_rule_daily_cap``: the per-day cap a suggested rule comes with.
    """

    model_config = _MODEL
    tick_minutes: int = Field(default=15, ge=1, le=1440)
    catch_up_hours: Hours = 24
    max_review_rounds: int = Field(default=2, ge=0, le=20)
    on_reject: Literal["skip", "redraft"] = "skip"
    suggest_after: Cap = 10
    suggested_rule_daily_cap: Cap | None = 20


class World(BaseModel):
    """Everything one simulated run needs (a scenario file is a :class:`World` and more).

    ``start`` is a local date-time in ``timezone`` (or an aware date-time); ``days`` is how long
    the run lasts; ``seed`` is the default seed.
    """

    model_config = _MODEL
    name: str = Field(min_length=1)
    description: str = ""
    start: WhenDateTime = datetime(2026, 3, 2, 8, 0)
    timezone: str = "UTC"
    days: RunDays = 14
    seed: Seed = 0
    settings: SimSettings = Field(default_factory=SimSettings)
    teammates: list[TeammateSpec] = Field(
        default_factory=lambda: [TeammateSpec(name="Riley"), TeammateSpec(name="Sam")])
    sequences: list[Sequence] = Field(default_factory=list)
    personas: list[Persona] = Field(default_factory=lambda: [Persona(name="default")])
    contacts: list[ContactSpec] = Field(default_factory=list)
    populations: list[Population] = Field(default_factory=list)
    approver: ApproverPolicy = Field(default_factory=ApproverPolicy)
    rules: list[AutoApproveRule] = Field(default_factory=list)
    timeline: list[TimelineAction] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value)

    @property
    def start_utc(self) -> datetime:
        """The start as an aware UTC date-time."""
        start = self.start
        if start.tzinfo is None:
            start = start.replace(tzinfo=ZoneInfo(self.timezone))
        return start.astimezone(UTC)

    @property
    def minutes(self) -> SimMinutes:
        """The run's length in simulated minutes."""
        return round(self.days * 1440)

    def at(self, minute: SimMinutes) -> datetime:
        """The UTC date-time of simulated minute ``minute``."""
        return self.start_utc + timedelta(minutes=minute)

    def run_seed(self, seed: int | None) -> int:
        """The seed a run of this world uses: ``seed`` if one is given, else the world's.

        The one statement of that rule: the simulator applies it, and the command line asks
        it only to name a run's folder before the run.
        """
        return self.seed if seed is None else seed

    @model_validator(mode="after")
    def _references(self) -> World:
        problems = self._problems()
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _problems(self) -> list[str]:
        """Every problem across the world's parts, in the order the file names them.

        :class:`teamsim.scenario.Scenario` overrides this to add the file's own checks
        (templates, diagnosis checks, the team) in their places between these.
        """
        return [*self._start_problems(), *self._reference_problems(),
                *self._timeline_problems(self.known_contacts()), *self._edit_problems()]

    def known_contacts(self) -> KnownContacts:
        """The contacts' emails as the simulator will have them (listed and generated)."""
        # Generated emails as the simulator makes them: Contact lower-cases its email.
        generated = {f"{p.name}-{n}@{p.domain}".lower() for p in self.populations for n in
                     range(1, p.count + 1)} if sum(p.count for p in self.populations) < 200_000 \
            else set()
        # Every contact's email is known unless a population was too large to list.
        complete = len(generated) == sum(p.count for p in self.populations)
        return KnownContacts(emails=frozenset({c.email for c in self.contacts} | generated),
                             complete=complete)

    def _start_problems(self) -> list[str]:
        """The start (in its time zone) must lie from 1970 to 2200: the run then ends before
        2211 and every date computed in it stays within Python's calendar."""
        try:
            # The wall-clock value first: converting a date-time near year 1 or 9999 overflows.
            check_moment(self.start)
            check_moment(self.start_utc)
        except ValueError as err:
            return [f"start: {err}; pick a start in that range"]
        return []

    def _reference_problems(self) -> list[str]:
        """Unique names, and every name used (teammate, persona, sequence) defined."""
        problems: list[str] = []
        seq_names = [s.name for s in self.sequences]
        team = {t.name: t for t in self.teammates}
        personas = {p.name for p in self.personas}
        emails = [c.email for c in self.contacts]
        _dupes("sequences", seq_names, problems)
        _dupes("teammates", list(team), problems)
        _dupes("personas", [p.name for p in self.personas], problems)
        _dupes("rules", [r.name for r in self.rules], problems)
        _dupes("contacts", emails, problems)
        if not any(TeammateRole.DRAFTER in t.roles for t in self.teammates):
            problems.append("teammates: no teammate has the drafter role; give one `drafter`")
        for i, t in enumerate(self.teammates):
            if t.reviewed_by is not None and t.reviewed_by not in team:
                problems.append(f"teammates[{i}].reviewed_by: no teammate {t.reviewed_by!r}")
        for i, s in enumerate(self.sequences):
            if s.teammate is not None and s.teammate not in team:
                problems.append(f"sequences[{i}].teammate: no teammate {s.teammate!r}; "
                                f"use one of {', '.join(team)}")
            if s.status is SequenceStatus.ACTIVE and not s.message_steps():
                problems.append(f"sequences[{i}]: an active sequence needs a message step")
        for i, c in enumerate(self.contacts):
            if c.persona not in personas:
                problems.append(f"contacts[{i}].persona: no persona {c.persona!r}; "
                                f"use one of {', '.join(sorted(personas))}")
            for name in c.enroll_in:
                if name not in seq_names:
                    problems.append(f"contacts[{i}].enroll_in: no sequence {name!r}")
        for i, p in enumerate(self.populations):
            for name in p.personas:
                if name not in personas:
                    problems.append(f"populations[{i}].personas: no persona {name!r}")
            for name in p.enroll_in:
                if name not in seq_names:
                    problems.append(f"populations[{i}].enroll_in: no sequence {name!r}")
        for i, p in enumerate(self.populations):
            pattern = re.compile(rf"{re.escape(p.name)}-(\d+)@{re.escape(p.domain.lower())}")
            clash = any((m := pattern.fullmatch(e)) and 1 <= int(m.group(1)) <= p.count
                        for e in emails) or any(
                (q.name, q.domain.lower()) == (p.name, p.domain.lower())
                for q in self.populations[:i])
            if clash:
                problems.append(f"populations[{i}]: its generated emails ({p.name}-N@{p.domain}) "
                                "clash with other contacts; give it another name or domain")
        return problems

    def _timeline_problems(self, contacts: KnownContacts) -> list[str]:
        """Every timeline action inside the run, naming things that exist."""
        problems: list[str] = []
        seq_names = [s.name for s in self.sequences]
        team = {t.name for t in self.teammates}
        rules = {r.name for r in self.rules}
        for i, a in enumerate(self.timeline):
            where = f"timeline[{i}]"
            if a.minute > self.minutes:
                problems.append(f"{where}.at: day {a.at:g} is after the run ends (day "
                                f"{self.days:g}); move it earlier or lengthen days")
            seq = getattr(a, "sequence", None)
            if seq is not None and seq not in seq_names:
                problems.append(f"{where}.sequence: no sequence {seq!r}; use one of "
                                f"{', '.join(seq_names) or '(none defined)'}")
            rule = getattr(a, "rule", None)
            if rule is not None and rule not in rules:
                problems.append(f"{where}.rule: no rule {rule!r}")
            for email in [*getattr(a, "contacts", []), getattr(a, "contact", None)]:
                if email is not None and contacts.unknown(email):
                    problems.append(f"{where}: no contact {email!r}")
            if isinstance(a, ChatAction) and a.teammate is not None and a.teammate not in team:
                problems.append(f"{where}.teammate: no teammate {a.teammate!r}")
        return problems

    def _edit_problems(self) -> list[str]:
        """Apply the timeline's edits, in time order, to copies of their sequences: each must
        be a valid edit of the sequence as it stands then, and must leave an active sequence
        with a message step to send."""
        problems: list[str] = []
        current = {s.name: s.model_copy(deep=True) for s in self.sequences}
        order = sorted(range(len(self.timeline)), key=lambda i: self.timeline[i].minute)
        for i in order:
            action = self.timeline[i]
            if isinstance(action, PauseAction | ActivateAction) and action.sequence in current:
                active = isinstance(action, ActivateAction)
                current[action.sequence].status = (SequenceStatus.ACTIVE if active
                                                   else SequenceStatus.PAUSED)
            if not isinstance(action, EditAction) or action.sequence not in current:
                continue
            seq = current[action.sequence]
            for j, op in enumerate(action.ops):
                try:
                    op.apply(seq)
                except (ValueError, LookupError) as err:
                    problems.append(f"timeline[{i}].ops[{j}]: {err}")
                    break
            if seq.status is not SequenceStatus.DRAFT and not seq.message_steps():
                problems.append(f"timeline[{i}]: this edit leaves {seq.name!r} with no message "
                                "step while it runs; keep at least one message step")
        return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class KnownContacts:
    """The emails of a world's contacts, listed and generated.

    Attributes:
        emails: every email, lower-cased as the simulator stores them.
        complete: whether ``emails`` is every contact (a population too large to list is not
            listed, and then no email can be called unknown).
    """

    emails: frozenset[str]
    complete: bool

    def unknown(self, email: str) -> bool:
        """Whether ``email`` is certainly no contact of the world."""
        return self.complete and email.lower() not in self.emails


def _dupes(what: str, names: list[str], problems: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            problems.append(f"{what}: {name!r} is defined twice; names must be unique")
        seen.add(name)
