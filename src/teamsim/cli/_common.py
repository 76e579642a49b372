"""What every command of the ``teamsim`` command line shares: the consoles, the one way to fail,
database URLs (checked and masked), and opening a store: a workspace's or a run folder's.

Start-up is kept light: the store (SQLAlchemy) and the runner (LangGraph, SimPy, SciPy) are
imported inside the functions that open them, never at the top of a CLI module, so ``teamsim
--help`` and the ``seq`` commands do not pay for them (``benchmarks/cli_startup.py`` measures
it; ``tests/test_cli_app.py`` checks it). That is the reason for every import inside a
function in :mod:`teamsim.cli`, and each says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from teamsim.cli._text import PlainConsole, clean
from teamsim.model import TeamsimError

if TYPE_CHECKING:
    from teamsim.runner import RunInfo, RunRecord
    from teamsim.store import UnitOfWork
    from teamsim.workspace import Workspace

__all__ = [
    "RunDbOption",
    "RunDirArg",
    "RunIdOption",
    "RunView",
    "check_db_option",
    "do",
    "err",
    "fail",
    "mask_url",
    "mask_urls",
    "out",
    "run_info",
    "run_store",
    "workspace",
]

T = TypeVar("T")

out = PlainConsole(soft_wrap=True)
"""Standard output: plain text, every string cleaned (:mod:`teamsim.cli._text`)."""
err = PlainConsole(stderr=True, soft_wrap=True)
"""Standard error, like :data:`out`."""

RunDirArg = Annotated[Path | None, typer.Argument(
    help="A run directory (what `teamsim run` wrote); or none, with --db URL --run ID.",
    show_default=False)]
RunDbOption = Annotated[str | None, typer.Option(
    "--db", help="The database the run was recorded in with --db (run.json masks the "
    "password).", show_default=False)]
RunIdOption = Annotated[int | None, typer.Option(
    "--run", min=1, help="The run's id in --db (`teamsim runs list --db URL` shows them); "
    "needed when the database keeps several runs.", show_default=False)]


def fail(message: str) -> typer.Exit:
    """Print ``message`` as an error, one ``error: ...`` line per line of it, and return the
    exit (code 2) to raise."""
    for line in message.splitlines() or [message]:
        err.print(f"error: {clean(line)}", markup=False)
    return typer.Exit(code=2)


# ---------------------------------------------------------------------------------------------
# database URLs


_URL_LIKE = re.compile(r"[^\s()'\"]+://[^\s()'\"]+")


def mask_url(url: str) -> str:
    """``url`` with its password and every other secret masked."""
    from teamsim.store import mask_url as mask  # the store loads SQLAlchemy: start-up

    return mask(url)


def mask_urls(text: str) -> str:
    """``text`` with the secrets of every URL in it masked (a usage error echoes the
    arguments, which may hold a database URL with its password)."""
    if "://" not in text:
        return text
    return _URL_LIKE.sub(lambda match: mask_url(match.group()), text)


def check_db_option(db: str | None) -> None:
    """Refuse a malformed ``--db`` URL before anything runs (its password masked)."""
    if db is None:
        return
    from teamsim.store import parse_url  # the store loads SQLAlchemy: start-up

    try:
        parse_url(db)
    except TeamsimError as exc:
        raise fail(f"--db: {exc}") from None


# ---------------------------------------------------------------------------------------------
# a workspace


@contextmanager
def workspace(db: str) -> Iterator[Workspace]:
    """Open the store at ``db`` as a :class:`~teamsim.workspace.Workspace`; turn teamsim errors
    into exit code 2. A SQLite file the command made (the toolbar's database is made on first
    use) is removed again when the command fails, unless another process has committed into
    it meanwhile: a refused command leaves nothing behind."""
    from teamsim.store import Store  # SQLAlchemy: start-up
    from teamsim.workspace import Workspace

    made = Store.claim_new_file(db)
    done = False
    try:
        try:
            store = Store.open(db)
        except TeamsimError as exc:
            raise fail(f"--db: {exc}") from None
        try:
            with store:
                yield Workspace(store)
        except TeamsimError as exc:
            raise fail(str(exc)) from None
        done = True
    finally:
        if made is not None and not done:
            Store.remove_if_unused(made)


def do(db: str, action: Callable[[Workspace], T]) -> T:
    """Run ``action`` on the workspace at ``db`` and return what it returns."""
    with workspace(db) as ws:
        return action(ws)


# ---------------------------------------------------------------------------------------------
# a run folder


class RunView:
    """A finished run opened for reading, wherever it is kept: :attr:`uow` reads its rows;
    :attr:`scenario`, :attr:`seed` and :attr:`end` come from ``run.json`` (read only when
    asked) or from the database's runs table."""

    def __init__(self, uow: UnitOfWork, name: str, *, folder: Path | None = None,
                 record: RunRecord | None = None) -> None:
        """A view of the run read through ``uow``; ``name`` names it in messages (its folder,
        or ``run 3``); its facts come from ``record`` or else from ``folder``'s run.json."""
        self.uow = uow
        self.name = name
        self._folder = folder
        self._record = record

    def _info(self) -> RunRecord | RunInfo:
        return self._record if self._record is not None else self._folder_info()

    def _folder_info(self) -> RunInfo:
        if self._folder is None:
            raise ValueError("a run view needs a folder or a run record")
        return run_info(self._folder)

    @property
    def scenario(self) -> str:
        """The scenario's name."""
        return self._info().scenario

    @property
    def seed(self) -> int:
        """The seed the run ran with."""
        return self._info().seed

    @property
    def end(self) -> datetime:
        """The simulated end (UTC): what "now" is for the reports."""
        if self._record is not None:
            return self._record.sim_end
        return self._folder_info().end


@contextmanager
def run_store(run_dir: Path | None, db: str | None = None,
              run_id: int | None = None) -> Iterator[RunView]:
    """A run folder's run (its own ``store.db``, or the ``--db`` given) or run ``--run`` of
    ``--db``, opened read-only; teamsim errors exit with code 2.

    Nothing is created, migrated or written. A run recorded elsewhere (``run.json`` names a
    database) is read only from a database the user names with ``--db``: a run folder cannot
    make teamsim open, let alone create, a database it points at. A run recorded in a
    database (``run.json`` holds its id) is read from that database's runs; one recorded by
    an older teamsim from the database's own tables.
    """
    from teamsim.store import Store  # SQLAlchemy: start-up

    check_db_option(db)
    if run_dir is None:
        if db is None:
            raise fail("give a run directory (what `teamsim run --out` wrote), or --db URL "
                       "with --run ID (`teamsim runs list --db URL` shows the runs)")
        with _database_run(db, run_id, None) as view:
            yield view
        return
    named, recorded_id, digest = _recorded_db(run_dir)
    if run_id is not None and db is None:
        raise fail(f"--run: needs --db, the database the run is kept in; or give only "
                   f"the run directory {run_dir}")
    if db is not None and (run_id is not None or recorded_id is not None):
        with _database_run(db, run_id if run_id is not None else recorded_id, run_dir,
                           digest=digest if run_id is None else None) as view:
            yield view
        return
    target: str | Path
    if db is not None:
        target = db
    elif named:
        raise fail(f"{run_dir}: the run was recorded in {mask_url(named)}; pass --db with "
                   "that database to read it (the password is not stored)")
    else:
        target = run_dir / "store.db"
        if not target.is_file():
            raise fail(f"{run_dir}: no store.db beside run.json; run `teamsim run` again "
                       "without --db to keep the store with the run")
    try:
        with Store.open(target, read_only=True) as store, store.unit_of_work() as uow:
            yield RunView(uow, str(run_dir), folder=run_dir)
    except TeamsimError as exc:
        raise fail(str(exc)) from None


@contextmanager
def _database_run(db: str, run_id: int | None, folder: Path | None, *,
                  digest: str | None = None) -> Iterator[RunView]:
    """Run ``run_id`` of ``db`` (its only run when ``None``), its rows copied into memory;
    with ``digest`` (the folder's), refuse a run of that id with another digest."""
    from teamsim.runner import open_run  # LangGraph, SimPy, SciPy: start-up

    try:
        record, store = open_run(db, run_id)
    except TeamsimError as exc:
        raise fail(f"--db: {exc}") from None
    if digest and record.status == "finished" and record.digest != digest:
        store.close()
        raise fail(f"{folder}: run {record.id} in the database is another run (digest "
                   f"{(record.digest or '')[:12]}, the folder's {digest[:12]}): the folder's "
                   "run was deleted; `teamsim runs list --db URL` shows what the database "
                   "keeps")
    try:
        with store, store.unit_of_work() as uow:
            yield RunView(uow, f"run {record.id}" if folder is None else str(folder),
                          record=record)
    except TeamsimError as exc:
        raise fail(str(exc)) from None


def _recorded_db(run_dir: Path) -> tuple[str | None, int | None, str | None]:
    """The database ``run.json`` names, if it names one, the run's id there (if it holds
    one) and its digest; exit 2 if ``run_dir`` is no run folder."""
    try:
        found = run_dir.is_dir()
    except OSError as exc:  # a name too long, a folder we may not enter: not only "missing"
        raise fail(f"{run_dir}: cannot read it ({exc.strerror or exc}); give the folder "
                   "`teamsim run` wrote") from None
    if not found:
        raise fail(f"{run_dir}: no such run directory; give the folder `teamsim run` wrote")
    info_path = run_dir / "run.json"
    try:
        info: Any = json.loads(info_path.read_text(encoding="utf-8"))
    except OSError:
        raise fail(f"{run_dir}: not a teamsim run directory (no run.json); run "
                   "`teamsim run` first") from None
    except ValueError as exc:
        raise fail(f"{info_path}: damaged ({exc}); run `teamsim run` again") from None
    named = info.get("db") if isinstance(info, dict) else None
    run_id = info.get("run_id") if isinstance(info, dict) else None
    digest = info.get("digest") if isinstance(info, dict) else None
    return (named if isinstance(named, str) and named else None,
            run_id if isinstance(run_id, int) and not isinstance(run_id, bool) else None,
            digest if isinstance(digest, str) else None)


def run_info(run_dir: Path) -> RunInfo:
    """The run folder's ``run.json`` as the runner reads it; exit 2 if it is damaged."""
    from teamsim.runner import read_run_info  # LangGraph, SimPy, SciPy: start-up

    try:
        return read_run_info(run_dir)
    except TeamsimError as exc:
        raise fail(str(exc)) from None
