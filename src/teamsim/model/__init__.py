"""The ground floor: the domain, errors, value ranges, validation messages and the event
vocabulary. It imports nothing else of teamsim; every other layer builds on it.

- :mod:`teamsim.model.domain`: sequences and their steps, contacts, enrollments, teammates,
  auto-approve rules, channels;
- :mod:`teamsim.model.errors`: :class:`TeamsimError` and its tree;
- :mod:`teamsim.model.ranges`: the finite ranges every number and date must fall in;
- :mod:`teamsim.model.validation`: one-line messages for pydantic's validation errors;
- :mod:`teamsim.model.events`: :class:`EventKind`, one typed payload per kind, :class:`RunMeta`;
- :mod:`teamsim.model.history`: the one fold of the event log into each enrollment's history.
"""

from teamsim.model.domain import *  # noqa: F403
from teamsim.model.domain import __all__ as _domain
from teamsim.model.errors import *  # noqa: F403
from teamsim.model.errors import __all__ as _errors
from teamsim.model.events import *  # noqa: F403
from teamsim.model.events import __all__ as _events
from teamsim.model.history import *  # noqa: F403
from teamsim.model.history import __all__ as _history
from teamsim.model.ranges import *  # noqa: F403
from teamsim.model.ranges import __all__ as _ranges
from teamsim.model.validation import MAX_LINES, allowed_fields, error_path, format_errors, shorten

__all__ = [*_domain, *_errors, *_events, *_history, *_ranges,
           "MAX_LINES", "allowed_fields", "error_path", "format_errors", "shorten"]
