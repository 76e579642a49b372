"""teamsim.agents exports exactly its public surface."""

from __future__ import annotations

import teamsim.agents

# Type aliases (a ``Literal``) carry typing's module, not teamsim's; they are listed here.
ALIASES = {"CassetteMode"}


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(teamsim.agents).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("teamsim")
    } | ALIASES

    assert set(teamsim.agents.__all__) == public


def test_all_is_sorted() -> None:
    assert teamsim.agents.__all__ == sorted(teamsim.agents.__all__)
