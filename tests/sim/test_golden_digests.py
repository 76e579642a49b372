"""Golden digests: every shipped scenario, with its own seed, gives exactly this event log.

A digest here changes only on purpose, in the commit that explains why (a behaviour change
named in its message); a refactoring must leave every one as it is. The digest is the SHA-256
of the run's ``events.jsonl`` (see the README's Determinism section).
"""

from __future__ import annotations

import pytest

from ._shipped import SCENARIOS, shipped_run

GOLDEN = {
    "approval-backlog-away.yaml":
        "6596896dc129508fddabcc41a9954021360077aea49d944270ca78cfacf5f66d",
    "auto-approve-rule-capped.yaml":
        "809ef7652797471e8d8714ecbfabf1c1e191297d35cfbf6a6d0ace35a043bf67",
    "branch-on-engagement.yaml":
        "f01e6006ba70916c50d4a53bae393631de87c1c52b15a1d9087957ddb7f57384",
    "edit-running-sequence.yaml":
        "3ebe2ec1f86a500e1c889199d537a8540f954e91b48d889d87412be6a89cb23d",
    "one-off-chat.yaml":
        "27909779c6adb47e15d312d04b23cf2a3140f4891f228c0d25186b4e843112cf",
    "pause-and-activate.yaml":
        "3bb821fc2c9b7a0060b682fb1fa05f767e31382e0f4be90f3eaa71e1a5dbd168",
    "replies-pause-people.yaml":
        "929959572ac75ca72bc8d724d150ab32b1accb973a6bdc4f740fbc703443b7ed",
    "sending-windows-time-zones.yaml":
        "e3b24ead215baed0b2f816be0a6cde9b1fbca5a7079910b1c27c0c89982b16f5",
    "troubleshoot-inactive-sequence.yaml":
        "3d75348f5d6f0aaffa02a5e99005bfbd605cc077be31594575b8042f554b91ff",
    "troubleshoot-no-one-enrolled.yaml":
        "22a17dff796de1c7237f79591af508ddfc1ca4005b4058f93c843aba18c34d1d",
    "troubleshoot-person-replied.yaml":
        "508768c333eef12d50533efd52aa3eae3e639b532e6cbdad88ecdab107802f68",
    "troubleshoot-schedule-lag.yaml":
        "67016f9360efbf4f6c8f998a1e0c41dfa83410c2a4bb4e68b42d3c9028a198d4",
    "troubleshoot-waiting-on-you.yaml":
        "2070cc5a00893dd3bcc17f225ec369989ef50a2415d6633446205dded9444384",
    "trust-a-teammate.yaml":
        "92c4421d26cf04074cdbdf41e593e0444b93578749434249daa437ef5d691dbf",
    "welcome-renovation-leads.yaml":
        "fb235d1b6dc6f06db417b1507d2a349bc4c9c428c4d47848ae1353a98a781e7a",
}


def test_every_shipped_scenario_has_a_golden_digest() -> None:
    assert sorted(GOLDEN) == sorted(path.name for path in SCENARIOS.glob("*.yaml"))


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_shipped_scenario_gives_its_golden_digest(name: str) -> None:
    assert shipped_run(name)[0] == GOLDEN[name]
