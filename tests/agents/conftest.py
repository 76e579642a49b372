"""Fixtures for the teammates layer: a contact, a sequence with three message steps, requests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from teamsim.agents import Draft, DraftRequest, ThreadMessage
from teamsim.model import Contact, MessageStep, Sequence


@pytest.fixture
def contact() -> Contact:
    """Ada Lovelace of Analytical Engines, whose email local part is not her first name."""
    return Contact(
        name="Ada Lovelace",
        email="countess@example.com",
        company="Analytical Engines",
        attributes={"project": "loft conversion"},
    )


@pytest.fixture
def sequence() -> Sequence:
    """Welcome: an intro email (s1), an SMS nudge (s2), a plain follow-up email (s3)."""
    seq = Sequence(name="Welcome")
    seq.add_email("Intro", brief="we help renovation teams plan projects faster")
    seq.add_message("sms", "Nudge")
    seq.add_email("Email")
    return seq


@pytest.fixture
def make_request(contact: Contact, sequence: Sequence) -> Callable[..., DraftRequest]:
    """A draft request for step ``step_id`` of the sequence, by Robin; keywords override."""

    def make(step_id: str = "s1", **overrides: Any) -> DraftRequest:
        step = sequence.step(step_id)
        assert isinstance(step, MessageStep)
        fields: dict[str, Any] = {
            "contact": contact,
            "channel": step.channel,
            "teammate": "Robin",
            "sequence": sequence,
            "step": step,
        }
        fields.update(overrides)
        return DraftRequest(**fields)

    return make


@pytest.fixture
def sent() -> Callable[..., ThreadMessage]:
    """Turns a draft into the message already sent at a step: ``sent(draft, "s1")``."""

    def as_sent(draft: Draft, step_id: str, channel: str = "email", day: int = 1) -> ThreadMessage:
        return ThreadMessage(
            step_id=step_id,
            channel=channel,
            subject=draft.subject,
            body=draft.body,
            sent_at=datetime(2024, 1, day, 9, 0),
        )

    return as_sent
