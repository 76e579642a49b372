"""The spec's troubleshooting checklist, "What if it isn't working?", read off a store.

:func:`diagnose` answers, in the spec's order, why a sequence (or one person on it) is not
sending at a moment ``at``: is the sequence active, did you enroll anyone, is a step waiting on
you, did the person reply, or is it just the schedule (the next due time and the scheduler's
next tick); an ended enrollment (bounced, unsubscribed, completed) is the last check. Each
finding states what the store shows, with the facts, and names the spec's fix. :func:`render`
prints the checklist.

Only what had happened by ``at`` counts: sequence versions, enrollments, tasks, drafts, Needs
attention items and replies recorded later are ignored. An enrollment row holds its latest
state only; a pause (``paused_at``) or an end (its event, or the bounce/unsubscribe that caused
it) after ``at`` is undone, but an earlier pause that was later resumed cannot be seen.

The package, one module per part: :mod:`._findings` (the questions, findings and fixes),
:mod:`._reads` and :mod:`._rewind` (what is read off the store, and enrollments replayed to
``at``), :mod:`._facts` (the store as it stood at ``at``), one module per group of checks
(:mod:`._enrolled`, :mod:`._waiting`, :mod:`._schedule`, :mod:`._ended`), :mod:`._wording`,
and :mod:`._checklist` (:func:`diagnose` and :func:`render`).
"""

from teamsim.model import public_home as _public_home
from teamsim.reports.diagnose._checklist import diagnose, render, render_lines
from teamsim.reports.diagnose._findings import (
    DEFAULT_TICK_MINUTES,
    FIX_ACTIVATE,
    FIX_ENROLL,
    FIX_GIVE_IT_A_MOMENT,
    FIX_NEEDS_ATTENTION,
    FIX_REPLIED,
    FIX_STILL_STUCK,
    Check,
    Diagnosis,
    Finding,
    FindingStatus,
)

__all__ = [
    "DEFAULT_TICK_MINUTES",
    "FIX_ACTIVATE",
    "FIX_ENROLL",
    "FIX_GIVE_IT_A_MOMENT",
    "FIX_NEEDS_ATTENTION",
    "FIX_REPLIED",
    "FIX_STILL_STUCK",
    "Check",
    "Diagnosis",
    "Finding",
    "FindingStatus",
    "diagnose",
    "render",
    "render_lines",
]

_public_home(__name__, globals())
