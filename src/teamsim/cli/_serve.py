"""``teamsim serve``: play the human in a browser while the run steps along."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Annotated

import typer

from teamsim.cli._common import check_db_option, err, fail, out
from teamsim.cli._text import plain
from teamsim.model import TeamsimError

__all__ = ["allowed_hosts", "register", "serve_command"]

LOOPBACK = "127.0.0.1"
"""Where ``teamsim serve`` listens unless ``--host`` names another address."""
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
"""The host names a loopback server answers (others are refused: no DNS rebinding)."""


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""
    app.command("serve")(serve_command)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (``localhost`` counts)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(bind: str) -> list[str] | None:
    """The Host headers the page answers when bound to ``bind``: on a loopback address, the
    loopback names and that address itself (so ``--host 127.0.0.2`` answers its own URL;
    any other name, as a DNS-rebinding page would send, is refused); elsewhere any."""
    if not is_loopback(bind):
        return None
    return list(dict.fromkeys([*LOOPBACK_NAMES, bind, f"[{bind}]" if ":" in bind else bind]))


def _check_port(host: str, port: int) -> None:
    """Refuse a port that cannot be listened on, before the run starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise fail(f"--port {port}: cannot listen on {host}:{port}: "
                       f"{exc.strerror or exc}; choose another with --port") from None


def serve_command(
    scenario: Annotated[str, typer.Argument(help="The scenario file (YAML).",
                                            show_default=False)],
    seed: Annotated[int | None, typer.Option(help="Seed (default: the scenario's).",
                                             show_default=False)] = None,
    port: Annotated[int, typer.Option(help="The port to listen on.", min=1,
                                      max=65535)] = 8000,
    host: Annotated[str | None, typer.Option(
        "--host", help=f"The address to listen on (default {LOOPBACK}: this machine only). "
        "Another address makes the page, and the run, reachable by others on the network.",
        show_default=False)] = None,
    db: Annotated[str | None, typer.Option(
        "--db", help="Record the finished run in this database (SQLite path or SQLAlchemy "
        "URL) too.", show_default=False)] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="The run folder written at the end (default: "
        "runs/<file stem>-seed<N>-served).", show_default=False)] = None,
    journal: Annotated[Path | None, typer.Option(
        "--journal", help="The decisions journal to start (default: the run folder's path "
        "with .decisions.jsonl).", show_default=False)] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an earlier run folder at --out.")] = False,
) -> None:
    """Play the human: a local web page over a run in step mode (Needs attention, Sequences,
    Run); every decision is journaled and `teamsim run --decisions` replays it."""
    try:
        import uvicorn

        from teamsim import runner
        from teamsim.scenario import load_scenario
        from teamsim.web import ServedRun, create_app
    except ImportError as exc:
        raise fail(f"teamsim serve needs the web extra ({exc.name} is missing): "
                   "pip install 'teamsim[web]'") from None

    check_db_option(db)
    bind = LOOPBACK if host is None else host
    _check_port(bind, port)
    try:
        world = load_scenario(scenario)
        chosen = world.run_seed(seed)
        folder = runner.default_out_dir(scenario, chosen)
        target = out_dir if out_dir is not None else folder.with_name(f"{folder.name}-served")
        if target.exists() and not force:
            raise TeamsimError(f"{target}: there already; pass --force to replace an earlier "
                               "run folder, or --out for another")
        path = journal if journal is not None else target.with_name(
            f"{target.name}.decisions.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        served = ServedRun(world, seed=chosen, journal=path, out=target, db=db, force=force,
                           source=str(scenario))
    except TeamsimError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"{exc.filename or scenario}: {exc.strerror or exc}") from None
    try:
        shown = f"[{bind}]" if ":" in bind else bind
        out.print(plain(f"{world.name}: seed {chosen}, step mode; the clock stands at "
                        f"{served.clock()}"), markup=False)
        out.print(f"open http://{shown}:{port}/  (Ctrl-C stops; decisions go to {path})",
                  markup=False)
        if not is_loopback(bind):
            err.print(f"warning: listening on {bind}: anyone who can reach this address can "
                      "decide for you", markup=False)
        hosts = allowed_hosts(bind)
        uvicorn.run(create_app(served, allowed_hosts=hosts), host=bind, port=port,
                    log_level="warning")
    finally:
        served.close()
