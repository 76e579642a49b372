"""Message channels: what each allows (length, subject, opt-out), and the registry of them.

``email``, ``sms`` and ``linkedin`` are built in; :func:`register_channel` adds one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from teamsim.model.errors import ValidationError

__all__ = ["ChannelSpec", "channel_spec", "channels", "check_channel", "register_channel"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelSpec:
    """What a message channel allows.

    Attributes:
        name: the channel's name as used in steps (``email``).
        max_chars: longest body a message on this channel may have, or ``None`` for no limit.
        has_subject: whether messages carry a subject line.
        needs_opt_out: whether every message must carry an opt-out line.
    """

    name: str
    max_chars: int | None = None
    has_subject: bool = False
    needs_opt_out: bool = False


_CHANNELS: dict[str, ChannelSpec] = {
    "email": ChannelSpec(name="email", has_subject=True, needs_opt_out=True, max_chars=5000),
    "sms": ChannelSpec(name="sms", max_chars=160),
    "linkedin": ChannelSpec(name="linkedin", max_chars=1900),
}


def register_channel(spec: ChannelSpec) -> None:
    """Make a new message channel available to steps (for example ``whatsapp``)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", spec.name):
        raise ValueError(f"channel name must be lower-case letters, digits, _; got {spec.name!r}")
    _CHANNELS[spec.name] = spec


def channels() -> list[str]:
    """The names of the known channels, sorted."""
    return sorted(_CHANNELS)


def channel_spec(name: str) -> ChannelSpec:
    """The :class:`ChannelSpec` of a known channel."""
    try:
        return _CHANNELS[name]
    except KeyError:
        raise ValidationError(
            f"unknown channel {name!r}; use one of: {', '.join(channels())}"
        ) from None


def check_channel(value: str) -> str:
    """Return ``value`` if it names a known channel, else raise ``ValueError`` listing them."""
    if value not in _CHANNELS:
        raise ValueError(f"unknown channel {value!r}; use one of: {', '.join(channels())}")
    return value
