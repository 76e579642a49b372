"""The unit of work's old method names, kept while callers move to the repositories.

``uow.add_teammate(...)`` is now ``uow.teammates.add(...)`` (``/work/uow-map.txt`` lists them
all). Each old name is a descriptor that hands out the repository's bound method and caches it
on the unit of work, so a call through an old name costs one extra lookup the first time
only. This module goes once every caller uses the new names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from teamsim.model import AutoApproveRule, Contact, Enrollment, Sequence, SequenceVersion, Teammate
from teamsim.store._records import (
    AttentionItem,
    DecisionRecord,
    DraftRecord,
    MessageRecord,
    ReplyRecord,
    ReviewRecord,
    TaskRecord,
)

__all__ = ["OldNames"]


class _Moved:
    """An old method name of :class:`UnitOfWork` that now lives on one of its repositories."""

    __slots__ = ("attr", "name", "repo")

    def __init__(self, repo: str, name: str) -> None:
        self.repo = repo
        self.name = name
        self.attr = name

    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr = attr

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        repo, name = self.repo, self.name
        if obj is None:
            def call(uow: Any, *args: Any, **kwargs: Any) -> Any:
                return getattr(getattr(uow, repo), name)(*args, **kwargs)
            call.__name__ = self.attr
            call.__doc__ = f"Moved: use ``uow.{repo}.{name}``."
            return call
        bound = getattr(getattr(obj, repo), name)
        obj.__dict__[self.attr] = bound
        return bound


class OldNames:
    """The old flat names of the unit of work's reads and writes, each one delegating to the
    repository method that replaced it (see the module docstring)."""

    if TYPE_CHECKING:
        get_meta: Callable[..., str | None]
        set_meta: Callable[..., None]
        add_sequence: Callable[..., Sequence]
        save_sequence: Callable[..., Sequence]
        get_sequence_for_update: Callable[..., Sequence]
        get_sequence: Callable[..., Sequence]
        list_sequences: Callable[..., list[Sequence]]
        sequence_versions: Callable[..., list[SequenceVersion]]
        sequence_version: Callable[..., SequenceVersion]
        add_contact: Callable[..., Contact]
        add_contacts: Callable[..., list[Contact]]
        get_contact: Callable[..., Contact]
        list_contacts: Callable[..., list[Contact]]
        enroll: Callable[..., Enrollment]
        get_enrollment: Callable[..., Enrollment]
        list_enrollments: Callable[..., list[Enrollment]]
        update_enrollment: Callable[..., None]
        update_enrollments: Callable[..., None]
        remove_enrollment: Callable[..., None]
        add_teammate: Callable[..., Teammate]
        get_teammate: Callable[..., Teammate]
        list_teammates: Callable[..., list[Teammate]]
        add_task: Callable[..., int]
        get_task: Callable[..., TaskRecord]
        task_by_thread: Callable[..., TaskRecord]
        list_tasks: Callable[..., list[TaskRecord]]
        set_task_status: Callable[..., None]
        assign_reviewer: Callable[..., None]
        add_draft: Callable[..., int]
        get_draft: Callable[..., DraftRecord]
        list_drafts: Callable[..., list[DraftRecord]]
        add_review: Callable[..., int]
        list_reviews: Callable[..., list[ReviewRecord]]
        add_decision: Callable[..., int]
        list_decisions: Callable[..., list[DecisionRecord]]
        open_attention: Callable[..., int]
        resolve_attention: Callable[..., None]
        get_attention: Callable[..., AttentionItem]
        list_attention: Callable[..., list[AttentionItem]]
        send_message: Callable[..., tuple[int, bool]]
        deliver_message: Callable[..., None]
        cancel_message: Callable[..., None]
        mark_engagement: Callable[..., bool]
        get_message: Callable[..., MessageRecord]
        message_for_task: Callable[..., MessageRecord | None]
        list_messages: Callable[..., list[MessageRecord]]
        thread_messages: Callable[..., list[MessageRecord]]
        add_reply: Callable[..., int]
        get_reply: Callable[..., ReplyRecord]
        list_replies: Callable[..., list[ReplyRecord]]
        add_rule: Callable[..., AutoApproveRule]
        save_rule: Callable[..., AutoApproveRule]
        get_rule: Callable[..., AutoApproveRule]
        list_rules: Callable[..., list[AutoApproveRule]]
        rule_approvals: Callable[..., int]
    else:
        get_meta = _Moved('meta', 'get')
        set_meta = _Moved('meta', 'set')
        add_sequence = _Moved('sequences', 'add')
        save_sequence = _Moved('sequences', 'save')
        get_sequence_for_update = _Moved('sequences', 'get_for_update')
        get_sequence = _Moved('sequences', 'get')
        list_sequences = _Moved('sequences', 'list')
        sequence_versions = _Moved('sequences', 'versions')
        sequence_version = _Moved('sequences', 'version')
        add_contact = _Moved('contacts', 'add')
        add_contacts = _Moved('contacts', 'add_many')
        get_contact = _Moved('contacts', 'get')
        list_contacts = _Moved('contacts', 'list')
        enroll = _Moved('enrollments', 'add')
        get_enrollment = _Moved('enrollments', 'get')
        list_enrollments = _Moved('enrollments', 'list')
        update_enrollment = _Moved('enrollments', 'update')
        update_enrollments = _Moved('enrollments', 'update_many')
        remove_enrollment = _Moved('enrollments', 'remove')
        add_teammate = _Moved('teammates', 'add')
        get_teammate = _Moved('teammates', 'get')
        list_teammates = _Moved('teammates', 'list')
        add_task = _Moved('tasks', 'add')
        get_task = _Moved('tasks', 'get')
        task_by_thread = _Moved('tasks', 'by_thread')
        list_tasks = _Moved('tasks', 'list')
        set_task_status = _Moved('tasks', 'set_status')
        assign_reviewer = _Moved('tasks', 'assign_reviewer')
        add_draft = _Moved('drafts', 'add')
        get_draft = _Moved('drafts', 'get')
        list_drafts = _Moved('drafts', 'list')
        add_review = _Moved('drafts', 'add_review')
        list_reviews = _Moved('drafts', 'reviews')
        add_decision = _Moved('drafts', 'add_decision')
        list_decisions = _Moved('drafts', 'decisions')
        open_attention = _Moved('attention', 'open')
        resolve_attention = _Moved('attention', 'resolve')
        get_attention = _Moved('attention', 'get')
        list_attention = _Moved('attention', 'list')
        send_message = _Moved('messages', 'send')
        deliver_message = _Moved('messages', 'deliver')
        cancel_message = _Moved('messages', 'cancel')
        mark_engagement = _Moved('messages', 'mark_engagement')
        get_message = _Moved('messages', 'get')
        message_for_task = _Moved('messages', 'for_task')
        list_messages = _Moved('messages', 'list')
        thread_messages = _Moved('messages', 'thread')
        add_reply = _Moved('replies', 'add')
        get_reply = _Moved('replies', 'get')
        list_replies = _Moved('replies', 'list')
        add_rule = _Moved('rules', 'add')
        save_rule = _Moved('rules', 'save')
        get_rule = _Moved('rules', 'get')
        list_rules = _Moved('rules', 'list')
        rule_approvals = _Moved('rules', 'approvals')
