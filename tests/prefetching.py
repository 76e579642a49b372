"""A stand-in for a model-backed teammate: prefetching, memoizing, slow at random, thread-safe.

:class:`SlowDrafter` and :class:`SlowReviewer` wrap a plain drafter/reviewer (the "model") and
keep the :class:`~teamsim.agents.Prefetching` promise: a call made early (from a worker thread)
is remembered, result or exception, by the request's contents and handed to the next equal
request without calling the model again. Each model call sleeps a latency drawn from a local
seeded ``random.Random`` (so the order in which concurrent calls finish changes with the seed),
and a :class:`Gauge` counts the calls in flight.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from teamsim.agents import Draft, Drafter, DraftRequest, Review, Reviewer, ReviewRequest

_Req = TypeVar("_Req")
_Out = TypeVar("_Out")


@dataclass
class Gauge:
    """Model calls in flight now and at most, and where they were made from."""

    now: int = 0
    peak: int = 0
    calls: int = 0
    hits: int = 0
    from_workers: int = 0
    hold: int = 0
    """Hold each call (up to ``HOLD_SECONDS``) until this many are in flight at once, the
    first time: the peak then shows the limit, not how fast this machine starts threads."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    HOLD_SECONDS: ClassVar[float] = 5.0

    def __post_init__(self) -> None:
        self._reached = threading.Condition(self.lock)

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.calls += 1
            self.peak = max(self.peak, self.now)
            self.from_workers += threading.current_thread() is not threading.main_thread()
            if self.hold:
                if self.peak >= self.hold:
                    self._reached.notify_all()
                else:
                    self._reached.wait_for(lambda: self.peak >= self.hold,
                                           timeout=self.HOLD_SECONDS)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


class Latency:
    """Per-call sleeps from one seeded ``random.Random`` (drawn under a lock)."""

    def __init__(self, seed: int, *, low: float = 0.0005, high: float = 0.004) -> None:
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._low, self._high = low, high

    def sleep(self) -> None:
        with self._lock:
            seconds = self._random.uniform(self._low, self._high)
        time.sleep(seconds)


def draft_key(request: DraftRequest) -> tuple[Hashable, ...]:
    """A draft request by its contents (what a rendered prompt would hold)."""
    return (request.teammate, request.contact.email, request.channel, request.brief,
            request.step.id if request.step is not None else None, request.step_index,
            tuple((m.step_id, m.subject, m.body) for m in request.thread), request.revision,
            request.review_notes,
            None if request.previous is None else (request.previous.subject,
                                                   request.previous.body))


def review_key(request: ReviewRequest) -> tuple[Hashable, ...]:
    """A review request by its contents."""
    return (request.reviewer, request.draft.subject, request.draft.body,
            draft_key(request.request))


class _Memo(Generic[_Req, _Out]):
    """Calls ``model`` once per distinct request; the next equal request takes the remembered
    result (or exception), once. Thread-safe: an equal request made while the first is still
    in flight waits for it."""

    def __init__(self, model: Callable[[_Req], _Out], key: Callable[[_Req], Hashable],
                 gauge: Gauge, latency: Latency) -> None:
        self._model, self._key, self._gauge, self._latency = model, key, gauge, latency
        self._lock = threading.Lock()
        self._pending: dict[Hashable, tuple[threading.Event, list[Any]]] = {}

    def __call__(self, request: _Req) -> _Out:
        key = self._key(request)
        graph = threading.current_thread() is threading.main_thread()
        with self._lock:
            entry = self._pending.get(key)
            if entry is not None and graph:
                del self._pending[key]  # the graph's own call takes it
            if entry is None:
                # Not asked before (or already handed out): this call is the model's, and
                # an equal request arriving meanwhile waits for it.
                mine: tuple[threading.Event, list[Any]] = (threading.Event(), [])
                self._pending[key] = mine
        if entry is not None:
            # The graph's own call takes what was made ahead; a second call ahead (the
            # scheduler guessed the tick's work, then the batch asks again) shares it.
            entry[0].wait()
            if graph:
                with self._gauge.lock:
                    self._gauge.hits += 1
            return self._unpack(entry[1])
        self._gauge.enter()
        try:
            self._latency.sleep()
            try:
                mine[1][:] = [True, self._model(request)]
            except Exception as error:
                mine[1][:] = [False, error]
        finally:
            self._gauge.leave()
            mine[0].set()
        if graph:
            # The graph's own call: it uses the result now; nothing to remember.
            with self._lock:
                if self._pending.get(key) is mine:
                    del self._pending[key]
        return self._unpack(mine[1])

    @staticmethod
    def _unpack(slot: list[Any]) -> Any:
        ok, value = slot
        if not ok:
            raise value
        return value


class SlowDrafter:
    """A prefetching drafter around ``model`` (any drafter)."""

    prefetch: ClassVar[bool] = True

    def __init__(self, model: Drafter, *, gauge: Gauge, latency: Latency) -> None:
        self._memo: _Memo[DraftRequest, Draft] = _Memo(model.draft, draft_key, gauge, latency)

    def draft(self, request: DraftRequest) -> Draft:
        """The remembered draft for an equal request, or the model's."""
        return self._memo(request)


class SlowReviewer:
    """A prefetching reviewer around ``model`` (any reviewer)."""

    prefetch: ClassVar[bool] = True

    def __init__(self, model: Reviewer, *, gauge: Gauge, latency: Latency) -> None:
        self._memo: _Memo[ReviewRequest, Review] = _Memo(model.review, review_key, gauge,
                                                         latency)

    def review(self, request: ReviewRequest) -> Review:
        """The remembered review for an equal request, or the model's."""
        return self._memo(request)
