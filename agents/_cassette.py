"""Recorded model replies (a cassette): record once, replay offline with no model calls."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from teamsim.model import TeamsimError

__all__ = ["Cassette", "CassetteMiss", "CassetteMode"]

CassetteMode = Literal["record", "replay", "auto"]
"""``record``: always call the model and save the reply; ``replay``: recorded replies only (a
miss is a :class:`CassetteMiss`); ``auto``: the recording when there is one, else call and
record."""


class CassetteMiss(TeamsimError):
    """Replay mode, and the cassette has no reply for a prompt: names the teammate, the step
    (or purpose) and an excerpt of the prompt."""


class Cassette:
    """Model replies keyed by the canonical prompt key; thread-safe, one per run.

    A key may be used several times in a run: its n-th use gets its n-th recorded reply.
    """

    def __init__(self, mode: CassetteMode = "auto") -> None:
        self.mode: CassetteMode = mode
        raise NotImplementedError

    @classmethod
    def load(cls, path: Path, mode: CassetteMode) -> Cassette:
        """Read a cassette file; a :class:`~teamsim.model.TeamsimError` when it is not one."""
        raise NotImplementedError

    def save(self, path: Path) -> None:
        """Write the cassette as canonical JSON, atomically (temp file + ``os.replace``)."""
        raise NotImplementedError
