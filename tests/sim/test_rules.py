"""Auto-approve rules: the engine, rules in a run, suggestions, preview and the audit trail.

Worlds here are small and deterministic: one-step sequences unless a test needs more, personas
that never reply unless a test is about replies, and a human in New York so that days in the
human's time zone differ from UTC days.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from teamsim.agents import FakeReviewer, Review, ReviewRequest, Verdict
from teamsim.assembly import simulation
from teamsim.graph import ApprovalRequest
from teamsim.model import AutoApproveRule
from teamsim.reports import RulePreview, preview, preview_world_rules
from teamsim.scenario import load_scenario
from teamsim.sim import RulesEngine, SimulationResult, World, check_invariants, rule_matches
from teamsim.store import EventRecord

NEW_YORK = ZoneInfo("America/New_York")
DATA = Path(__file__).parent.parent / "data"


# ---------------------------------------------------------------------------------------------
# helpers


def request(
    *,
    sequence: str | None = "Welcome",
    step_id: str | None = "hello",
    step_label: str = "Say hello",
    channel: str = "email",
    teammate: str = "Riley",
    clean: bool = True,
    at: datetime = datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
    task_id: int = 1,
) -> ApprovalRequest:
    """What the approval gate asks the rules about one draft."""
    return ApprovalRequest(
        task_id=task_id, sequence_id=None if sequence is None else 1, sequence=sequence,
        step_id=step_id, step_label=step_label, channel=channel, teammate=teammate,
        clean_review=clean, at=at)


def rule(**fields: Any) -> AutoApproveRule:
    """A stored rule (id 1 unless given), on unless ``enabled=False``."""
    return AutoApproveRule.model_validate({"id": 1, "name": "hello", "enabled": True, **fields})


def make_world(**changes: Any) -> World:
    """Welcome (one step, ``hello`` / "Say hello") for 30 people enrolled over 3 days, a human
    in New York who approves everything, contacts who never reply; ``changes`` override."""
    base: dict[str, Any] = {
        "name": "Rules",
        "start": "2026-03-02T08:00:00",
        "timezone": "America/New_York",
        "days": 6,
        "seed": 7,
        "teammates": [{"name": "Riley"}, {"name": "Sam"}],
        "approver": {"timezone": "America/New_York", "approve": 1.0, "edit": 0.0,
                     "reject": 0.0},
        "sequences": [{"name": "Welcome", "status": "active",
                       "steps": [{"kind": "message", "id": "hello", "label": "Say hello"}]}],
        "personas": [{"name": "default", "reply": 0.0}],
        "populations": [{"count": 30, "enroll_in": ["Welcome"], "enroll_over_days": 3}],
    }
    base.update(changes)
    return World.model_validate(base)


def hello_rule(**fields: Any) -> dict[str, Any]:
    """The scenario-file form of a rule for Welcome / hello."""
    return {"name": "hello", "sequence": "Welcome", "step": "hello", **fields}


def decisions(result: SimulationResult, by: str | None = None) -> list[EventRecord]:
    """The run's ``decision.made`` events (of the human or a rule), in order."""
    return [e for e in result.events if e.type == "decision.made"
            and (by is None or e.payload["by"] == by)]


def first(result: SimulationResult, kind: str) -> EventRecord:
    """The run's first event of ``kind``."""
    return next(e for e in result.events if e.type == kind)


# ---------------------------------------------------------------------------------------------
# the engine


def test_rule_is_off_when_created() -> None:
    assert AutoApproveRule(name="routine hellos").enabled is False


def test_disabled_rule_never_approves() -> None:
    engine = RulesEngine([rule(enabled=False)])
    assert engine.evaluate(request()) is None


def test_rule_matches_step_by_id() -> None:
    assert rule_matches(rule(step="hello"), request(step_id="hello", step_label="Hi there"))


def test_rule_matches_step_by_label() -> None:
    assert rule_matches(rule(step="Say hello"), request(step_id="s1", step_label="Say hello"))


def test_rule_does_not_match_another_step() -> None:
    assert not rule_matches(rule(step="hello"), request(step_id="s2", step_label="Follow up"))


def test_rule_without_sequence_matches_any_sequence() -> None:
    assert rule_matches(rule(), request(sequence="Welcome"))
    assert rule_matches(rule(), request(sequence="Renovation leads"))
    assert not rule_matches(rule(sequence="Welcome"), request(sequence="Renovation leads"))


def test_rule_matches_channel_and_teammate() -> None:
    assert rule_matches(rule(channel="sms", teammate="Sam"),
                        request(channel="sms", teammate="Sam"))
    assert not rule_matches(rule(channel="sms"), request(channel="email"))
    assert not rule_matches(rule(teammate="Sam"), request(teammate="Riley"))


def test_chat_requests_are_never_matched() -> None:
    chat = request(sequence=None, step_id=None, step_label="")
    assert not rule_matches(rule(require_clean_review=False), chat)
    assert RulesEngine([rule(require_clean_review=False)]).evaluate(chat) is None


def test_clean_review_is_required_by_default() -> None:
    assert not rule_matches(rule(), request(clean=False))
    assert rule_matches(rule(require_clean_review=False), request(clean=False))


def test_total_cap_stops_approvals_and_says_why() -> None:
    engine = RulesEngine([rule(max_total=2)])
    answers = [engine.evaluate(request(task_id=n)) for n in range(3)]
    assert [a.approves for a in answers if a is not None] == [True, True, False]
    assert answers[2] is not None
    assert answers[2].reason == "rule 'hello' used its total cap of 2"
    assert engine.used(1) == 2


def test_per_day_cap_counts_days_in_the_humans_time_zone() -> None:
    engine = RulesEngine([rule(max_per_day=1)], "America/New_York")
    evening = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)  # 18:30 on 2 March in New York
    later = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)  # a new UTC day, still 2 March there
    after_midnight = datetime(2026, 3, 3, 5, 30, tzinfo=UTC)  # 00:30 on 3 March there
    answers = [engine.evaluate(request(at=t)) for t in (evening, later, after_midnight)]
    assert [(a.approves, a.reason) for a in answers if a is not None] == [
        (True, ""), (False, "rule 'hello' used its cap of 1 for 2026-03-02"), (True, "")]


def test_capped_rule_gives_way_to_a_later_rule_with_room() -> None:
    engine = RulesEngine([rule(max_total=1), rule(id=2, name="any hello")])
    engine.evaluate(request())
    answer = engine.evaluate(request())
    assert answer is not None
    assert (answer.rule_id, answer.approves) == (2, True)


def test_switch_holds_for_drafts_ready_from_its_moment() -> None:
    engine = RulesEngine([rule()])
    off = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    engine.set_enabled(1, False, at=off)
    assert engine.is_enabled(1, off - timedelta(minutes=1))
    assert not engine.is_enabled(1, off)
    assert engine.evaluate(request(at=off + timedelta(minutes=5))) is None


def test_set_enabled_refuses_an_unknown_rule() -> None:
    with pytest.raises(ValueError, match="no rule with id 9"):
        RulesEngine([rule()]).set_enabled(9, True)


# ---------------------------------------------------------------------------------------------
# rules in a run


def test_matching_drafts_go_to_the_human_while_the_rule_is_off() -> None:
    result = simulation(make_world(rules=[hello_rule()])).run()
    assert result.metrics["approvals_rule"] == 0
    assert result.metrics["approvals_human"] == 30
    with result.store.unit_of_work() as uow:
        assert uow.rules.get("hello").enabled is False


def test_enabled_rule_approves_matching_drafts_without_the_human() -> None:
    result = simulation(make_world(rules=[hello_rule(enabled=True)])).run()
    assert result.metrics["approvals_rule"] == 30
    assert result.metrics["approvals_human"] == 0
    assert result.metrics["sent"] == 30
    assert not [e for e in result.events if e.type == "attention.opened"]


def test_rule_for_another_step_leaves_drafts_to_the_human() -> None:
    result = simulation(make_world(rules=[hello_rule(enabled=True, step="s9")])).run()
    assert result.metrics["approvals_rule"] == 0
    assert result.metrics["approvals_human"] == 30


def test_total_cap_in_a_run_sends_the_rest_to_the_human_saying_why() -> None:
    world = make_world(rules=[hello_rule(enabled=True, max_total=5)])
    result = simulation(world).run()
    assert result.metrics["approvals_rule"] == 5
    assert result.metrics["approvals_human"] == 25
    opened = [e for e in result.events if e.type == "attention.opened"]
    assert all(e.payload["rule"] == {"rule_id": 1, "approves": False,
                                     "reason": "rule 'hello' used its total cap of 5"}
               for e in opened)
    assert check_invariants(result.events) == []


def test_per_day_cap_in_a_run_counts_the_humans_days() -> None:
    world = make_world(rules=[hello_rule(enabled=True, max_per_day=3)])
    result = simulation(world).run()
    by_day = Counter(e.at.astimezone(NEW_YORK).date() for e in decisions(result, "rule"))
    assert set(by_day.values()) == {3}
    assert len(by_day) == 4  # enrollments spread over days 0-3, every day's cap used up
    capped = [e.payload["rule"]["reason"] for e in result.events
              if e.type == "attention.opened"]
    assert len(capped) == 30 - 12
    assert all(r.startswith("rule 'hello' used its cap of 3 for 2026-03-0") for r in capped)


def test_enable_rule_on_the_timeline_approves_only_from_then() -> None:
    world = make_world(rules=[hello_rule()],
                       timeline=[{"action": "enable_rule", "at": 1.5, "rule": "hello"}])
    result = simulation(world).run()
    enabled = first(result, "rule.enabled").at
    assert result.metrics["approvals_rule"] > 0
    assert all(e.at >= enabled for e in decisions(result, "rule"))
    assert any(e.at < enabled for e in decisions(result, "human"))


def disabled_mid_run() -> World:
    """A rule approving every hello, disabled at 20:00 on day 1, outside the 09:00-17:00
    weekday window, so some messages it approved still wait in the outbox."""
    return make_world(
        sequences=[{"name": "Welcome", "status": "active",
                    "send_window": {"weekdays": [0, 1, 2, 3, 4], "start": "09:00",
                                    "end": "17:00"},
                    "steps": [{"kind": "message", "id": "hello", "label": "Say hello"}]}],
        rules=[hello_rule(enabled=True)],
        timeline=[{"action": "disable_rule", "at": 1.5, "rule": "hello"}])


def test_disabling_mid_run_takes_effect_at_once() -> None:
    """Disabled at 20:00 on day 1: nothing the rule approved goes out after that, not even
    messages it approved earlier that wait in the outbox for the send window; their steps
    are drafted again for the human."""
    world = disabled_mid_run()
    result = simulation(world).run()
    disabled = first(result, "rule.disabled").at
    by_rule = {e.task_id for e in decisions(result, "rule")}
    assert by_rule
    assert all(e.at < disabled for e in decisions(result, "rule"))
    late_sends = [e for e in result.events if e.type == "message.sent"
                  and e.task_id in by_rule and e.at >= disabled]
    assert late_sends == []
    recalled = [e for e in result.events if e.type == "message.cancelled"
                and e.payload["reason"] == "its auto-approve rule was disabled"]
    assert recalled
    assert {e.task_id for e in recalled} <= by_rule
    assert all(e.at == disabled for e in recalled)
    assert result.metrics["sent"] == 30
    assert check_invariants(result.events) == []


def test_approvals_a_disabled_rule_recalled_are_not_counted_as_the_rules() -> None:
    """The messages a rule approved and that were cancelled when it was switched off never
    went out under it: approvals_rule and the funnel's rule column count only approvals that
    stood, and those plus the human's add up to what was sent."""
    from teamsim.reports import step_funnel

    world = disabled_mid_run()
    result = simulation(world).run()
    by_rule = {e.task_id for e in decisions(result, "rule")}
    recalled = {e.task_id for e in result.events if e.type == "message.cancelled"
                and e.payload.get("recalled_rule_id") is not None}
    sent_under_rule = {e.task_id for e in result.events if e.type == "message.sent"} & by_rule
    assert recalled
    assert recalled <= by_rule
    assert result.metrics["approvals_rule"] == len(by_rule - recalled) == len(sent_under_rule)
    assert result.metrics["approvals_rule"] + result.metrics["approvals_human"] == 30
    (row,) = step_funnel(result.events, world)
    assert row.approved_rule == len(sent_under_rule)
    assert row.approved_rule + row.approved_human == row.sent == 30
    assert row.due == 30 + len(recalled)  # the recalled steps fell due again and were redrafted


def test_disabling_stops_a_draft_already_in_the_teammates_hands() -> None:
    """A draft whose work began before the switch but is ready after it goes to the human."""
    world = make_world(rules=[hello_rule(enabled=True)])
    before = simulation(world).run()
    started = {e.task_id: e.at for e in before.events if e.type == "task.started"}
    in_flight = next(e for e in decisions(before, "rule")
                     if (e.at - started[e.task_id]).total_seconds() >= 120)
    minute = int((started[in_flight.task_id] - world.start_utc).total_seconds() // 60) + 1
    switched = make_world(rules=[hello_rule(enabled=True)],
                          timeline=[{"action": "disable_rule", "at": minute / 1440,
                                     "rule": "hello"}])
    result = simulation(switched).run()
    decided = next(e for e in decisions(result) if e.task_id == in_flight.task_id)
    assert decided.payload["by"] == "human"
    assert check_invariants(result.events) == []


# ---------------------------------------------------------------------------------------------
# suggestions


def _human_streaks(result: SimulationResult) -> int:
    """The longest run of human approvals without an edit (one kind of step here)."""
    longest = streak = 0
    for e in decisions(result, "human"):
        streak = streak + 1 if e.payload["action"] == "approve" else 0
        longest = max(longest, streak)
    return longest


def test_rule_is_suggested_after_n_approvals_in_a_row() -> None:
    world = make_world(settings={"suggest_after": 4})
    result = simulation(world).run()
    suggested = [e for e in result.events if e.type == "rule.suggested"]
    assert len(suggested) == 1
    fourth = decisions(result, "human")[3]
    assert suggested[0].at == fourth.at
    assert suggested[0].payload | {"rule_id": 0, "attention_id": 0} == {
        "rule_id": 0, "attention_id": 0, "name": "Suggested: Welcome / Say hello by Riley",
        "sequence": "Welcome", "step": "hello", "channel": "email", "teammate": "Riley",
        "approvals_in_a_row": 4}
    with result.store.unit_of_work() as uow:
        stored = uow.rules.get(suggested[0].payload["rule_id"])
        items = uow.attention.list(None, kind="rule_suggestion")
    assert stored.enabled is False
    assert (stored.step, stored.teammate, stored.require_clean_review) == ("hello", "Riley", True)
    assert [i.payload["rule_id"] for i in items] == [stored.id]


def test_no_suggestion_for_a_step_an_enabled_rule_covers_with_its_cap_used_up() -> None:
    """The rule approved its 3 and the human approves the rest by hand: that streak is the cap
    at work, so no second rule for the same step is suggested."""
    capped = make_world(rules=[hello_rule(enabled=True, max_total=3)],
                        settings={"suggest_after": 4})
    result = simulation(capped).run()
    assert len(decisions(result, "rule")) == 3
    assert len(decisions(result, "human")) >= 8
    assert result.metrics["rule_suggestions"] == 0
    # The same rule switched off does not cover the step: the streak is suggested as before.
    off = make_world(rules=[hello_rule(enabled=False, max_total=3)],
                     settings={"suggest_after": 4})
    assert simulation(off).run().metrics["rule_suggestions"] == 1


def test_suggestion_never_enables_anything_by_itself() -> None:
    result = simulation(make_world(settings={"suggest_after": 4})).run()
    handled = first(result, "suggestion.handled")
    assert handled.payload["accepted"] is False
    assert not [e for e in result.events if e.type == "rule.enabled"]
    assert result.metrics["approvals_rule"] == 0


def test_no_suggestion_when_an_edit_breaks_the_streak() -> None:
    """The human edits now and then; with N one more than the longest run of approvals
    between edits there is no suggestion, although there are more than N approvals in all."""
    approver = {"timezone": "America/New_York", "approve": 0.7, "edit": 0.3, "reject": 0.0}
    probe = simulation(make_world(approver=approver)).run()
    longest = _human_streaks(probe)
    approvals = [e for e in decisions(probe, "human") if e.payload["action"] == "approve"]
    assert 0 < longest < len(approvals) - 1
    strict = simulation(make_world(approver=approver,
                                   settings={"suggest_after": longest + 1})).run()
    assert strict.metrics["rule_suggestions"] == 0
    exact = simulation(make_world(approver=approver,
                                  settings={"suggest_after": longest})).run()
    assert exact.metrics["rule_suggestions"] == 1


def test_human_accepts_a_suggestion_after_the_policys_delay() -> None:
    approver = {"timezone": "America/New_York", "approve": 1.0, "edit": 0.0, "reject": 0.0,
                "accept_suggestions_after_days": 1}
    world = make_world(approver=approver, settings={"suggest_after": 4})
    result = simulation(world).run()
    suggested = first(result, "rule.suggested")
    handled = first(result, "suggestion.handled")
    enabled = first(result, "rule.enabled")
    assert handled.payload["accepted"] is True
    assert handled.at - suggested.at >= timedelta(days=1)
    assert enabled.at == handled.at
    assert result.metrics["approvals_rule"] > 0
    assert all(e.at >= enabled.at and e.payload["rule_id"] == suggested.payload["rule_id"]
               for e in decisions(result, "rule"))
    assert check_invariants(result.events) == []


# ---------------------------------------------------------------------------------------------
# preview


def test_preview_counts_equal_what_enabling_then_approves_on_the_same_seed() -> None:
    """Run 1 keeps the rule off all along; run 2 (same world and seed) enables it at T.

    Keyed random numbers make the two runs identical up to T. After T they stay comparable
    because every sequence here has a single message step: which drafts reach the approval
    gate, and when, depends on enrollments and the teammates' work only, never on who approves
    them (approving holds no teammate; ``on_reject`` is ``skip``; nobody replies). So the
    drafts run 1 saw at the gate from T on are exactly the drafts run 2's rule is asked about,
    at the same moments, and previewing the rule over run 1 from T must name exactly the tasks
    run 2's rule approved. The caps bind (3 a day in New York, 10 in all) so that the count
    is not just "every match"; the human clears Needs attention by the end, so nothing is
    left waiting (waiting drafts would be counted on the preview's day, not their own).
    """
    rules = [hello_rule(max_per_day=3, max_total=10)]
    sequences = [
        {"name": "Welcome", "status": "active",
         "steps": [{"kind": "message", "id": "hello", "label": "Say hello"}]},
        {"name": "Other", "status": "active", "steps": [{"kind": "message", "id": "hello"}]},
    ]
    populations = [{"count": 40, "enroll_in": ["Welcome"], "enroll_over_days": 5},
                   {"count": 10, "enroll_in": ["Other"], "enroll_over_days": 5, "name": "o"}]
    approver = {"timezone": "America/New_York"}  # approves, edits and rejects at random
    teammates = [{"name": "Riley", "capacity": 1}, {"name": "Sam", "capacity": 1}]
    common = {"rules": rules, "sequences": sequences, "populations": populations,
              "approver": approver, "teammates": teammates, "days": 9}
    t = 1.3
    off = simulation(make_world(**common)).run()
    on = simulation(make_world(**common, timeline=[
        {"action": "enable_rule", "at": t, "rule": "hello"}])).run()
    since = off.world.at(round(t * 1440))
    with off.store.unit_of_work() as uow:
        seen = preview(uow, uow.rules.get("hello"), timezone="America/New_York", since=since)
    approved = decisions(on, "rule")
    assert (seen.waiting, seen.waiting_capped) == ((), ())
    assert seen.capped > 0
    assert seen.would_approve == on.metrics["approvals_rule"] == len(approved)
    assert [d.task_id for d in seen.past] == [e.task_id for e in approved]
    assert [d.at for d in seen.past] == [e.at for e in approved]


def test_preview_sees_past_drafts_whatever_the_human_decided() -> None:
    world = make_world(rules=[hello_rule()])
    result = simulation(world).run()
    with result.store.unit_of_work() as uow:
        seen = preview(uow, uow.rules.get("hello"), timezone="America/New_York")
    assert seen.reached_gate == 30
    assert seen.would_approve == len(seen.past) == 30
    assert sum(seen.per_day.values()) == 30
    assert seen.past[0].sequence == "Welcome"
    assert (seen.past[0].step_id, seen.past[0].step_label) == ("hello", "Say hello")
    assert seen.past[0].contact.endswith("@example.com")
    assert [d.at for d in seen.past] == sorted(d.at for d in seen.past)


def test_preview_counts_waiting_drafts_after_the_past_against_the_caps() -> None:
    """The human is away from day 3 on, so later drafts still wait at the end; the total cap
    is used up by the past ones first, and the per-day cap counts the waiting ones on the
    preview's day."""
    approver = {"timezone": "America/New_York", "approve": 1.0, "edit": 0.0, "reject": 0.0,
                "away": [{"start": "2026-03-05", "end": "2026-03-31"}]}
    result = simulation(make_world(approver=approver, rules=[hello_rule()])).run()
    with result.store.unit_of_work() as uow:
        stored = uow.rules.get("hello")
        open_items = len(uow.attention.list("open", kind="draft"))
        everything = preview(uow, stored, timezone="America/New_York")
        per_day = preview(uow, stored.model_copy(update={"max_per_day": 2}),
                          timezone="America/New_York")
        capped = preview(uow, stored.model_copy(update={"max_total": len(everything.past) + 1}),
                         timezone="America/New_York")
    assert open_items > 2
    assert len(everything.waiting) == open_items
    today = everything.at.astimezone(NEW_YORK).date()
    assert {d.day for d in everything.waiting} == {today}
    assert len(per_day.waiting) == 2
    assert len(per_day.waiting_capped) == open_items - 2
    assert len(capped.past) == len(everything.past)
    assert len(capped.waiting) == 1
    assert capped.total_left == 0
    assert capped.waiting_capped[0].reason.endswith("used its total cap of "
                                                    f"{len(everything.past) + 1}")


def test_preview_leaves_out_flagged_drafts_when_a_clean_review_is_required() -> None:
    """Sam flags every draft for contacts with an odd number: those reach the human with
    open concerns, so a rule that needs a clean review would not have approved them."""

    def picky(req: ReviewRequest) -> Review:
        number = int(req.request.contact.email.split("@")[0].rsplit("-", 1)[1])
        if number % 2:
            return Review(verdict=Verdict.REVISE, reasons=("too pushy",), minutes=5)
        return Review(verdict=Verdict.PASS, minutes=5)

    reviewers = {"Riley": FakeReviewer(picky), "Sam": FakeReviewer(picky)}
    result = simulation(make_world(rules=[hello_rule()]), reviewers=reviewers).run()
    with result.store.unit_of_work() as uow:
        strict = preview(uow, uow.rules.get("hello"))
        lenient = preview(uow, uow.rules.get("hello").model_copy(
            update={"require_clean_review": False}))
    assert result.metrics["reviewer_flags"] == 15
    assert strict.would_approve == 15
    assert lenient.would_approve == 30
    enabled = simulation(make_world(rules=[hello_rule(enabled=True)]),
                         reviewers=reviewers).run()
    assert enabled.metrics["approvals_rule"] == strict.would_approve


def test_preview_of_a_rule_that_matches_nothing_is_empty() -> None:
    result = simulation(make_world()).run()
    with result.store.unit_of_work() as uow:
        seen = preview(uow, AutoApproveRule(name="sms only", channel="sms"))
    assert (seen.matched, seen.would_approve, seen.per_day) == (0, 0, {})
    assert seen.reached_gate == 30


def test_preview_world_rules_previews_every_stored_rule() -> None:
    world = make_world(rules=[hello_rule(max_total=4), {"name": "sms", "channel": "sms"}],
                       settings={"suggest_after": 4})
    result = simulation(world).run()
    previews = preview_world_rules(result.store, world)
    assert list(previews) == ["hello", "sms", "Suggested: Welcome / Say hello by Riley"]
    assert all(isinstance(p, RulePreview) for p in previews.values())
    assert previews["hello"].would_approve == 4
    assert previews["hello"].timezone == "America/New_York"
    assert previews["sms"].matched == 0


# ---------------------------------------------------------------------------------------------
# audit and invariants


def test_every_rule_approval_records_the_rule_id() -> None:
    world = make_world(rules=[hello_rule(enabled=True, max_per_day=4)])
    result = simulation(world).run()
    by_rule = decisions(result, "rule")
    queued = {e.task_id: e.payload for e in result.events if e.type == "message.queued"}
    with result.store.unit_of_work() as uow:
        stored = uow.drafts.decisions(rule_id=1)
        assert uow.rules.approvals(1) == len(stored)
        for e in by_rule:
            assert e.payload["rule_id"] == 1
            assert queued[e.task_id]["by"] == "rule"
            assert queued[e.task_id]["rule_id"] == 1
            assert [d.rule_id for d in uow.drafts.decisions(e.task_id)] == [1]
    assert {d.task_id for d in stored} == {e.task_id for e in by_rule}
    assert result.metrics["approvals_rule"] == len(by_rule) == len(stored) > 0
    assert result.metrics["approvals_human"] == len(decisions(result, "human"))


def test_reply_still_pauses_the_person_when_every_step_is_auto_approved() -> None:
    world = make_world(
        sequences=[{"name": "Welcome", "status": "active", "steps": [
            {"kind": "message", "id": "hello", "label": "Say hello"},
            {"kind": "wait", "id": "w1", "days": 1},
            {"kind": "message", "id": "nudge", "label": "Follow up"}]}],
        personas=[{"name": "default", "reply": 1.0,
                   "reply_delay": {"dist": "uniform", "min_hours": 1, "max_hours": 2}}],
        rules=[{"name": "everything", "enabled": True, "require_clean_review": False}])
    result = simulation(world).run()
    assert result.metrics["approvals_human"] == 0
    assert result.metrics["sent"] == 30
    assert result.metrics["paused_by_reply"] == 30
    assert result.metrics["sends_after_reply"] == 0
    assert not [e for e in result.events if e.type == "message.sent"
                and e.payload["step_id"] == "nudge"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_invariants_hold_with_rules_switched_capped_and_suggested(seed: int) -> None:
    world = make_world(
        seed=seed, days=8,
        sequences=[{"name": "Welcome", "status": "active",
                    "send_window": {"weekdays": [0, 1, 2, 3, 4], "start": "09:00",
                                    "end": "17:00"},
                    "steps": [
                        {"kind": "message", "id": "hello", "label": "Say hello"},
                        {"kind": "wait", "id": "w1", "days": 1},
                        {"kind": "message", "id": "nudge", "label": "Follow up",
                         "channel": "linkedin"}]}],
        personas=[{"name": "default", "reply": 0.3}],
        approver={"timezone": "America/New_York", "accept_suggestions_after_days": 0.5,
                  "on_reply": "resume"},
        settings={"suggest_after": 5},
        rules=[hello_rule(enabled=True, max_per_day=4, max_total=9),
               {"name": "nudges", "step": "Follow up", "max_per_day": 2}],
        timeline=[{"action": "enable_rule", "at": 1, "rule": "nudges"},
                  {"action": "disable_rule", "at": 2.6, "rule": "hello"},
                  {"action": "enable_rule", "at": 4.2, "rule": "hello"},
                  {"action": "disable_rule", "at": 5.5, "rule": "nudges"}])
    result = simulation(world).run()
    assert check_invariants(result.events) == []
    assert result.metrics["approvals_rule"] > 0
    with result.store.unit_of_work() as uow:
        assert uow.rules.approvals(1) <= 9
    per_day = Counter((e.payload["rule_id"], e.at.astimezone(NEW_YORK).date())
                      for e in decisions(result, "rule"))
    caps = {1: 4, 2: 2}
    assert all(n <= caps.get(rule_id, 10**9) for (rule_id, _), n in per_day.items())


# ---------------------------------------------------------------------------------------------
# scenario files


def test_scenario_file_defines_rules_switches_them_and_accepts_suggestions() -> None:
    world = load_scenario(DATA / "rules_welcome.yaml")
    assert [(r.name, r.enabled) for r in world.rules] == [
        ("routine hellos", True), ("linkedin nudges", False)]
    assert world.approver.accept_suggestions_after_days == 1
    result = simulation(world).run()
    assert check_invariants(result.events) == []
    by_rule = Counter(e.payload["rule_id"] for e in decisions(result, "rule"))
    assert by_rule[1] == 8
    assert by_rule[2] > 0
    switches = [e for e in result.events if e.type in ("rule.enabled", "rule.disabled")
                and e.payload["rule_id"] == 2]
    assert [(e.type, e.at - world.start_utc) for e in switches] == [
        ("rule.enabled", timedelta(days=2)), ("rule.disabled", timedelta(days=3))]
    assert all(switches[0].at <= e.at < switches[1].at for e in decisions(result, "rule")
               if e.payload["rule_id"] == 2)
    accepted = [e for e in result.events if e.type == "suggestion.handled"]
    assert accepted
    assert all(e.payload["accepted"] for e in accepted)
    suggested = [e.payload["step"] for e in result.events if e.type == "rule.suggested"]
    assert "hello" not in suggested  # the enabled (capped) hellos rule covers that step
