"""The run context: what every actor of one run shares.

One :class:`RunContext` per run holds the SimPy environment, the unit of work, the keyed random
streams, the clock, the event sink (:meth:`RunContext.log`) and the run state that several
actors read: the sequences as they stand, the rules' ids, the contacts and their personas, the
pipeline, the tasks in flight, the due steps and Needs attention. Each actor keeps the rest of
its state to itself and talks to the others through narrow method calls.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Generator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import simpy

from teamsim.graph import Pipeline
from teamsim.model import (
    AutoApproveRule,
    Contact,
    EventKind,
    Payload,
    SendWindowLimits,
    Sequence,
    SimMinutes,
)
from teamsim.sim._random import KeyedRandom
from teamsim.sim._records import AttentionItem, LiveEnrollment, TaskNote
from teamsim.sim._rules import RulesEngine
from teamsim.sim.world import Persona, World
from teamsim.store import UnitOfWork

__all__ = ["DAY", "NeedsAttention", "ProcessGenerator", "RunContext"]

ProcessGenerator = Generator[simpy.Event, Any, None]
"""A SimPy process: a generator of events."""

DAY: SimMinutes = 1440
"""Minutes in a simulated day."""


class NeedsAttention:
    """The human's inbox as the simulator sees it: open items, and drafts by task id."""

    __slots__ = ("by_task", "items")

    def __init__(self) -> None:
        self.items: list[AttentionItem] = []
        self.by_task: dict[int, AttentionItem] = {}

    def add(self, item: AttentionItem) -> None:
        """Put ``item`` in the inbox (a draft also by its task id)."""
        self.items.append(item)
        if item.kind == "draft" and item.task_id is not None:
            self.by_task[item.task_id] = item

    def take_draft(self, task_id: int) -> AttentionItem | None:
        """Take task ``task_id``'s draft off the by-task index (it stays in ``items``)."""
        return self.by_task.pop(task_id, None)

    def waiting(self) -> list[AttentionItem]:
        """Drop the closed items; the open ones, oldest first (creation minute, then id)."""
        self.items = [a for a in self.items if a.open]
        return sorted(self.items, key=lambda a: (a.created, a.item_id))


class RunContext:
    """What the actors of one run share.

    Args:
        world: the world that runs.
        seed: the run's seed.
        uow: the run's unit of work (open for the whole run).
        until: the run's last minute.
    """

    pipeline: Pipeline
    """The per-step pipeline (set once the world is stored, see :mod:`teamsim.sim._setup`)."""
    default_drafter: str
    """The teammate who drafts for sequences that name none."""

    def __init__(self, world: World, *, seed: int, uow: UnitOfWork, until: SimMinutes) -> None:
        self.world = world
        self.seed = seed
        self.uow = uow
        self.until = until
        self.env = simpy.Environment()
        self.rng = KeyedRandom(seed)
        self.start = world.start_utc
        self.tz = ZoneInfo(world.timezone)
        self.sequences: dict[str, Sequence] = {}
        self.rule_ids: dict[str, int] = {}
        self.rules_engine: RulesEngine | None = None
        self.contacts: dict[str, Contact] = {}
        self.persona_of: dict[str, Persona] = {}
        self.tasks: dict[int, TaskNote] = {}
        self.attention = NeedsAttention()
        self.due: list[tuple[SimMinutes, int, int]] = []
        """Due steps as a heap of (minute, enrollment id, token), oldest first."""
        self._dirty: dict[int, dict[str, Any]] = {}
        self._append = uow.events.append
        self._now_minute = -1
        self._now = self.start

    # -- the clock ------------------------------------------------------------------------

    def now(self) -> datetime:
        """The simulated time (UTC).

        One object per simulated minute: every event, row and thread of that minute shares
        it (a datetime is 48 bytes and a run logs about 34 events per contact).
        """
        minute = int(self.env.now)
        if minute != self._now_minute:
            self._now = self.start + timedelta(minutes=minute)
            self._now_minute = minute
        return self._now

    def minute(self) -> SimMinutes:
        """The simulated minute."""
        return int(self.env.now)

    def later(self, minutes: SimMinutes, action: Callable[[], None]) -> None:
        """Run ``action`` ``minutes`` from now (not before now).

        A timeout with a callback, not a process per timer: a process adds an initialisation
        event, which moves its timeout behind every event scheduled meanwhile in the same
        minute (measured: a process per timer changes the golden digest of
        ``trust-a-teammate.yaml``, 1 of the 15 shipped scenarios), and it costs 13.3 us per
        timer against 5.2 us for the callback (``benchmarks/timers.py``, 100,000 timers; a
        run starts one to four timers per message sent).
        """
        event = self.env.timeout(max(0, minutes))
        event.callbacks.append(lambda _: action())

    # -- the event sink -------------------------------------------------------------------

    def log(self, payload: Payload, *, kind: EventKind | None = None,
            e: LiveEnrollment | None = None, contact_id: int | None = None,
            sequence_id: int | None = None, task_id: int | None = None) -> None:
        """Append one event, now: ``payload`` of its kind (``kind`` for the payload classes
        that serve two), about enrollment ``e`` (its contact and sequence) or the ids given.
        """
        if e is not None:
            contact_id = e.contact.id
            sequence_id = e.sequence_id
        self._append(payload, self.now(), kind=kind, sequence_id=sequence_id,
                     contact_id=contact_id, task_id=task_id,
                     enrollment_id=e.id if e is not None else None)

    # -- shared state ---------------------------------------------------------------------

    def seq(self, name: str) -> Sequence:
        """Sequence ``name`` as it stands now."""
        return self.sequences[name]

    def due_at(self, minute: SimMinutes, e: LiveEnrollment) -> None:
        """Put ``e``'s current step on the due heap for ``minute`` (under its current token)."""
        heapq.heappush(self.due, (minute, e.id, e.token))

    def save(self, e: LiveEnrollment, **fields: Any) -> None:
        """Note a change of an enrollment's stored state; written in bulk once a day."""
        self._dirty.setdefault(e.id, {}).update(fields)

    def commit(self) -> None:
        """Write the noted enrollment changes and commit the unit of work."""
        if self._dirty:
            self.uow.enrollments.update_many(self._dirty)
            self._dirty = {}
        self.uow.commit()

    def send_limits(self, seq: Sequence) -> dict[str, Any]:
        """A sequence's sending window and daily cap as the event log records them, so the
        invariants can be audited from the events alone (the fields of
        :class:`~teamsim.model.SendLimits`)."""
        window = seq.send_window
        return {
            "send_window": None if window is None else SendWindowLimits(
                weekdays=tuple(window.weekdays), start=window.start.isoformat(),
                end=window.end.isoformat()),
            "daily_cap_per_teammate": seq.daily_cap_per_teammate,
            "cap_timezone": self.world.timezone,
        }

    def rule_fields(self, rule: AutoApproveRule, rule_id: int) -> dict[str, Any]:
        """What the event log records of a rule switched on or off: enough to audit its caps
        (the fields of :class:`~teamsim.model.RuleSwitched`)."""
        return {"rule_id": rule_id, "name": rule.name, "max_total": rule.max_total,
                "max_per_day": rule.max_per_day, "timezone": self.world.approver.timezone}
