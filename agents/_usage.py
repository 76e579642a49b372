"""ModelUsage: one teammate's model use in a run (new spend and replayed replies apart)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ModelUsage"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelUsage:
    """One teammate's model use in a run.

    Live calls only count as new spend; replies served from a cassette count as cache hits
    and replayed tokens.

    Attributes:
        model_calls: calls made to the model (each try counts).
        cache_hits: replies served from the cassette.
        tokens_in: input tokens of live calls (from the replies' ``usage_metadata``).
        tokens_out: output tokens of live calls.
        cost: USD of live calls: ``tokens * price per million / 1e6``.
        replayed_tokens_in: input tokens of the replies served from the cassette.
        replayed_tokens_out: output tokens of the replies served from the cassette.
        failures: drafts or reviews given up on (each raised :class:`AgentFailure`).
        prefetch_unused: replies made ahead of time that no request consumed.
    """

    model_calls: int = 0
    cache_hits: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    replayed_tokens_in: int = 0
    replayed_tokens_out: int = 0
    failures: int = 0
    prefetch_unused: int = 0

    def __add__(self, other: ModelUsage) -> ModelUsage:
        """The sum, field by field (for a team total)."""
        if not isinstance(other, ModelUsage):
            return NotImplemented
        return ModelUsage(
            model_calls=self.model_calls + other.model_calls,
            cache_hits=self.cache_hits + other.cache_hits,
            tokens_in=self.tokens_in + other.tokens_in,
            tokens_out=self.tokens_out + other.tokens_out,
            cost=self.cost + other.cost,
            replayed_tokens_in=self.replayed_tokens_in + other.replayed_tokens_in,
            replayed_tokens_out=self.replayed_tokens_out + other.replayed_tokens_out,
            failures=self.failures + other.failures,
            prefetch_unused=self.prefetch_unused + other.prefetch_unused,
        )
