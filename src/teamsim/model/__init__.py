"""The ground floor: the domain, errors, value ranges, validation messages and the event
vocabulary. It imports nothing else of teamsim; every other layer builds on it.

- :mod:`teamsim.model.sequence`: sequences, their editing operations, sending windows and
  versions; :mod:`teamsim.model.steps`: their steps and the conditions branches test;
- :mod:`teamsim.model.people`: contacts, enrollments and the AI teammates;
- :mod:`teamsim.model.rules`: auto-approve rules;
- :mod:`teamsim.model.channel` and :mod:`teamsim.model.zones`: message channels, time zones;
- :mod:`teamsim.model.errors`: :class:`TeamsimError` and its tree;
- :mod:`teamsim.model.ranges`: the finite ranges every number and date must fall in;
- :mod:`teamsim.model.validation`: one-line messages for pydantic's validation errors;
- :mod:`teamsim.model.events`: :class:`EventKind`, :class:`EventRecord`, :class:`RunMeta`;
  :mod:`teamsim.model.payloads`: one typed payload per kind, :func:`parse_payload`;
- :mod:`teamsim.model.history`: the one fold of the event log into each enrollment's history.
"""

from teamsim.model.channel import *  # noqa: F403
from teamsim.model.channel import __all__ as _channel
from teamsim.model.errors import *  # noqa: F403
from teamsim.model.errors import __all__ as _errors
from teamsim.model.events import *  # noqa: F403
from teamsim.model.events import __all__ as _events
from teamsim.model.history import *  # noqa: F403
from teamsim.model.history import __all__ as _history
from teamsim.model.payloads import *  # noqa: F403
from teamsim.model.payloads import __all__ as _payloads
from teamsim.model.people import *  # noqa: F403
from teamsim.model.people import __all__ as _people
from teamsim.model.public import public_home
from teamsim.model.ranges import *  # noqa: F403
from teamsim.model.ranges import __all__ as _ranges
from teamsim.model.rules import *  # noqa: F403
from teamsim.model.rules import __all__ as _rules
from teamsim.model.sequence import *  # noqa: F403
from teamsim.model.sequence import __all__ as _sequence
from teamsim.model.steps import *  # noqa: F403
from teamsim.model.steps import __all__ as _steps
from teamsim.model.validation import MAX_LINES, allowed_fields, error_path, format_errors, shorten
from teamsim.model.zones import check_timezone

__all__ = [*_channel, *_errors, *_events, *_history, *_payloads, *_people, *_ranges, *_rules,
           *_sequence, *_steps, "check_timezone", "public_home",
           "MAX_LINES", "allowed_fields", "error_path", "format_errors", "shorten"]
