"""What a model-backed teammate is configured with: its prompt templates, the simulated minutes
its work takes, the prices of its model and how hard it tries.

Both are pydantic models (``extra="forbid"``, frozen) because a scenario file sets them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from teamsim.agents._sandbox import syntax_error, unknown_names
from teamsim.model import Minutes

__all__ = ["ModelSettings", "PromptTemplates"]

DRAFT_PROMPT_NAMES: frozenset[str] = frozenset({
    "teammate", "contact", "sequence", "step", "step_number", "brief", "channel", "thread",
    "revision", "review_notes", "previous"})
"""The variables the drafting prompt templates see (documented in ``agents/_prompts.py``)."""

REVIEW_PROMPT_NAMES: frozenset[str] = DRAFT_PROMPT_NAMES | {
    "draft", "reviewer", "structured", "tool_name"}
"""The variables the reviewing prompt templates see."""


class PromptTemplates(BaseModel):
    """Jinja2 templates of the prompts a model-backed teammate sends; ``None`` keeps the one
    teamsim ships (``agents/templates/<name>.j2``).

    The templates render in the same sandbox as message templates. The drafting templates see
    ``contact``, ``sequence``, ``step``, ``channel`` (with ``limits``), ``thread``,
    ``revision``, ``review_notes``, ``previous``, ``teammate`` and ``brief``; the reviewing
    templates also see ``draft`` and ``reviewer``.

    Attributes:
        draft_system: the system message of a drafting call.
        draft_user: the user message of a drafting call.
        review_system: the system message of a reviewing call.
        review_user: the user message of a reviewing call.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    draft_system: str | None = None
    draft_user: str | None = None
    review_system: str | None = None
    review_user: str | None = None

    @field_validator("draft_system", "draft_user", "review_system", "review_user")
    @classmethod
    def _parses(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            reason = syntax_error(value)
            if reason is not None:
                raise ValueError(f"{reason}; fix the template's Jinja2 syntax")
            known = (REVIEW_PROMPT_NAMES if str(info.field_name).startswith("review")
                     else DRAFT_PROMPT_NAMES)
            unknown = unknown_names(value, known)
            if unknown:
                raise ValueError(
                    f"the template {info.field_name} reads {', '.join(map(repr, unknown))}, "
                    "which the prompt does not have (a misspelling?); it can use "
                    f"{', '.join(sorted(known))}")
        return value


class ModelSettings(BaseModel):
    """How a model-backed teammate works: prompts, simulated minutes, prices and retries.

    Simulated minutes never come from wall-clock latency: a draft takes ``draft_minutes``
    (``revision_minutes`` on a revision) plus ``ceil(tokens_out / 1000 * minutes_per_1k_tokens)``
    where ``tokens_out`` is the reply's output tokens; a review takes ``review_minutes`` plus
    the same token term.

    Attributes:
        prompts: per-teammate overrides of the prompt templates.
        draft_minutes: simulated minutes per first draft.
        revision_minutes: simulated minutes per revision.
        review_minutes: simulated minutes per review.
        minutes_per_1k_tokens: extra simulated minutes per thousand output tokens (rounded up).
        price_in_per_1m: USD per million input tokens.
        price_out_per_1m: USD per million output tokens.
        max_tries: tries per call, counting the first (timeouts, HTTP 429s, malformed replies).
        backoff_seconds: the first wait before a retry; it doubles each retry, with seeded
            jitter, capped at ``max_backoff_seconds``.
        max_backoff_seconds: the longest wait before a retry.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompts: PromptTemplates = Field(default_factory=PromptTemplates)
    draft_minutes: Minutes = 10
    revision_minutes: Minutes = 5
    review_minutes: Minutes = 5
    minutes_per_1k_tokens: float = Field(default=0.0, ge=0, le=1440, allow_inf_nan=False)
    price_in_per_1m: float = Field(default=0.0, ge=0, le=1_000_000, allow_inf_nan=False)
    price_out_per_1m: float = Field(default=0.0, ge=0, le=1_000_000, allow_inf_nan=False)
    max_tries: int = Field(default=4, ge=1, le=20)
    backoff_seconds: float = Field(default=1.0, ge=0, le=3600, allow_inf_nan=False)
    max_backoff_seconds: float = Field(default=30.0, ge=0, le=3600, allow_inf_nan=False)
