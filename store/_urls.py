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

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from teamsim.errors import StoreError

__all__ = ["MASK", "mask_secrets", "mask_url", "parse_url", "secrets_of"]

MASK: Final = "***"
"""What a secret is replaced with."""

# Query parameter names that carry (or point at) credentials: password, sslpassword,
# passfile, secret, token, api_key... compared case-insensitively.
_SECRET_NAME: Final = re.compile(r"pass|secret|token|key|credential", re.IGNORECASE)
_USERINFO: Final = re.compile(r"(?P<head>://[^/@:?#]*):(?P<password>[^@/?#]*)@")
_QUERY_ITEM: Final = re.compile(r"(?P<head>[?&;](?P<name>[^=&;#]+)=)(?P<value>[^&;#]*)")
_ADVICE: Final = (
    "write a file path such as ./teamsim.db or a URL such as "
    "postgresql+psycopg://user@host:5432/dbname"
)


def _secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


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


def _mask_pattern(raw: str) -> str:
    raw = _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@", raw)
    return _QUERY_ITEM.sub(
        lambda m: m["head"] + (MASK if _secret_name(m["name"]) else m["value"]), raw)


def secrets_of(text: str | os.PathLike[str]) -> tuple[str, ...]:
    """The secret values written in ``text`` (a URL): its password and credential
    parameters, longest first, so that a driver's message quoting one can be masked too."""
    raw = os.fspath(text)
    found = [m["password"] for m in _USERINFO.finditer(raw)]
    found += [m["value"] for m in _QUERY_ITEM.finditer(raw) if _secret_name(m["name"])]
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


def mask_secrets(message: str, url: str | os.PathLike[str]) -> str:
    """``message`` with every secret of ``url`` (see :func:`secrets_of`) replaced by ``***``."""
    for secret in secrets_of(url):
        message = message.replace(secret, MASK)
    return message


def parse_url(target: str | os.PathLike[str]) -> URL:
    """The SQLAlchemy URL of a file path or URL text.

    Raises:
        StoreError: the URL is malformed (a port that is not a number, no scheme...); the
            message shows it masked and says how to write one.
    """
    text = os.fspath(target)
    if "://" not in text:
        return URL.create("sqlite", database=str(Path(text).expanduser()))
    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as err:
        reason = mask_secrets(str(err), text)
        if "invalid literal for int()" in reason:
            reason = "the port is not a number"
        raise StoreError(f"not a database URL: {mask_url(text)} ({reason}); {_ADVICE}") from None
    return url
