"""The Typer application shell of ``teamsim``: usage lines, usage errors, exit codes.

Every problem reaches the user the same way, whether teamsim found it or the argument parser did:
one ``error: ...`` line per problem on stderr, naming the argument and echoing the bad value,
never Typer's boxed panel or a traceback. The exit codes (also in the README):

==== =============================================================================
0    everything passed
1    an expectation or an invariant failed (the run itself completed)
2    bad input: an argument, a scenario file, a run folder, a database
3    an internal error: a bug in teamsim; the message asks for a report
130  interrupted (Ctrl-C)
141  the output's reader went away (a broken pipe, e.g. ``| head -1``)
==== =============================================================================

An internal error prints ``teamsim: internal error: TYPE: MESSAGE; please report ...`` and, only
when ``TEAMSIM_DEBUG=1``, the traceback before it.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, Final

import typer
from typer.core import TyperCommand, TyperGroup

from teamsim.cli._common import mask_urls
from teamsim.cli._text import BROKEN_PIPE_EXIT, clean

try:  # Typer 0.2x vendors Click as typer._click; older Typer releases use Click itself.
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - depends on the installed Typer
    from click import exceptions as click_exceptions  # type: ignore[import-not-found,no-redef,unused-ignore]

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "Command",
    "Group",
    "Typer",
]

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_BAD_INPUT: Final = 2
EXIT_INTERNAL: Final = 3
EXIT_INTERRUPTED: Final = 130
EXIT_BROKEN_PIPE: Final = BROKEN_PIPE_EXIT
DEBUG_ENV: Final = "TEAMSIM_DEBUG"
"""Set to 1 to see the traceback of an internal error."""
_MAX_MESSAGE: Final = 500


def _say(line: str) -> None:
    # Plain text on purpose: the line may hold user input, which must not be read as markup.
    # A usage error echoes the arguments, which may hold a database URL with its password.
    sys.stderr.write(mask_urls(line) + "\n")
    sys.stderr.flush()


class Command(TyperCommand):
    """A Typer command whose usage line reads the usual way: ``teamsim run [OPTIONS] SCENARIO``.

    (Typer writes required arguments as ``{scenario}``, which reads like a placeholder left in.)
    """

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """``[OPTIONS]`` and each argument upper-cased, ``[NAME]`` when optional, ``...`` when
        repeatable."""
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name != "argument":
                continue
            name = (param.metavar or param.name or "arg").upper()
            name = name if param.required else f"[{name}]"
            pieces.append(name + ("..." if param.nargs != 1 else ""))
        return pieces


class Typer(typer.Typer):
    """A ``typer.Typer`` whose commands are :class:`Command`\\ s."""

    def command(  # type: ignore[override]
        self, name: str | None = None, *, cls: type[TyperCommand] | None = None, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register a command, as ``typer.Typer.command`` does, with :class:`Command`."""
        return super().command(name, cls=cls or Command, **kwargs)


class Group(TyperGroup):
    """The root command group: turns everything that ends a command into an exit code.

    ``main`` runs Typer in non-standalone mode, so that usage errors, interrupts and unexpected
    exceptions come back here instead of being printed by Typer (as a boxed panel) or by Python
    (as a traceback).
    """

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line and exit with its code (return it if not ``standalone_mode``)."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        sys.exit(self._exit_code(args, prog_name, complete_var, extra))

    def _exit_code(
        self, args: Sequence[str] | None, prog_name: str | None, complete_var: str | None,
        extra: dict[str, Any],
    ) -> int:
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_exceptions.ClickException as exc:
            return _report_click_error(exc)
        except typer.Abort:
            _say("interrupted")
            return EXIT_INTERRUPTED
        except KeyboardInterrupt:
            _say("interrupted")
            return EXIT_INTERRUPTED
        except Exception as exc:  # the last line of defence, by design
            return report_internal_error(exc)
        return rv if isinstance(rv, int) else EXIT_OK

    def invoke(self, ctx: Any) -> Any:
        """Run the chosen command; Ctrl-C prints one line and exits 130 (Typer says nothing)."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            _say("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None


def report_internal_error(exc: BaseException) -> int:
    """Print the short report of a bug (the traceback too under ``TEAMSIM_DEBUG=1``)."""
    if os.environ.get(DEBUG_ENV, "") not in {"", "0"}:
        traceback.print_exception(exc)
    message = clean(exc)
    if len(message) > _MAX_MESSAGE:  # a message can hold a whole data structure
        message = message[:_MAX_MESSAGE - 1] + "…"
    _say(f"teamsim: internal error: {type(exc).__name__}: {message}; please report this "
         f"with the command you ran (set {DEBUG_ENV}=1 to see the traceback)")
    return EXIT_INTERNAL


def _report_click_error(exc: click_exceptions.ClickException) -> int:
    if isinstance(exc, click_exceptions.NoArgsIsHelpError):
        exc.show()  # `teamsim` or `teamsim seq` alone: the help, as a user expects
        return EXIT_BAD_INPUT
    if isinstance(exc, click_exceptions.UsageError):
        _say(f"error: {usage_error_line(exc)}")
        return EXIT_BAD_INPUT
    _say(f"error: {clean(exc.format_message())}")
    return EXIT_BAD_INPUT


def _param_name(param: Any) -> str:
    if param.param_type_name == "argument":
        return str(param.metavar or param.name or "argument").upper()
    longs = [opt for opt in param.opts if opt.startswith("--")]
    return str((longs or param.opts or [param.name])[0])


def _bad_value(exc: BaseException) -> str | None:
    """``'abc' must be a valid integer``: the value Typer rejected and why, read off the
    pydantic error it wraps (``None`` when it wraps none)."""
    cause = exc.__cause__
    errors = getattr(cause, "errors", None)
    if cause is None or not callable(errors):
        return None
    try:
        first = errors()[0]
    except (IndexError, TypeError):
        return None
    if "input" not in first:
        return None
    value = repr(first["input"])
    why = str(first.get("msg", "")).removeprefix("Value error, ").rstrip(".")
    if why.startswith("Input should be "):
        why = "must be " + why.removeprefix("Input should be ").split(", unable to parse")[0]
    return why if value in why else f"{value} {why}"


def usage_error_line(exc: click_exceptions.UsageError) -> str:
    """One line for a usage error: the argument, the bad value, what is wrong, where help is.

    For example ``--seed: 'abc' must be a valid integer; see `teamsim run --help```.
    """
    ctx = exc.ctx
    command = ctx.command_path if ctx is not None else "teamsim"
    see = f"see `{command} --help`"
    if isinstance(exc, click_exceptions.MissingParameter) and exc.param is not None:
        usage = ctx.get_usage().strip() if ctx is not None else ""
        return clean(f"{_param_name(exc.param)}: missing; {usage or see}")
    if isinstance(exc, click_exceptions.BadParameter) and exc.param is not None:
        bad = _bad_value(exc)
        if bad is not None:
            return clean(f"{_param_name(exc.param)}: {bad}; {see}")
        return clean(f"{_param_name(exc.param)}: {exc.message.rstrip('.')}; {see}")
    if isinstance(exc, click_exceptions.NoSuchOption):
        maybe = sorted(exc.possibilities or ())
        hint = f" (did you mean {' or '.join(maybe)}?)" if maybe else ""
        return clean(f"{exc.option_name}: no such option{hint}; {see}")
    return clean(f"{exc.format_message().rstrip('.')}; {see}")
