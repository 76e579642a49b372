"""The human approver: check-in sessions over Needs attention, decisions, and the rules.

The human works Needs attention in sessions (the policy's workdays and check-in times, in the
human's time zone), oldest item first: approves, edits or rejects drafts (a keyed draw per
draft and round), resumes or ends people who replied, retries, skips or ends the steps that
could not be drafted (the policy's ``on_draft_failure``), and accepts or dismisses rule
suggestions. Approving the same kind of step in a row without edits suggests a rule; switching
rules on and off (the human's, or the timeline's on the human's behalf) happens here too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from teamsim.graph import HumanDecision
from teamsim.model import (
    ApproverSessionEnded,
    ApproverSessionStarted,
    AttentionResolved,
    AutoApproveRule,
    EnrollmentStatus,
    EventKind,
    MessageStep,
    RuleSuggested,
    RuleSwitched,
    SimMinutes,
    SuggestionHandled,
)
from teamsim.sim._context import DAY, ProcessGenerator, RunContext
from teamsim.sim._enrollments import Enrollments
from teamsim.sim._human import HumanAction, HumanInput, actions_for
from teamsim.sim._outbox import Outbox
from teamsim.sim._records import AttentionItem, LiveEnrollment
from teamsim.sim._rules import covering_rule
from teamsim.sim._work import Work

__all__ = ["Approver"]

_EDIT_LINE = "I saw your recent project and thought of you."


class Approver:
    """The human in the loop.

    Args:
        ctx: the run's context.
        enrollments: whom a handled reply resumes or ends.
        work: who redrafts a rejected draft and routes a decided one.
        outbox: where a disabled rule's approved messages are recalled from.
        human: a person plays the human (:meth:`apply`): the scripted check-in sessions are
            held back until they hand over.
    """

    def __init__(self, ctx: RunContext, enrollments: Enrollments, work: Work,
                 outbox: Outbox, *, human: bool = False) -> None:
        self._ctx = ctx
        self._enrollments = enrollments
        self._work = work
        self._outbox = outbox
        self._tz = ZoneInfo(ctx.world.approver.timezone)
        self._rounds: dict[int, int] = {}
        self._streaks: dict[tuple[str, str, str, str], int] = {}
        self._suggested: set[tuple[str, str, str, str]] = set()
        self.minutes = 0.0
        """The human's minutes spent in sessions so far."""
        self.human = human
        """Whether a person plays the human (until they hand over to the script)."""

    def run(self) -> ProcessGenerator:
        """The human works Needs attention in check-in sessions."""
        ctx = self._ctx
        after = 0
        while True:
            start = self._next_session(max(after, ctx.minute()))
            if start is None:
                return
            if start > ctx.minute():
                yield ctx.env.timeout(start - ctx.minute())
            if not self.human:
                yield from self._session()
            after = start + 1

    def next_session(self, after: SimMinutes) -> SimMinutes | None:
        """The first check-in at or after minute ``after``, or ``None`` before the run ends."""
        return self._next_session(after)

    def _next_session(self, after: SimMinutes) -> SimMinutes | None:
        """The first check-in at or after minute ``after``, or ``None`` before the run ends."""
        ctx, tz = self._ctx, self._tz
        policy = ctx.world.approver
        day = (ctx.start + timedelta(minutes=after)).astimezone(tz).date()
        for _ in range(3700):
            if day.weekday() in policy.workdays and not policy.is_away(day):
                for at in policy.sessions:
                    moment = datetime.combine(day, at, tzinfo=tz).astimezone(UTC)
                    minute = int((moment - ctx.start).total_seconds() // 60)
                    if minute >= after:
                        return minute if minute < ctx.until else None
            day += timedelta(days=1)
            if datetime.combine(day, policy.sessions[0], tzinfo=tz) > \
                    ctx.start + timedelta(minutes=ctx.until + DAY):
                return None
        return None

    def _session(self) -> ProcessGenerator:
        ctx = self._ctx
        policy = ctx.world.approver
        waiting = ctx.attention.waiting()
        ctx.log(ApproverSessionStarted(open_items=len(waiting)))
        handled, minutes = 0, 0.0
        for item in [a for a in waiting if self._ready(a)][:policy.max_items_per_session]:
            if not item.open:
                continue
            spend = policy.minutes_per_reply if item.kind == "reply" else policy.minutes_per_item
            if spend:
                yield ctx.env.timeout(round(spend))
            minutes += spend
            if not item.open:
                continue
            handled += 1
            if item.kind == "reply":
                self._handle_reply(item, ctx.world.approver.on_reply)
            elif item.kind == "draft":
                self._decide(item)
            elif item.kind == "draft_failure":
                self._handle_failure(item, ctx.world.approver.on_draft_failure)
            else:
                self._handle_suggestion(
                    item, ctx.world.approver.accept_suggestions_after_days is not None)
        self.minutes += minutes
        ctx.log(ApproverSessionEnded(handled=handled, minutes=minutes))

    def _ready(self, item: AttentionItem) -> bool:
        """Whether the human acts on ``item`` now: a rule suggestion waits until the policy's
        ``accept_suggestions_after_days`` have passed."""
        delay = self._ctx.world.approver.accept_suggestions_after_days
        if item.kind != "rule_suggestion" or delay is None:
            return True
        return self._ctx.minute() - item.created >= round(delay * DAY)

    # -- a person's inputs -------------------------------------------------------------------

    def refusal(self, given: HumanInput) -> str | None:
        """Why ``given`` (an answer to a Needs attention item, or a hand-over) cannot be
        applied now, or ``None`` when it can."""
        if given.action is HumanAction.HAND_OVER:
            return None if self.human else "the scripted approver plays the human already"
        if not self.human:
            return "the scripted approver plays the human now; nothing is left to decide"
        item = self._item(given.item_id)
        if item is None:
            return f"item {given.item_id} was already decided (or is not in Needs attention)"
        if given.action not in actions_for(item.kind):
            allowed = ", ".join(a.value for a in actions_for(item.kind))
            return (f"{given.action.value} does not answer a {item.kind.replace('_', ' ')}; "
                    f"choose one of: {allowed}")
        return None

    def apply(self, given: HumanInput) -> None:
        """Apply ``given`` now (see :meth:`refusal`).

        Raises:
            ValueError: it cannot be applied (already decided, or the wrong kind of answer).
        """
        reason = self.refusal(given)
        if reason is not None:
            raise ValueError(reason)
        if given.action is HumanAction.HAND_OVER:
            self.human = False
            return
        item = self._item(given.item_id)
        if item is None:  # refusal() said it is open
            raise ValueError(f"item {given.item_id} is not in Needs attention")
        policy = self._ctx.world.approver
        self.minutes += policy.minutes_per_reply if item.kind == "reply" \
            else policy.minutes_per_item
        if item.kind == "draft":
            if item.task_id is None:
                raise RuntimeError(f"attention item {item.item_id} is a draft without a task")
            # A redraft after a hand-over is the scripted human's next round of this task.
            self._rounds[item.task_id] = self._rounds.get(item.task_id, 0) + 1
            item.open = False
            self._ctx.attention.take_draft(item.task_id)
            if given.action is HumanAction.APPROVE:
                decision = HumanDecision(action="approve")
            elif given.action is HumanAction.EDIT:
                decision = HumanDecision(action="edit", subject=given.subject, body=given.body)
            else:
                decision = HumanDecision(action="reject", note=given.note)
            self._apply_draft(item, decision)
        elif item.kind == "reply":
            self._handle_reply(item, given.action.value)
        elif item.kind == "draft_failure":
            self._handle_failure(item, given.action.value)
        else:
            self._handle_suggestion(item, given.action is HumanAction.ACCEPT)

    def _item(self, item_id: int | None) -> AttentionItem | None:
        return next((a for a in self._ctx.attention.waiting() if a.item_id == item_id), None)

    def _handle_reply(self, item: AttentionItem, action: str) -> None:
        ctx = self._ctx
        item.open = False
        ctx.uow.attention.resolve(item.item_id, status="resolved", at=ctx.now())
        ctx.log(AttentionResolved(attention_id=item.item_id, kind="reply"), e=item.enrollment)
        e = item.enrollment
        if e is None:
            return
        if action == "resume":
            self._enrollments.resume(e, "human")
        elif action == "end":
            self._enrollments.finish(e, EnrollmentStatus.ENDED,
                                     "ended by the human after a reply")

    def _handle_failure(self, item: AttentionItem, action: str) -> None:
        """A step that could not be drafted or reviewed: retry it, skip it or end the
        enrollment, as the policy's ``on_draft_failure`` says; only while the enrollment is
        still in the pause the failure put it in (a reply handled meanwhile may have resumed
        it, an unsubscribe ended it). A failed chat needs nothing more than the reading."""
        ctx = self._ctx
        item.open = False
        ctx.uow.attention.resolve(item.item_id, status="resolved", at=ctx.now())
        e = item.enrollment
        ctx.log(AttentionResolved(attention_id=item.item_id, kind="draft_failure"), e=e,
                task_id=item.task_id)
        if e is None or e.token != item.token or e.status is not EnrollmentStatus.PAUSED:
            return
        if action == "end":
            self._enrollments.finish(e, EnrollmentStatus.ENDED,
                                     "ended by the human after a draft failure")
        else:
            self._enrollments.resume(e, "human", skip=action == "skip")

    def _handle_suggestion(self, item: AttentionItem, accepted: bool) -> None:
        """A rule suggestion: enable it when the human accepts it (the scripted human when
        the policy accepts suggestions and the suggestion is old enough); otherwise dismiss it
        (suggestions never enable anything by themselves)."""
        ctx = self._ctx
        if item.rule_id is None:
            raise RuntimeError(f"attention item {item.item_id} suggests no rule")
        item.open = False
        ctx.uow.attention.resolve(item.item_id, status="resolved", at=ctx.now())
        ctx.log(SuggestionHandled(attention_id=item.item_id, rule_id=item.rule_id,
                                  accepted=accepted))
        if accepted:
            self.switch_rule(ctx.uow.rules.get(item.rule_id).name, True)

    def _decide(self, item: AttentionItem) -> None:
        ctx = self._ctx
        if item.task_id is None:
            raise RuntimeError(f"attention item {item.item_id} is a draft without a task")
        policy = ctx.world.approver
        e = item.enrollment
        round_ = self._rounds.get(item.task_id, 0)
        self._rounds[item.task_id] = round_ + 1
        who = (e.contact.email, e.seq, e.step_id) if e is not None else ("chat", item.task_id)
        u = ctx.rng.uniform("approve", *who, round_)
        item.open = False
        ctx.attention.take_draft(item.task_id)
        if u < policy.approve:
            decision = HumanDecision(action="approve")
        elif u < policy.approve + policy.edit:
            if item.draft_id is None:
                raise RuntimeError(f"attention item {item.item_id} has no draft to edit")
            decision = HumanDecision(action="edit",
                                     body=_edited(ctx.uow.drafts.get(item.draft_id).body))
        else:
            decision = HumanDecision(action="reject", note="Not quite right; try again.")
        self._apply_draft(item, decision)

    def _apply_draft(self, item: AttentionItem, decision: HumanDecision) -> None:
        """Carry the human's ``decision`` on a draft (closed already) into the run."""
        ctx = self._ctx
        if item.task_id is None:
            raise RuntimeError(f"attention item {item.item_id} is a draft without a task")
        e = item.enrollment
        if decision.action == "edit":
            ctx.tasks[item.task_id].edited = True
        token = e.token if e is not None else 0
        if decision.action != "reject":
            # Recorded now, carried into the graph by the scheduler's next tick (one resume
            # per graph thread); its message is queued as of now.
            ctx.pipeline.decide(item.task_id, decision, uow=ctx.uow, at=ctx.now())
            self._work.decided(e, item.task_id, token)
            self._note_streak(e, decision.action)
            return
        # A rejection is carried in now: it moves the enrollment on or has the step redrafted.
        # The approvals recorded before it are carried in first, so the decision rows are
        # numbered in the order the human made them (rejections are the rare case).
        self._work.apply_decisions()
        result = ctx.pipeline.resume(item.task_id, decision, uow=ctx.uow, at=ctx.now())
        self._note_streak(e, decision.action)
        if result.work:
            ctx.env.process(self._work.rework(e, result, token))
        else:
            self._work.settle(e, result, token)

    # -- rules ----------------------------------------------------------------------------

    def switch_rule(self, name: str, enabled: bool) -> None:
        """Switch rule ``name`` on or off; switched off, its approved messages still waiting
        in the outbox are recalled."""
        ctx = self._ctx
        rule_id = ctx.rule_ids[name]
        rule = ctx.uow.rules.get(rule_id)
        ctx.uow.rules.save(rule.model_copy(update={"enabled": enabled}))
        if ctx.rules_engine is not None:
            ctx.rules_engine.set_enabled(rule_id, enabled, at=ctx.now())
        ctx.log(RuleSwitched(**ctx.rule_fields(rule, rule_id)),
                kind=EventKind.RULE_ENABLED if enabled else EventKind.RULE_DISABLED)
        if not enabled:
            self._outbox.recall(rule_id)

    def _note_streak(self, e: LiveEnrollment | None, action: str) -> None:
        """Count approvals in a row without edits per kind of step; suggest a rule at N."""
        if e is None or e.step_id is None:
            return
        ctx = self._ctx
        seq = ctx.seq(e.seq)
        step = seq.step(e.step_id)
        if not isinstance(step, MessageStep):
            return
        teammate = seq.teammate or ctx.default_drafter
        kind = (seq.name, step.id, step.channel, teammate)
        streak = self._streaks.get(kind, 0) + 1 if action == "approve" else 0
        self._streaks[kind] = streak
        if streak < ctx.world.settings.suggest_after or kind in self._suggested:
            return
        rules = ctx.uow.rules.list()
        if covering_rule(rules, sequence=seq.name, step=step, teammate=teammate,
                         at=ctx.now()) is not None:
            return  # an enabled rule covers it already (its cap is what sends these to you)
        self._suggested.add(kind)
        name = f"Suggested: {seq.name} / {step.label or step.id} by {teammate}"
        if any(r.name == name for r in rules):
            return
        rule = ctx.uow.rules.add(AutoApproveRule(
            name=name, enabled=False, sequence=seq.name, step=step.id, channel=step.channel,
            teammate=teammate, require_clean_review=True,
            max_per_day=ctx.world.settings.suggested_rule_daily_cap))
        if rule.id is None:
            raise RuntimeError(f"the store gave rule {name!r} no id")
        ctx.rule_ids[rule.name] = rule.id
        if ctx.rules_engine is not None:
            ctx.rules_engine.add(rule)
        item_id = ctx.uow.attention.open(
            kind="rule_suggestion", at=ctx.now(),
            payload={"rule_id": rule.id, "name": name, "approvals_in_a_row": streak})
        ctx.attention.add(AttentionItem(item_id=item_id, kind="rule_suggestion",
                                        created=ctx.minute(), rule_id=rule.id))
        ctx.log(RuleSuggested(rule_id=rule.id, name=name, sequence=seq.name, step=step.id,
                              channel=step.channel, teammate=teammate,
                              approvals_in_a_row=streak, attention_id=item_id),
                sequence_id=seq.id)


def _edited(body: str) -> str:
    """The human's light edit of a draft: a personal line before the sign-off."""
    parts = body.rsplit("\n\n", 1)
    return f"{parts[0]}\n\n{_EDIT_LINE}\n\n{parts[1]}" if len(parts) == 2 \
        else f"{body}\n\n{_EDIT_LINE}"
