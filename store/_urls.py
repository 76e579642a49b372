"""Database URLs: parse them with the reason when they are malformed, and mask every secret.

A URL can carry a password in its user information (``postgresql://u:pw@host/db``) and in
query parameters (``?password=pw``, ``sslpassword=...``, ``passfile=...``, any case). Every
message and file teamsim writes shows a URL through :func:`mask_url`, which hides them all.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Final
from urllib.parse import unquote, unquote_plus

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.util import asbool

from teamsim.model import StoreError

__all__ = ["MASK", "mask_secrets", "mask_url", "parse_url", "secrets_of"]

MASK: Final = "***"
"""What a secret is replaced with."""

# Query parameter names that carry (or point at) credentials: password, sslpassword,
# passfile, secret, token, api_key... compared case-insensitively.
_SECRET_NAME: Final = re.compile(r"pass|secret|token|key|credential", re.IGNORECASE)
# A password may hold "/", "?", "#" and "@" (unquoted, in a URL SQLAlchemy cannot parse): it
# runs to the last "@" of the text. That can mask more than the password, never less.
_USERINFO: Final = re.compile(r"(?P<head>://[^/@:?#]*):(?P<password>.*)@", re.DOTALL)
_QUERY_ITEM: Final = re.compile(r"(?P<head>[?&;](?P<name>[^=&;#]+)=)(?P<value>[^&;#]*)")
_ADVICE: Final = (
    "write a file path such as ./teamsim.db or a URL such as "
    "postgresql+psycopg://user@host:5432/dbname"
)


def _secret_name(name: str) -> bool:
    """Whether a query parameter's name (as written: ``pa%73sword`` is ``password``) names
    a credential."""
    return bool(_SECRET_NAME.search(unquote_plus(name)))


def mask_url(text: str | os.PathLike[str] | URL) -> str:
    """``text`` with the password and every credential query parameter replaced by ``***``.

    Works on URLs SQLAlchemy cannot parse too (by pattern), so an error about a malformed
    URL never shows its password either. A plain file path comes back unchanged.
    """
    if isinstance(text, URL):
        url = text
    else:
        raw = os.fspath(text)
        if "://" not in raw:
            return raw
        try:
            url = make_url(raw)
        except (ArgumentError, ValueError):
            return _mask_pattern(raw)
    masked = {name: (MASK if _secret_name(name) else value)
              for name, value in url.query.items()}
    return url.set(query=masked).render_as_string(hide_password=True)


def _secret_spans(raw: str) -> list[tuple[int, int]]:
    """Where the secrets are in ``raw`` (found by pattern): the password, then the values
    of credential parameters (spans may overlap)."""
    spans: list[tuple[int, int]] = []
    userinfo = _USERINFO.search(raw)
    if userinfo is not None:
        spans.append(userinfo.span("password"))
    spans += [item.span("value") for item in _QUERY_ITEM.finditer(raw)
              if _secret_name(item["name"])]
    return spans


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _mask_pattern(raw: str) -> str:
    parts: list[str] = []
    shown = 0
    for start, end in _merged(_secret_spans(raw)):
        parts += [raw[shown:start], MASK]
        shown = end
    return "".join([*parts, raw[shown:]])


def secrets_of(text: str | os.PathLike[str] | URL) -> tuple[str, ...]:
    """The secret values written in ``text`` (a URL; a :class:`URL` with its real password):
    its password and credential parameters, as written and decoded, longest first, so that
    a driver's message quoting one can be masked too."""
    raw = (text.render_as_string(hide_password=False) if isinstance(text, URL)
           else os.fspath(text))
    found = [raw[start:end] for start, end in _secret_spans(raw)]
    userinfo = _USERINFO.search(raw)
    if userinfo is not None:
        # What a parser taking the password to the first (or any later) "@" would quote.
        password = userinfo["password"]
        found += [password[:at] for at, char in enumerate(password) if char == "@"]
    found += [unquote(secret) for secret in found]
    try:
        url = make_url(raw) if "://" in raw else None
    except (ArgumentError, ValueError):
        url = None
    if url is not None:
        if url.password:
            found.append(str(url.password))
        for name, value in url.query.items():
            if _secret_name(name):
                found += [value] if isinstance(value, str) else list(value)
    return tuple(sorted({s for s in found if s}, key=len, reverse=True))


def mask_secrets(message: str, url: str | os.PathLike[str] | URL) -> str:
    """``message`` with every secret of ``url`` (see :func:`secrets_of`) replaced by ``***``.

    Give ``url`` as written or as a :class:`URL` (never as ``str(url)``, which SQLAlchemy
    renders with the password already hidden, so the real one would not be found)."""
    for secret in secrets_of(url):
        message = message.replace(secret, MASK)
    return message


def absolute_url(target: str | os.PathLike[str] | URL) -> str:
    """``target`` as a URL that names the same database from any working directory, masked
    (:func:`mask_url`): a SQLite file's relative path is made absolute (against the current
    directory). An in-memory database, a ``file:`` URI (left as written), a server URL, or
    text that is not a URL is only masked (and rendered as SQLAlchemy writes URLs:
    ``sqlite:///:memory:`` as ``sqlite:///%3Amemory%3A``). What a run folder records as its
    database, and what two mentions of one database are compared by."""
    try:
        url = target if isinstance(target, URL) else parse_url(target)
    except StoreError:
        return mask_url(target)
    path = sqlite_file(url)
    if path is not None:
        url = url.set(database=str(path.resolve()))
    return mask_url(url)


def sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL names (``~`` expanded), or ``None``: another backend, an
    in-memory database, or a ``file:`` URI (SQLite reads that one itself)."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") \
            or database.startswith("file:") or url.query.get("mode") == "memory":
        return None
    return Path(database).expanduser()


def parse_url(target: str | os.PathLike[str]) -> URL:
    """The SQLAlchemy URL of a file path or URL text. Text may start with ``~`` or ``~user``
    (a home folder); in a path object (a file teamsim names) ``~`` is part of a folder's name.

    Raises:
        StoreError: the URL is malformed (a port that is not a number, no scheme...); the
            message shows it masked and says how to write one.
    """
    text = os.fspath(target)
    if "://" not in text and not isinstance(target, str) and text.startswith("~"):
        # A path object is a file teamsim names (a run folder's store.db): "~" there is the
        # start of a folder's name (--out '~x'), not a home folder; absolute, it stays so.
        return URL.create("sqlite", database=str(Path(text).absolute()))
    if "://" not in text:
        return URL.create("sqlite", database=str(_home(text, text)))
    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as err:
        reason = mask_secrets(str(err), text)
        if "invalid literal for int()" in reason:
            reason = "the port is not a number"
        raise StoreError(f"not a database URL: {mask_url(text)} ({reason}); {_ADVICE}") from None
    if url.get_backend_name() == "sqlite":
        if url.database:
            _home(url.database, mask_url(url))
        ignored = sorted(set(url.query) - _SQLITE_ARGUMENTS)
        if ignored and not _is_true(url.query.get("uri")):
            raise StoreError(
                f"not a database URL: {mask_url(url)} (SQLite's driver takes no "
                f"{', '.join(map(repr, ignored))} and would ignore it); remove it, or add "
                "uri=true to pass SQLite URI arguments")
    return url


def _is_true(value: str | tuple[str, ...] | None) -> bool:
    try:
        return value is not None and asbool(value if isinstance(value, str) else value[-1])
    except ValueError:
        return False  # create_engine refuses it, with its own message


_SQLITE_ARGUMENTS: Final = frozenset(
    {"uri", "timeout", "isolation_level", "detect_types", "check_same_thread",
     "cached_statements"})
"""The query arguments SQLAlchemy's SQLite driver takes; it ignores others (with a warning)
unless ``uri=true`` passes them on to SQLite."""


def _home(path: str, shown: str) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded, as every reader of the URL does.

    Raises:
        StoreError: no home folder for that user (``~nosuchuser/f.db``).
    """
    try:
        return Path(path).expanduser()
    except RuntimeError:
        user = path[1:].split("/", 1)[0]
        raise StoreError(f"not a database path: {shown} (no user {user!r} has a home folder "
                         "for its ~); give the path without it or with your own ~/") from None
