"""Deterministic generated contacts for populations: names, companies, time zones, personas."""

from __future__ import annotations

from teamsim.model import Contact
from teamsim.sim._random import KeyedRandom
from teamsim.sim.world import Population

__all__ = ["generated_contact"]

_FIRST = (
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Keiko",
    "Liam", "Maya", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera",
    "Wes", "Ximena", "Yusuf", "Zoe",
)
_LAST = (
    "Adler", "Berg", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
    "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Petrov", "Quint", "Rossi", "Silva",
    "Tanaka", "Urban", "Varga", "Weber", "Xu", "Young", "Zimmer",
)
_COMPANY = (
    "Oakline", "Brightstone", "Hearth & Home", "Northwall", "Cedar Works", "Bluebeam",
    "Granite Bay", "Lumen", "Timberline", "Copperleaf", "Harbor", "Keystone",
)
_SUFFIX = ("Renovations", "Builders", "Interiors", "Homes", "Studio", "Design")


def generated_contact(pop: Population, n: int, rng: KeyedRandom) -> tuple[Contact, str]:
    """The ``n``-th contact of ``pop`` (1-based) and its persona name.

    Every choice is keyed by (population name, n), so the same contact comes out whatever
    else the world holds.
    """
    key = ("population", pop.name, n)
    first = _FIRST[int(rng.uniform(*key, "first") * len(_FIRST))]
    last = _LAST[int(rng.uniform(*key, "last") * len(_LAST))]
    company = (f"{_COMPANY[int(rng.uniform(*key, 'company') * len(_COMPANY))]} "
               f"{_SUFFIX[int(rng.uniform(*key, 'suffix') * len(_SUFFIX))]}")
    contact = Contact(
        name=f"{first} {last}",
        email=f"{pop.name}-{n}@{pop.domain}",
        company=company,
        timezone=rng.weighted(pop.timezones, *key, "timezone"),
        attributes=dict(pop.attributes),
    )
    return contact, rng.weighted(pop.personas, *key, "persona")
