"""The notebook extra: pandas and matplotlib, checked once with one clear error."""

from __future__ import annotations

import importlib
from typing import Final

from teamsim.model import TeamsimError

__all__ = ["EXTRA_HINT", "MissingExtraError", "require_extra"]

EXTRA_HINT: Final = "pip install 'teamsim[notebook]'"
"""How to install what :mod:`teamsim.notebook` needs."""

_NEEDED: Final = ("pandas", "matplotlib")


class MissingExtraError(TeamsimError, ImportError):
    """pandas or matplotlib is not installed: the message names the extra to install."""


def require_extra() -> None:
    """Import pandas and matplotlib, or raise :class:`MissingExtraError` naming the extra.

    Raises:
        MissingExtraError: one of them cannot be imported.
    """
    for name in _NEEDED:
        try:
            importlib.import_module(name)
        except ImportError:
            raise MissingExtraError(
                f"DataFrames, plots and reports need {name}, which is not installed: "
                f"{EXTRA_HINT}") from None
