"""Stopping and resuming ``teamsim run``: Ctrl-C as a resumable stop, ``--resume RUN_DIR``
and ``--resume ID --db URL``.

The runner is imported inside the functions (``teamsim --help`` must not pay for it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from teamsim.cli._common import err, fail, out
from teamsim.cli._models import ModelOptions
from teamsim.cli._text import plain
from teamsim.model import TeamsimError

if TYPE_CHECKING:
    from teamsim import runner

__all__ = ["ctrl_c", "resume_run", "say_stopped", "stop_point"]


def stop_point(text: str | None) -> float | datetime | None:
    """``--stop-at``: simulated days (one minute to 3650) or a simulated time."""
    if text is None:
        return None
    try:
        days = float(text)
    except ValueError:
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise fail(f"--stop-at: {text[:60]!r} is neither simulated days (2.5) nor a "
                       "simulated time (2026-03-04T12:00); give one of them") from None
    if not math.isfinite(days) or not 1 / 1440 <= days <= 3650:
        raise fail(f"--stop-at: {days:g} is not a run length; give simulated days from "
                   "0.000694 (one minute) to 3650, like --stop-at 7 or --stop-at 0.5")
    return days


@contextmanager
def ctrl_c(wanted: bool = True) -> Iterator[Callable[[], bool]]:
    """While inside, the first Ctrl-C (or SIGTERM) asks the run to stop resumably at the next
    simulated hour; a second one interrupts at once (nothing kept)."""
    import signal
    import threading

    if not wanted or threading.current_thread() is not threading.main_thread():
        yield lambda: False  # signals reach the main thread only
        return
    asked: list[int] = []

    def handler(signum: int, frame: object) -> None:
        if asked:
            raise KeyboardInterrupt
        asked.append(signum)
        err.print("stopping at the next simulated hour (Ctrl-C again to abandon the run)",
                  markup=False)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: bool(asked)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def say_stopped(stopped: runner.RunStopped) -> typer.Exit:
    """Report a stopped run and end the command (exit 130 for Ctrl-C, else 0)."""
    where = [] if stopped.out_dir is None else [str(stopped.out_dir)]
    with_db = "" if stopped.run_id is None else " --db URL"
    again = ([] if stopped.out_dir is None
             else [f"teamsim run --resume {stopped.out_dir}{with_db}"])
    if stopped.run_id is not None:
        where.append(f"stopped run {stopped.run_id} in the --db database")
        again.append(f"teamsim run --resume {stopped.run_id} --db URL")
    out.print(plain(f"stopped at simulated minute {stopped.minute} ({stopped.minute / 1440:g} "
                    f"days), {stopped.events} events -> {' and '.join(where)}; go on with: "
                    f"{' or '.join(again)}"))
    raise typer.Exit(code=130 if stopped.interrupted else 0)


def resume_run(given: str, stop_at: float | datetime | None, db: str | None,
               options: ModelOptions) -> runner.RunResult:
    """``teamsim run --resume RUN_DIR`` (or ``ID --db URL``): the finished run (a stop ends
    the command)."""
    from teamsim import runner

    run_dir: Path | int = Path(given)
    if given.isascii() and given.isdigit() and not Path(given).exists():
        if db is None:
            raise fail(f"--resume {given}: no run folder {given}; a run id needs --db URL, the "
                       "database the run was recorded in, like `teamsim run --resume "
                       f"{given} --db URL`")
        run_dir = int(given)

    arguments = options.run_arguments()
    for name in ("cassette", "cassette_mode"):
        if arguments.pop(name, None) is not None:
            raise fail(f"--resume: the run's cassette and its mode are the stopped run's; "
                       f"leave out --{name.replace('_', '-')}")
    try:
        with ctrl_c() as interrupted:
            return runner.resume(run_dir, stop_at=stop_at, interrupted=interrupted, db=db,
                                 **arguments)
    except TeamsimError as exc:
        raise fail(str(exc)) from None
    except runner.RunStopped as stopped:
        raise say_stopped(stopped) from None
