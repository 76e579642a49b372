"""teamsim.reports: what a finished run's events and store say, for people to read.

:func:`step_funnel` counts each message step's work from due to reply.
"""

from teamsim.reports.funnel import StepFunnel, step_funnel

__all__ = ["StepFunnel", "step_funnel"]
