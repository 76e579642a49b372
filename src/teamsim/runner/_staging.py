"""Output folders of runs and sweeps: staged beside the target, put in place whole, never
replacing a folder teamsim cannot prove it wrote.

A run (or sweep) is written into a *staging* folder ``.NAME.XXXXXXXX.tmp`` beside ``--out``
and renamed into place when complete. An earlier folder at ``--out`` is first moved into
``.NAME.XXXXXXXX.old/run`` and removed once the new one is in place. Each staging folder
holds a marker file (:data:`MARKER`) naming the process that made it, so a later run into the
same target can remove what a killed process left behind, and only that: a folder whose
marker is missing or damaged, whose process is alive or on another host, or that holds files
teamsim does not write there, is left alone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import pydantic

from teamsim.model import TeamsimError

__all__ = ["MARKER", "FolderKind", "check_target", "clean_stale", "make_staging",
           "placed", "put_in_place", "stale_folders"]

MARKER: Final = ".teamsim-staging"
"""The marker file in a staging folder (removed once the folder is in place)."""
_OLD_ENTRY: Final = "run"


class _Marker(pydantic.BaseModel):
    """What a staging folder's marker records: the process writing it."""

    model_config = pydantic.ConfigDict(extra="forbid")
    teamsim_staging: Literal[1]
    # A process id the OS can have (a damaged marker's huge number would overflow os.kill).
    pid: int = pydantic.Field(gt=0, lt=2**31)
    host: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FolderKind:
    """What teamsim writes into one kind of output folder.

    Attributes:
        what: ``run`` or ``sweep``, for messages.
        marker: the file that identifies such a folder (``run.json``, ``summary.json``).
        files: every file name teamsim may leave there (the marker included).
        is_valid: whether the marker file's content is teamsim's (it validates).
    """

    what: str
    marker: str
    files: frozenset[str]
    is_valid: Callable[[Path], bool]


def _why_not_ours(folder: Path, kind: FolderKind) -> str | None:
    """``None`` when ``folder`` is provably a ``kind`` folder teamsim wrote, else why not."""
    entries = sorted(folder.iterdir())
    foreign = [p.name for p in entries
               if (p.name not in kind.files and p.name != MARKER) or not _plain_file(p)]
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        return f"it holds {shown}, which teamsim does not write there"
    if not (folder / kind.marker).is_file():
        return f"no {kind.marker}"
    if not kind.is_valid(folder / kind.marker):
        return f"its {kind.marker} is not one teamsim wrote"
    return None


def _plain_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def check_target(target: Path, kind: FolderKind, *, force: bool) -> None:
    """Refuse a ``--out`` that may not be written: a file, a mount point, a folder teamsim
    did not write, or an earlier ``kind`` folder without ``force``.

    Raises:
        TeamsimError: one line naming the folder, the reason and the fix.
    """
    try:
        _check_target(target, kind, force=force)
    except OSError as exc:  # a name too long, a folder that cannot be read...
        raise TeamsimError(f"{target}: cannot be used as --out: {exc.strerror or exc}; choose "
                           "another --out") from None


def _check_target(target: Path, kind: FolderKind, *, force: bool) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise TeamsimError(f"{target}: exists and is not a folder; choose another --out")
    if not target.exists():
        return
    if os.path.ismount(target):
        raise TeamsimError(
            f"{target}: is a mount point, which teamsim cannot replace (it renames a finished "
            f"{kind.what} folder into place); choose a folder inside it, like --out "
            f"{target / kind.what}")
    if not any(target.iterdir()):
        return
    why = _why_not_ours(target, kind)
    if why is not None:
        raise TeamsimError(
            f"{target}: exists and is not a teamsim {kind.what} directory ({why}); nothing "
            "was changed. Choose another --out, or move that folder away yourself")
    if not force:
        raise TeamsimError(
            f"{target}: holds an earlier teamsim {kind.what}; pass --force (force=True "
            "in Python) to replace it, or choose another --out")


def _write_marker(folder: Path) -> None:
    marker = _Marker(teamsim_staging=1, pid=os.getpid(), host=socket.gethostname())
    (folder / MARKER).write_text(marker.model_dump_json(), encoding="utf-8")


def make_staging(target: Path, kind: FolderKind) -> Path:
    """A fresh staging folder beside ``target`` (with its marker), after removing the stale
    ``kind`` staging folders of ``target`` (see :func:`clean_stale`).

    Raises:
        TeamsimError: the folder cannot be created (no permission, disk full...).
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(target, (kind,))
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.",
                                        suffix=".tmp"))
    except OSError as exc:
        raise TeamsimError(
            f"{target}: cannot create the output folder: {exc.strerror or exc}") from None
    try:
        _write_marker(staging)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise TeamsimError(
            f"{target}: cannot create the output folder: {exc.strerror or exc}") from None
    return staging


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _stale_marker(folder: Path) -> bool:
    """Whether ``folder`` holds our marker naming a process of this host that is gone."""
    try:
        marker = _Marker.model_validate_json((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return marker.host == socket.gethostname() and not _alive(marker.pid)


def _staging_names(target: Path, suffix: str) -> re.Pattern[str]:
    """The names of ``target``'s staging folders: ``.NAME.XXXXXXXX.tmp`` (or ``.old``), where
    ``XXXXXXXX`` is :func:`tempfile.mkdtemp`'s random part (8 of ``a-z0-9_``). Exact, so
    ``.NAME.x.XXXXXXXX.old`` (the folder of target ``NAME.x``) is not one of them."""
    return re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.{suffix}")


def _staging_folders(target: Path, suffix: str) -> list[Path]:
    names = _staging_names(target, suffix)
    return sorted(p for p in target.parent.iterdir() if names.fullmatch(p.name))


def stale_folders(target: Path) -> list[Path]:
    """``target``'s staging folders left by a killed process of this host (a valid marker
    naming a process that is gone), oldest name first; nothing is removed."""
    if not target.parent.is_dir():
        return []
    return [folder for folder in _staging_folders(target, "tmp")
            if folder.is_dir() and not folder.is_symlink() and _stale_marker(folder)]


def clean_stale(target: Path, kinds: tuple[FolderKind, ...]) -> list[Path]:
    """Remove the staging folders beside ``target`` that a killed teamsim left.

    Only folders named exactly like ``target``'s (``.NAME.XXXXXXXX.tmp``, ``.NAME.XXXXXXXX.old``),
    holding a valid marker of a process of this host that no longer runs, and nothing teamsim
    does not write into a folder of one of ``kinds``. A stale ``.old`` folder whose run was
    never replaced (``target`` is missing) is moved back to ``target`` instead.

    Returns:
        The folders removed or restored.
    """
    allowed = {MARKER}.union(*(kind.files for kind in kinds))
    done: list[Path] = []
    if not target.parent.is_dir():
        return done
    for folder in _staging_folders(target, "tmp"):
        if _empty_and_old(folder):
            # Killed between creating the folder and writing its marker: nothing in it.
            with contextlib.suppress(OSError):
                folder.rmdir()
                done.append(folder)
            continue
        if (folder.is_dir() and not folder.is_symlink() and _stale_marker(folder)
                and all(p.name in allowed and _plain_file(p) for p in folder.iterdir())):
            shutil.rmtree(folder, ignore_errors=True)
            done.append(folder)
    for folder in _staging_folders(target, "old"):
        if not (folder.is_dir() and not folder.is_symlink() and _stale_marker(folder)):
            continue
        names = {p.name for p in folder.iterdir()}
        if not names <= {MARKER, _OLD_ENTRY}:
            continue
        kept = folder / _OLD_ENTRY
        if kept.is_dir() and not target.exists():
            os.replace(kept, target)  # the replacement never landed: restore the old run
        shutil.rmtree(folder, ignore_errors=True)
        done.append(folder)
    return done


_UNMARKED_GRACE_SECONDS: Final = 60.0
"""How old an empty, unmarked staging folder must be before it counts as abandoned (a live
process writes its marker within milliseconds of creating the folder)."""


def _empty_and_old(folder: Path) -> bool:
    try:
        if folder.is_symlink() or not folder.is_dir() or any(folder.iterdir()):
            return False
        return time.time() - folder.stat().st_mtime > _UNMARKED_GRACE_SECONDS
    except OSError:
        return False


def put_in_place(staging: Path, target: Path, kind: FolderKind, *, force: bool) -> None:
    """Rename the complete ``staging`` folder to ``target``, replacing an earlier ``kind``
    folder (checked again, with ``force``) only now that the new one is whole.

    Raises:
        TeamsimError: ``target`` may not be replaced, or a rename failed (the real cause
            named); nothing is left behind but ``staging``, which the caller removes.
    """
    with placed(staging, target, kind, force=force):
        pass


@contextlib.contextmanager
def placed(staging: Path, target: Path, kind: FolderKind, *, force: bool) -> Iterator[None]:
    """:func:`put_in_place` whose replacement is final only when the block ends normally (a
    ``--db`` run's commit): if the block raises, the new folder is moved back to ``staging``
    (which the caller removes) and the earlier folder is put back at ``target``.

    Raises:
        TeamsimError: as :func:`put_in_place`, before the block runs.
    """
    old = _swap(staging, target, kind, force=force)
    try:
        yield
    except BaseException:
        with contextlib.suppress(OSError):
            os.replace(target, staging)
            if old is not None and _restore(old, target):
                shutil.rmtree(old, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _swap(staging: Path, target: Path, kind: FolderKind, *, force: bool) -> Path | None:
    """Put ``staging`` at ``target``; the holding folder of the earlier one (if any), which
    the caller removes once the new one is final."""
    check_target(target, kind, force=force)
    old: Path | None = None
    if target.exists():
        try:
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.",
                                        suffix=".old"))
            _write_marker(old)
            os.replace(target, old / _OLD_ENTRY)
        except OSError as exc:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            raise TeamsimError(_rename_failed(target, exc, kind)) from None
    try:
        os.replace(staging, target)
    except BaseException as exc:
        # The new folder did not land (or Ctrl-C came between the two renames): put the old
        # run back, and remove its holding folder only once it is back. If even that fails,
        # the old run stays in ``old`` (marked), where the next run into target restores it.
        if old is not None and _restore(old, target):
            shutil.rmtree(old, ignore_errors=True)
        if isinstance(exc, OSError):
            raise TeamsimError(_rename_failed(target, exc, kind)) from None
        raise
    with contextlib.suppress(OSError):
        (target / MARKER).unlink()
    return old


def _restore(old: Path, target: Path) -> bool:
    """Move the old run kept in ``old`` back to ``target``; whether it is there now."""
    try:
        os.replace(old / _OLD_ENTRY, target)
    except OSError:
        return False
    return True


def _rename_failed(target: Path, exc: OSError, kind: FolderKind) -> str:
    reason = exc.strerror or str(exc)
    hint = (f"is it a mount point? Choose a folder inside it, like --out {target / kind.what}"
            if exc.errno in (errno.EBUSY, errno.EXDEV, errno.EPERM) else
            "check the folder's permissions and free space")
    return f"{target}: cannot put the {kind.what} in place: {reason}; {hint}"
