"""Random numbers keyed by identity, not by order.

Every draw is a pure function of (run seed, entity, purpose, index): a BLAKE2b digest of those
parts, read as a number in [0, 1). No generator state is shared between actors, so adding a
contact, or changing the human's approve probability, leaves every unrelated draw unchanged
(common random numbers), and nothing depends on Python's salted ``hash()``, the global
``random`` module or the wall clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TypeVar

__all__ = ["KeyedRandom"]

K = TypeVar("K")
_SCALE = float(2**64)


class KeyedRandom:
    """Uniform numbers in [0, 1) keyed by ``(seed, *key)``."""

    __slots__ = ("_prefix", "seed")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._prefix = f"teamsim/{seed}/".encode()

    def uniform(self, *key: object) -> float:
        """The uniform number for ``key`` (strings and integers, joined unambiguously)."""
        text = "\x1f".join(str(part) for part in key)
        digest = hashlib.blake2b(self._prefix + text.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / _SCALE

    def chance(self, probability: float, *key: object) -> bool:
        """True with ``probability``, keyed by ``key``."""
        return probability > 0 and self.uniform(*key) < probability

    def weighted(self, weights: Mapping[K, float], *key: object) -> K:
        """One of ``weights``' keys, with chance proportional to its weight (stable order)."""
        items: Sequence[tuple[K, float]] = list(weights.items())
        total = sum(w for _, w in items)
        target = self.uniform(*key) * total
        for choice, weight in items:
            target -= weight
            if target < 0:
                return choice
        return items[-1][0]
