"""Masking database URLs SQLAlchemy cannot parse (found by pattern), and driver messages."""

from __future__ import annotations

import pytest

from teamsim.store._urls import mask_secrets, mask_url, secrets_of


@pytest.mark.parametrize(("url", "shown"), [
    # A password holding "/", "?" or "@": it runs to the last "@".
    ("postgresql://u:p/ss@h:abc/db", "postgresql://u:***@h:abc/db"),
    ("postgresql://u:p?ss@h:abc/db", "postgresql://u:***@h:abc/db"),
    ("postgresql://u:p#ss@h:abc/db", "postgresql://u:***@h:abc/db"),
    ("postgresql://u:p@ss@h:x/db", "postgresql://u:***@h:x/db"),
    # A credential parameter's name written URL-encoded.
    ("postgresql://u@h:abc/db?pa%73sword=SECRET", "postgresql://u@h:abc/db?pa%73sword=***"),
    ("postgresql://u@h:abc/db?x=1&%54OKEN=SECRET", "postgresql://u@h:abc/db?x=1&%54OKEN=***"),
])
def test_a_url_sqlalchemy_cannot_parse_shows_no_secret(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_an_at_sign_in_a_query_secret_never_unmasks_part_of_it() -> None:
    shown = mask_url("postgresql://u:pw@h:abc/db?x=1&password=S@CRET")
    assert "pw" not in shown.replace("postgresql", "")
    assert "CRET" not in shown


@pytest.mark.parametrize(("url", "secret"), [
    ("postgresql://u:p/ss@h:abc/db", "p/ss"),
    ("postgresql://u:p@ss@h:x/db", "p@ss"),
    ("postgresql://u@h:abc/db?pa%73sword=SECRET", "SECRET"),
    ("postgresql://u:p%40ss@h:5432/db", "p@ss"),  # the driver quotes it decoded
    ("postgresql://u@h:5432/db?token=a%26b", "a&b"),
])
def test_a_driver_message_quoting_a_secret_is_masked(url: str, secret: str) -> None:
    assert secret in secrets_of(url)
    assert mask_secrets(f"login failed for {secret}: denied", url) == (
        "login failed for ***: denied")
