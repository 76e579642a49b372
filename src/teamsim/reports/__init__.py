"""teamsim.reports: what a finished run's events and store tell, for people to read.

:func:`step_funnel` counts each message step's work from due to reply; :func:`preview` and
:func:`rule_usage` (auto-approve rules: what one would have approved, how much of its caps each
has used); and the subpackage :mod:`teamsim.reports.diagnose` (the spec's "What if it isn't
working?" checklist: ``from teamsim.reports.diagnose import diagnose``; the function is not
re-exported here, where its name would hide the subpackage); :mod:`teamsim.reports.inbox`
reads each open Needs attention item once for ``teamsim inbox``, the HTML report and the web
page. They read a run's store and never write to it. ``teamsim run``, ``teamsim rules``,
``teamsim inbox`` and ``teamsim diagnose`` print them.
"""

from teamsim.model import public_home as _public_home
from teamsim.reports._meta import human_timezone, run_ended, run_meta
from teamsim.reports.funnel import StepFunnel, step_funnel
from teamsim.reports.rules import (
    PreviewedDraft,
    RulePreview,
    RuleUsage,
    preview,
    preview_world_rules,
    rule_usage,
)

__all__ = [
    "PreviewedDraft",
    "RulePreview",
    "RuleUsage",
    "StepFunnel",
    "human_timezone",
    "preview",
    "preview_world_rules",
    "rule_usage",
    "run_ended",
    "run_meta",
    "step_funnel",
]

_public_home(__name__, globals())
