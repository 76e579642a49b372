"""Golden digests: every shipped scenario, with its own seed, gives exactly this event log.

A digest here changes only on purpose, in the commit that explains why (a behaviour change
named in its message); a refactoring must leave every one as it is. The digest is the SHA-256
of the run's ``events.jsonl`` (see the README's Determinism section).

Changed on purpose once by the batch pipeline (issue 16: one graph thread per scheduler tick,
approvals carried in at the next tick): the same events at the same minutes with the same ids
as before, in another order within a minute (``test_fidelity.py`` checks exactly that against
the per-step pipeline's events).
"""

from __future__ import annotations

import pytest

from ._shipped import SCENARIOS, shipped_run

GOLDEN = {
    "approval-backlog-away.yaml":
        "f3db85e4ffd197a2486d708b85d20ff337ee779b1d739e3c47c5c29c38977461",
    "auto-approve-rule-capped.yaml":
        "dc981bfdd23ca0232d0a12f6979d21d4a56bc946a3c057bf0e4d37a9dacaa66d",
    "branch-on-engagement.yaml":
        "39be2ae21787d425afa58f2c08430642e2a07f83520352f8162da9d67ccf9824",
    "edit-running-sequence.yaml":
        "1d4de4ca9396c59d5a594821f4cff37062b4d841880edde9508711095a8e6f54",
    # Replayed from its cassette (model-vs-template.cassette.json): no model is imported.
    "model-vs-template.yaml":
        "92cb315adc5dfd02ceef76a29cbd968fd8e432f0cf2412d1290bb45919c811cc",
    "one-off-chat.yaml":
        "f6e9e7a3e9607a289c79896e0ae19067f275b96cadaa9ad939319efb923a4e37",
    "pause-and-activate.yaml":
        "cf868a09f0ce5cba2a501877ff96b8d0e9594cf5314fde988dee18695d110126",
    "replies-pause-people.yaml":
        "fd6a59c98099bfc9a82251f8cd71d4cfa535d7dce83e90217f17de7cb34e80e6",
    "sending-windows-time-zones.yaml":
        "4cc65ad7987197385cc9dbd95ce38b2cabf8e77e0ea300013720abb0b3ee18ac",
    "troubleshoot-inactive-sequence.yaml":
        "3d75348f5d6f0aaffa02a5e99005bfbd605cc077be31594575b8042f554b91ff",
    "troubleshoot-no-one-enrolled.yaml":
        "22a17dff796de1c7237f79591af508ddfc1ca4005b4058f93c843aba18c34d1d",
    "troubleshoot-person-replied.yaml":
        "7290e3480937bf7281430c059c392ad443f0fb1f642425aed7eb191adbaf36ee",
    "troubleshoot-schedule-lag.yaml":
        "c818157256ca73521df0a0ea3c9b780c67bf600f51fac978494e74087a3c2b68",
    "troubleshoot-waiting-on-you.yaml":
        "f323b2f5cc707dca40a6044c54c1a75c9206b2ce56287f09be79a8ca854707be",
    "trust-a-teammate.yaml":
        "1f345c7a6c969b7ffadb9a4c62731497b058808944303af23bc16bbe2dd9235e",
    "welcome-renovation-leads.yaml":
        "124ac96f7a250754e968a312389c0974a9665c4d8db5a931b4cb2d3592603645",
}


def test_every_shipped_scenario_has_a_golden_digest() -> None:
    assert sorted(GOLDEN) == sorted(path.name for path in SCENARIOS.glob("*.yaml"))


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_shipped_scenario_gives_its_golden_digest(name: str) -> None:
    assert shipped_run(name)[0] == GOLDEN[name]
