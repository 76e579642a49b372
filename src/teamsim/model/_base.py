"""What every pydantic model of the domain shares."""

from __future__ import annotations

from pydantic import ConfigDict

MODEL = ConfigDict(extra="forbid", validate_assignment=True)
"""The domain models' configuration: unknown fields refused, assignments validated."""
