"""World builders for the simulator tests, and Hypothesis strategies for small random worlds.

:func:`world` builds a small, fully deterministic world (one sequence, a quiet persona, an
approver who approves everything) with keyword overrides; :func:`worlds` generates random
small worlds for the property tests; :func:`examples` gives a test its number of examples
under the active Hypothesis profile (tests/conftest.py).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from teamsim.model import NotFoundError, Sequence, TeamsimError, ValidationError
from teamsim.sim import EditOp, World

__all__ = ["QUIET", "REPLIER", "START", "WELCOME", "examples", "world", "worlds"]

START = date(2026, 3, 2)
"""The default start day of a world (a Monday; the run starts at 08:00 UTC)."""

QUIET: dict[str, Any] = {"name": "quiet", "open": 0, "click": 0, "reply": 0}
"""A persona that never reacts."""

REPLIER: dict[str, Any] = {"name": "replier", "open": 0, "click": 0, "reply": 1.0,
                           "reply_delay": {"dist": "fixed", "hours": 2}}
"""A persona that replies to every message exactly two hours after it arrives."""

WELCOME: dict[str, Any] = {
    "name": "Welcome", "status": "active",
    "steps": [{"kind": "message", "id": "s1", "label": "Say hello"},
              {"kind": "wait", "id": "s2", "days": 2},
              {"kind": "message", "id": "s3", "label": "Follow up"}],
}
"""Say hello, wait 2 days, follow up."""


def world(**overrides: Any) -> World:
    """A small world: the Welcome sequence, quiet and replier personas, an approver who
    approves every draft at 09:00, 13:00 and 17:00 UTC on workdays; ``overrides`` replace
    top-level keys (``approver`` is merged into the default policy)."""
    approver = {"approve": 1.0, "edit": 0.0, "reject": 0.0,
                **overrides.pop("approver", {})}
    data: dict[str, Any] = {
        "name": "test", "days": 7, "sequences": [WELCOME], "personas": [QUIET, REPLIER],
        "approver": approver, **overrides,
    }
    return World.model_validate(data)


def examples(*, dev: int, ci: int, soak: int) -> int:
    """How many examples a test runs under the active Hypothesis profile (``dev``, ``ci`` or
    ``soak``, see tests/conftest.py); any other profile's own ``max_examples``.

    For tests whose examples cost more than the invariant property test's worlds (which take
    the profile's numbers as they are): each states its three numbers where it is defined.
    """
    chosen = {"dev": dev, "ci": ci, "soak": soak}.get(settings.get_current_profile_name())
    return settings.default.max_examples if chosen is None else chosen


# ---------------------------------------------------------------------------------------------
# Hypothesis strategies

_TIMEZONES = ("UTC", "America/New_York", "Europe/Paris", "Asia/Tokyo", "Australia/Sydney")
_CHANNELS = ("email", "sms")
_PROBABILITIES = st.sampled_from([0.0, 0.0, 0.1, 0.3, 0.5, 1.0])


@st.composite
def delays(draw: st.DrawFn) -> dict[str, Any]:
    """A fixed, exponential or uniform delay of minutes to a couple of days."""
    kind = draw(st.sampled_from(["fixed", "exponential", "uniform"]))
    if kind == "fixed":
        return {"dist": "fixed", "hours": draw(st.sampled_from([0, 0.1, 1, 2, 5, 30]))}
    if kind == "exponential":
        return {"dist": "exponential", "mean_hours": draw(st.sampled_from([0.5, 3, 12]))}
    low = draw(st.sampled_from([0, 1, 4]))
    return {"dist": "uniform", "min_hours": low, "max_hours": low + draw(st.sampled_from([1, 24]))}


@st.composite
def personas(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """A persona with random reaction chances (reply possibly per message index)."""
    reply: Any = draw(st.one_of(_PROBABILITIES, st.lists(_PROBABILITIES, min_size=1, max_size=3)))
    return {
        "name": name, "open": draw(_PROBABILITIES), "open_delay": draw(delays()),
        "click": draw(_PROBABILITIES), "click_delay": draw(delays()), "reply": reply,
        "reply_delay": draw(delays()), "out_of_office": draw(st.sampled_from([0, 0, 0.3])),
        "bounce": draw(st.sampled_from([0, 0, 0, 0.2])),
        "unsubscribe": draw(st.sampled_from([0, 0, 0.2])),
        "unsubscribe_delay": draw(delays()),
        "channel_factors": draw(st.sampled_from([{}, {"sms": 0.5}, {"email": 2.0}])),
    }


class _Ids:
    """Step ids s1, s2, ... in order of creation."""

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"s{self.n}"


@st.composite
def _plain_step(draw: st.DrawFn, ids: _Ids) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"kind": "message", "id": ids.next(), "channel": draw(st.sampled_from(_CHANNELS))}
    return {"kind": "wait", "id": ids.next(), "days": draw(st.sampled_from([0, 0.5, 1, 2])),
            "hours": draw(st.sampled_from([0, 3]))}


@st.composite
def steps(draw: st.DrawFn) -> list[dict[str, Any]]:
    """1-5 top-level steps (a message first), waits and branches whose arms hold 0-2 steps."""
    ids = _Ids()
    out: list[dict[str, Any]] = [{"kind": "message", "id": ids.next()}]
    messages = ["s1"]
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.integers(0, 3)) == 0:
            if draw(st.booleans()):
                condition: dict[str, Any] = {"kind": "attribute", "field": "attributes.tier",
                                             "value": "gold"}
            else:
                event = draw(st.sampled_from(["opened", "clicked", "not_opened"]))
                within = draw(st.sampled_from([0.5, 1, 3] if event == "not_opened"
                                              else [None, 0.5, 1, 3]))
                condition = {"kind": "engagement", "step_id": draw(st.sampled_from(messages)),
                             "event": event, "within_days": within}
            branch_id = ids.next()
            then = draw(st.lists(_plain_step(ids), max_size=2))
            other = draw(st.lists(_plain_step(ids), max_size=2))
            out.append({"kind": "branch", "id": branch_id, "condition": condition,
                        "then_steps": then, "else_steps": other})
        else:
            step = draw(_plain_step(ids))
            out.append(step)
            if step["kind"] == "message":
                messages.append(step["id"])
    return out


@st.composite
def sequences(draw: st.DrawFn, name: str, teammates: list[str]) -> dict[str, Any]:
    """A sequence, usually active, maybe with a send window, a daily cap and a teammate."""
    seq: dict[str, Any] = {
        "name": name, "status": draw(st.sampled_from(["active", "active", "active", "draft",
                                                      "paused"])),
        "steps": draw(steps()),
    }
    if draw(st.booleans()):
        start = draw(st.integers(0, 20))
        seq["send_window"] = {"start": f"{start:02d}:00",
                              "end": f"{min(23, start + draw(st.integers(1, 10))):02d}:30",
                              "weekdays": draw(st.sampled_from([[0, 1, 2, 3, 4],
                                                                list(range(7))]))}
    if draw(st.booleans()):
        seq["daily_cap_per_teammate"] = draw(st.integers(1, 3))
    if draw(st.booleans()):
        seq["teammate"] = draw(st.sampled_from(teammates))
    return seq


@st.composite
def approvers(draw: st.DrawFn, days: int) -> dict[str, Any]:
    """An approver policy: decision chances, sessions, workdays, away dates, on_reply."""
    approve = draw(st.integers(0, 10))
    edit = draw(st.integers(0, 10 - approve))
    away = []
    for _ in range(draw(st.integers(0, 2))):
        first = START + timedelta(days=draw(st.integers(0, days)))
        away.append({"start": first.isoformat(),
                     "end": (first + timedelta(days=draw(st.integers(0, 4)))).isoformat()})
    return {
        "timezone": draw(st.sampled_from(_TIMEZONES)),
        "approve": approve / 10, "edit": edit / 10, "reject": (10 - approve - edit) / 10,
        "sessions": draw(st.lists(st.sampled_from(["00:00", "07:30", "09:00", "13:00",
                                                   "17:00", "23:45"]),
                                  min_size=1, max_size=3, unique=True)),
        "workdays": draw(st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True)),
        "minutes_per_item": draw(st.sampled_from([0, 2, 30])),
        "minutes_per_reply": draw(st.sampled_from([0, 5])),
        "max_items_per_session": draw(st.integers(1, 5)),
        "away": away,
        "on_reply": draw(st.sampled_from(["leave", "resume", "end"])),
        "accept_suggestions_after_days": draw(st.sampled_from([None, 0, 1])),
    }


def _valid_after(seq: Sequence, op: dict[str, Any]) -> bool:
    """Apply ``op`` to ``seq`` if it keeps the sequence valid and runnable."""
    trial = seq.model_copy(deep=True)
    try:
        EditOp.model_validate(op).apply(trial)
    except (ValidationError, NotFoundError, ValueError, TeamsimError):
        return False
    if not trial.message_steps():
        return False
    seq.steps = trial.steps
    return True


@st.composite
def edit_ops(draw: st.DrawFn, seq: Sequence) -> list[dict[str, Any]]:
    """1-2 editing operations that are valid on ``seq`` as it stands (``seq`` is updated)."""
    ops = []
    for _ in range(draw(st.integers(1, 2))):
        ids = [s.id for s in seq.iter_steps()]
        top = [s.id for s in seq.steps]
        kind = draw(st.sampled_from(["add_message", "add_wait", "remove", "move", "set_wait",
                                     "set_channel"]))
        op: dict[str, Any] = {"op": kind}
        if kind == "add_message":
            op["position"] = draw(st.integers(0, len(seq.steps)))
        elif kind == "add_wait":
            op |= {"days": draw(st.sampled_from([0.5, 1])),
                   "position": draw(st.integers(0, len(seq.steps)))}
        elif kind == "remove":
            op["step"] = draw(st.sampled_from(ids))
        elif kind == "move":
            op |= {"step": draw(st.sampled_from(top)), "to": draw(st.integers(0, len(top) - 1))}
        elif kind == "set_wait":
            waits = [s.id for s in seq.iter_steps() if s.kind == "wait"]
            if not waits:
                continue
            op |= {"step": draw(st.sampled_from(waits)), "days": draw(st.sampled_from([0, 3]))}
        else:
            messages = [s.id for s in seq.message_steps()]
            op |= {"step": draw(st.sampled_from(messages)),
                   "channel": draw(st.sampled_from(_CHANNELS))}
        if _valid_after(seq, op):
            ops.append(op)
    return ops


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """A small random world: 1-3 sequences, 1-6 contacts, 1-3 personas, 2-3 teammates, a
    random approver, maybe a rule, and up to 6 timeline actions over 3-15 days."""
    days = draw(st.integers(3, 15))
    teammates = [{"name": n, "capacity": draw(st.integers(1, 2))}
                 for n in ["Riley", "Sam", "Kai"][:draw(st.integers(2, 3))]]
    names = [t["name"] for t in teammates]
    seqs = [draw(sequences(f"Seq{i}", names)) for i in range(draw(st.integers(1, 3)))]
    seq_names = [s["name"] for s in seqs]
    persona_list = [draw(personas(f"p{i}")) for i in range(draw(st.integers(1, 3)))]
    contacts = []
    for i in range(draw(st.integers(1, 6))):
        contacts.append({
            "name": f"Person{i} Test", "email": f"person{i}@example.com",
            "timezone": draw(st.sampled_from(_TIMEZONES)),
            "persona": draw(st.sampled_from([p["name"] for p in persona_list])),
            "attributes": {"tier": draw(st.sampled_from(["gold", "tin"]))},
            "enroll_in": draw(st.lists(st.sampled_from(seq_names), max_size=2, unique=True)),
            "enroll_at": draw(st.sampled_from([0, 0, 0.3, 1, 2.5])),
        })
    emails = [c["email"] for c in contacts]
    rules = []
    if draw(st.booleans()):
        rules.append({"name": "Routine", "enabled": draw(st.booleans()),
                      "sequence": draw(st.sampled_from([None, *seq_names])),
                      "max_per_day": draw(st.sampled_from([None, 1, 3])),
                      "max_total": draw(st.sampled_from([None, 2]))})
    live = {s["name"]: Sequence.model_validate(s) for s in seqs}
    timeline: list[dict[str, Any]] = []
    times = sorted(draw(st.lists(st.integers(0, days * 8), max_size=6)))
    for tick in times:
        at = tick / 8
        name = draw(st.sampled_from(seq_names))
        kind = draw(st.sampled_from(["pause", "activate", "edit", "enroll", "resume", "end",
                                     "chat", "rule"]))
        if kind in ("pause", "activate"):
            timeline.append({"action": kind, "at": at, "sequence": name})
        elif kind == "edit":
            ops = draw(edit_ops(live[name]))
            if ops:
                timeline.append({"action": "edit", "at": at, "sequence": name, "ops": ops})
        elif kind == "enroll":
            timeline.append({"action": "enroll", "at": at, "sequence": name,
                             "contacts": draw(st.lists(st.sampled_from(emails), min_size=1,
                                                       max_size=3, unique=True))})
        elif kind in ("resume", "end"):
            timeline.append({"action": kind, "at": at, "sequence": name,
                             "contact": draw(st.sampled_from(emails))})
        elif kind == "chat":
            timeline.append({"action": "chat", "at": at, "contact": draw(st.sampled_from(emails)),
                             "text": "A quick word about next week.",
                             "teammate": draw(st.sampled_from([None, *names]))})
        elif rules:
            timeline.append({"action": draw(st.sampled_from(["enable_rule", "disable_rule"])),
                             "at": at, "rule": "Routine"})
    return World.model_validate({
        "name": "random", "days": days, "seed": draw(st.integers(0, 2**32 - 1)),
        "start": f"{START.isoformat()}T{draw(st.sampled_from(['00:00', '08:00', '22:30']))}",
        "settings": {"tick_minutes": draw(st.sampled_from([5, 15, 60])),
                     "catch_up_hours": draw(st.sampled_from([0, 6, 24])),
                     "on_reject": draw(st.sampled_from(["skip", "redraft"])),
                     "max_review_rounds": draw(st.integers(0, 2)),
                     "suggest_after": draw(st.sampled_from([2, 10]))},
        "teammates": teammates, "sequences": seqs, "personas": persona_list,
        "contacts": contacts, "approver": draw(approvers(days)), "rules": rules,
        "timeline": timeline,
    })
