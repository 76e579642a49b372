"""Auto-approve rules: which drafts go out without the human, within which caps."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from teamsim.model._base import MODEL as _MODEL
from teamsim.model.channel import check_channel
from teamsim.model.ranges import Cap, StoredId

__all__ = ["AutoApproveRule"]


class AutoApproveRule(BaseModel):
    """Approve matching drafts without asking: off when created, capped, audited.

    A field left ``None`` matches anything. ``max_total``/``max_per_day`` cap how many drafts the
    rule approves in all and per day (in the human's time zone).
    """

    model_config = _MODEL
    id: StoredId | None = None
    name: str = Field(min_length=1)
    enabled: bool = False
    sequence: str | None = None
    step: str | None = None
    channel: str | None = None
    teammate: str | None = None
    require_clean_review: bool = True
    max_total: Cap | None = None
    max_per_day: Cap | None = None

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        return value if value is None else check_channel(value)
