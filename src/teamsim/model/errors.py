"""The exceptions teamsim raises, under one root.

The tree::

    TeamsimError                  every teamsim error; the CLI prints it and exits 2
    ├── ValidationError           a value is not allowed (negative wait, unknown channel, ...)
    │   └── ScenarioError         a scenario file is invalid (names the file and the path in it)
    ├── NotFoundError             a sequence, step, contact or enrollment that does not exist
    ├── ConflictError             the operation contradicts the current state
    │   ├── DuplicateEnrollmentError   the contact is already enrolled in that sequence
    │   ├── ActivationError            the sequence cannot be activated (no message step)
    │   └── StaleVersionError          someone saved the sequence since it was read
    ├── StoreError                the database cannot be used
    │   ├── SchemaVersionError    the database was made by an incompatible teamsim
    │   └── DatabaseError         the database failed in the middle of work (disk full, ...)
    ├── PipelineError             the draft/review/approve/send graph was driven wrongly
    └── InvariantError            a simulated run broke one of teamsim's invariants

Every message says what was wrong, where, and what to do about it. Bad arguments to a plain
function (a wrong type, a negative count) raise the built-in ``ValueError``/``TypeError``.
"""

from __future__ import annotations

__all__ = [
    "ActivationError",
    "ConflictError",
    "DatabaseError",
    "DuplicateEnrollmentError",
    "InvariantError",
    "NotFoundError",
    "PipelineError",
    "ScenarioError",
    "SchemaVersionError",
    "StaleVersionError",
    "StoreError",
    "TeamsimError",
    "ValidationError",
]


class TeamsimError(Exception):
    """Root of every error teamsim raises on purpose."""


class ValidationError(TeamsimError, ValueError):
    """A value is not allowed: the message names the field and the fix."""


class ScenarioError(ValidationError):
    """A scenario file is invalid; the message names the file, the path inside it and the fix."""


class NotFoundError(TeamsimError, LookupError):
    """A sequence, step, contact, enrollment or run that does not exist."""


class ConflictError(TeamsimError):
    """The operation contradicts the current state of the thing it acts on."""


class DuplicateEnrollmentError(ConflictError):
    """The contact is already enrolled in that sequence."""


class ActivationError(ConflictError):
    """The sequence cannot be activated as it stands."""


class StaleVersionError(ConflictError):
    """A sequence was saved by someone else since it was read; nothing was saved."""


class StoreError(TeamsimError):
    """The database cannot be opened or used."""


class SchemaVersionError(StoreError):
    """The database records a schema version this teamsim cannot use."""


class DatabaseError(StoreError):
    """The database failed in the middle of work: disk full, I/O error, connection lost.

    ``str(err)`` names the database and the driver's reason; :attr:`reason` is the reason
    alone. Built from plain strings, so it survives being re-raised by SimPy or pickled.
    """

    def __init__(self, message: str, reason: str) -> None:
        """``message`` for people; ``reason`` the driver's own words (first line)."""
        super().__init__(message, reason)
        self.reason = reason

    def __str__(self) -> str:
        """The message."""
        return str(self.args[0])


class PipelineError(TeamsimError):
    """The per-step pipeline graph was resumed or driven in a way it does not allow."""


class InvariantError(TeamsimError):
    """A simulated run broke an invariant (for example a send without approval)."""
