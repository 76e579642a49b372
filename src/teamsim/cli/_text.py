"""User-supplied text made safe for the terminal: no Rich markup, no control characters.

Names, labels, briefs, file names and bad option values come from users and scenario files. Rich
would read ``[/]`` or ``[bold]`` in them as markup (and crash on unbalanced tags), and a raw
``ESC`` or newline would reach the terminal. Every string the CLI prints that a user could have
written passes through :func:`clean` (for text) or :func:`plain` (for a Rich renderable: table
cells, titles).
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from rich.console import Console
from rich.text import Text

__all__ = ["BROKEN_PIPE_EXIT", "PlainConsole", "clean", "clean_lines", "plain"]

BROKEN_PIPE_EXIT = 141
"""Exit code when the output's reader has gone (128 + SIGPIPE)."""

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
"""C0 and C1 control characters, line and paragraph separators, bidirectional overrides
(which reorder what the terminal shows) and lone surrogates (which cannot be encoded)."""


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def clean(value: object) -> str:
    """``value`` as one line of text, each unsafe character shown as its escape (``\\x1b``)."""
    return _UNSAFE.sub(_escape, str(value))


def clean_lines(value: object) -> str:
    """Like :func:`clean`, but keeps line breaks (for text that is several lines on purpose)."""
    return "\n".join(clean(line) for line in str(value).split("\n"))


def plain(value: object, style: str = "") -> Text:
    """``value`` as Rich text that is never read as markup, cleaned by :func:`clean`."""
    return Text(clean(value), style=style)


class PlainConsole(Console):
    """A Rich console that never reads markup and prints every string through :func:`clean`.

    Tables and :class:`~rich.text.Text` pass through as they are (their cells come from
    :func:`plain`); a string is one line of plain text, whoever wrote it.
    """

    def __init__(self, **kwargs: Any) -> None:
        """Take ``rich.console.Console``'s options; markup, highlighting and emoji are off."""
        super().__init__(**{"highlight": False, "emoji": False, **kwargs, "markup": False})

    def on_broken_pipe(self) -> None:
        """The reader went away (``teamsim run ... | head -1``): stop quietly with 141, as a
        process ended by SIGPIPE shows in a shell, not Rich's 1 (a failed expectation)."""
        self.quiet = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(BROKEN_PIPE_EXIT)

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """Print like ``Console.print``, with each string cleaned and never read as markup."""
        kwargs["markup"] = False
        super().print(*(clean(o) if isinstance(o, str) else o for o in objects), **kwargs)
