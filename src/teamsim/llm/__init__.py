"""teamsim.llm: chat models behind teammates, configured by name (the roof's part of issue 11).

A teammate's model is a :class:`ModelSpec`: a factory (``package.module:callable``) or an entry
point of the ``teamsim.models`` group, with keyword arguments, returning any LangChain chat
model. :class:`ModelResolver` loads them (a scenario file's only with the user's consent,
nothing at all in replay mode); :func:`check_agents` checks drafters and reviewers given as
objects; :func:`model_metrics` turns the teammates' :class:`~teamsim.agents.ModelUsage` into a
run's metrics (:data:`MODEL_METRICS`).
"""

from teamsim.llm._factory import live_model_id, load_model
from teamsim.llm._resolve import LiveModel, ModelChoice, ModelResolver, check_agents, model_metrics
from teamsim.llm._spec import (
    ENTRY_POINT_GROUP,
    MODEL_METRICS,
    LlmSettings,
    ModelSpec,
    is_secret,
    mask_secrets,
    parse_model_option,
    redactor,
    secret_values,
)
from teamsim.model import public_home as _public_home

__all__ = [
    "ENTRY_POINT_GROUP",
    "MODEL_METRICS",
    "LiveModel",
    "LlmSettings",
    "ModelChoice",
    "ModelResolver",
    "ModelSpec",
    "check_agents",
    "is_secret",
    "live_model_id",
    "load_model",
    "mask_secrets",
    "model_metrics",
    "parse_model_option",
    "redactor",
    "secret_values",
]

_public_home(__name__, globals())
