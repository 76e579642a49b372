"""Model calls made ahead of time: the drafts and reviews of one tick's due steps, concurrently.

A teammate backed by a chat model spends seconds of wall time per call; the graph makes its
calls one after another. :class:`Prefetcher` makes the calls the graph *will* make for a
batch of due steps, in worker threads, in waves: every first draft, then every review of
them, then the revisions the verdicts ask for, then their reviews, up to the review rounds
the pipeline allows. Only agents that promise to remember what an early call produced
(:class:`~teamsim.agents.Prefetching`, ``prefetch = True``) are called; the results are
thrown away here. The graph then makes its own calls one at a time, in its usual order, and
the agents hand back what they remember: events, ids and the digest never depend on which
call finished first. A prediction that turns out wrong (another reviewer's turn, a step that
changed) costs a call the graph makes again, never a different result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from teamsim.agents import Draft, Review, ThreadMessage, Verdict
from teamsim.graph._nodes import TaskInfo, draft_request, review_request
from teamsim.graph._team import TeamMember, prefetches
from teamsim.model import Contact, MessageStep
from teamsim.model import Sequence as MessageSequence

__all__ = ["PrefetchItem", "Prefetcher"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True, kw_only=True)
class PrefetchItem:
    """A due message step whose model calls may be made ahead of time.

    Attributes:
        enrollment_id: the enrollment whose step is due.
        sequence: its sequence, as it stands.
        step: the due message step.
        contact: the person it is for (stored).
        drafter: the teammate who will draft it.
        reviewer: the teammate predicted to review it (see
            :meth:`~teamsim.graph.Team.upcoming_reviewers`).
        thread: the messages already sent to the contact in this sequence, oldest first.
    """

    enrollment_id: int
    sequence: MessageSequence
    step: MessageStep
    contact: Contact
    drafter: TeamMember
    reviewer: TeamMember
    thread: tuple[ThreadMessage, ...] = ()

    def task(self) -> TaskInfo:
        """The task the pipeline will run for this step (ids that no request carries are 0)."""
        return TaskInfo.for_step(
            task_id=0, thread_id="", sequence=self.sequence, step=self.step,
            contact=self.contact, drafter=self.drafter, drafter_id=self.drafter.teammate.id or 0,
            reviewer=self.reviewer, reviewer_id=self.reviewer.teammate.id or 0,
            enrollment_id=self.enrollment_id, thread=tuple(self.thread))


class Prefetcher:
    """Makes the agents' calls for a batch of tasks in waves, ``max_workers`` at a time.

    The thread pool is created on the first batch that has work for it and shut down by
    :meth:`close`.
    """

    def __init__(self, *, max_workers: int, max_review_rounds: int) -> None:
        self._max_workers = max_workers
        self._rounds = max_review_rounds
        self._pool: ThreadPoolExecutor | None = None

    def run(self, tasks: Sequence[TaskInfo]) -> None:
        """Make, and wait for, every call the graph will make for ``tasks`` (as far as the
        verdicts can be foreseen); failures are the agents' to remember, not raised here."""
        drafting = [(task, draft_request(task, revision=0, notes=(), previous=None))
                    for task in tasks if prefetches(task.drafter.drafter)]
        for revision in range(self._rounds + 1):
            if not drafting:
                return
            written = self.wave([(task.drafter.drafter.draft, request)
                                  for task, request in drafting])
            reviewing = [(task, request, draft) for (task, request), draft
                         in zip(drafting, written, strict=True)
                         if isinstance(draft, Draft) and prefetches(task.reviewer.reviewer)]
            checked = self.wave([
                (task.reviewer.reviewer.review,
                 review_request(task, subject=draft.subject, body=draft.body, request=request))
                for task, request, draft in reviewing])
            if revision == self._rounds:
                return
            drafting = [
                (task, draft_request(task, revision=revision + 1, notes=review.reasons,
                                     previous=(draft.subject, draft.body)))
                for (task, _, draft), review in zip(reviewing, checked, strict=True)
                if isinstance(review, Review) and _revise(review)]

    def close(self) -> None:
        """Shut the worker threads down (a later batch starts new ones)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def wave(self, calls: list[tuple[Callable[[Any], _T], Any]]) -> list[_T | None]:
        """Run ``calls`` (callable, argument) concurrently, ``max_workers`` at a time, and wait
        for them; their results in order (``None`` where one raised)."""
        if not calls:
            return []
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._max_workers,
                                            thread_name_prefix="teamsim-prefetch")
        futures = [self._pool.submit(call, request) for call, request in calls]
        return [None if future.exception() is not None else future.result()
                for future in futures]


def _revise(review: Review) -> bool:
    try:
        return Verdict(review.verdict) is Verdict.REVISE
    except ValueError:
        return False
