"""The shipped scenarios' event logs, run once per test session, and the per-minute view of a
log that the fidelity test compares.

The scheduler batches the steps due in one tick into one LangGraph thread (issue 16); before
that, every step had its own thread. The two produce the same events at the same simulated
minutes; only the order *within* a minute differs (the batch drafts every step, then reviews
every draft...), and with it the ids of rows created in that minute (a revision drafted after
the other steps' first drafts gets a later draft id). So a minute is compared as the sorted
multiset of its canonical lines, without the event's ``seq`` and, in the id-free view, with
row ids (task, draft, review, decision, attention, message, reply and rule ids) blanked.

``python -m tests.sim._shipped`` writes ``tests/data/per_item_events.json`` from the current
code; it was written once, from the per-item pipeline (branch llm-pipeline, f01ec7b), and is
not to be regenerated from the batch pipeline it checks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import teamsim
from teamsim.store import EventRecord, canonical_line

SCENARIOS = Path(__file__).parent.parent.parent / "scenarios"
DATA = Path(__file__).parent.parent / "data" / "per_item_events.json"

ROW_IDS = frozenset({"task_id", "draft_id", "review_id", "decision_id", "attention_id",
                     "message_id", "reply_id", "rule_id"})
"""Keys whose values are ids of rows the store numbers in creation order."""


@cache
def shipped_run(name: str) -> tuple[str, tuple[EventRecord, ...]]:
    """The digest and events of shipped scenario ``name`` with its own seed (run once)."""
    result = teamsim.run(SCENARIOS / name)
    try:
        return result.digest, tuple(result.events)  # read before the store closes
    finally:
        result.close()


def _blank_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("#" if k in ROW_IDS and v is not None else _blank_ids(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_blank_ids(v) for v in value]
    return value


def _line(event: EventRecord, *, ids: bool) -> str:
    data = json.loads(canonical_line(event))
    del data["seq"]
    if not ids:
        data = _blank_ids(data)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def minutes(events: Iterable[EventRecord], *, ids: bool) -> dict[str, list[str]]:
    """The events' canonical lines (without ``seq``; row ids blanked unless ``ids``) by
    simulated minute, each minute's lines sorted."""
    by_minute: dict[str, list[str]] = {}
    for event in events:
        by_minute.setdefault(event.at.strftime("%Y-%m-%dT%H:%M"), []).append(
            _line(event, ids=ids))
    return {minute: sorted(lines) for minute, lines in sorted(by_minute.items())}


def _short(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:8]


def summary(events: tuple[EventRecord, ...]) -> dict[str, Any]:
    """What the data file keeps of one run: the event count, one digest of the minute-sorted
    lines with ids, and a short digest of each minute's sorted id-free lines, as
    ``"minute:digest"`` words (minutes counted from the first event's)."""
    exact = minutes(events, ids=True)
    start = events[0].at
    return {
        "events": len(events),
        "with_ids": hashlib.sha256("\n".join(
            f"{m}\n" + "\n".join(lines) for m, lines in exact.items()).encode()).hexdigest(),
        "minutes": " ".join(
            f"{_offset(start, m)}:{_short(lines)}"
            for m, lines in minutes(events, ids=False).items()),
    }


def _offset(start: datetime, minute: str) -> int:
    at = datetime.strptime(minute, "%Y-%m-%dT%H:%M").replace(tzinfo=start.tzinfo)
    return int((at - start.replace(second=0, microsecond=0)).total_seconds() // 60)


def main() -> None:
    """Write the data file from the current code."""
    data = {path.name: summary(shipped_run(path.name)[1])
            for path in sorted(SCENARIOS.glob("*.yaml"))}
    DATA.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
