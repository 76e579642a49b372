"""Each Needs attention item is read once (teamsim.reports.inbox) for the CLI, the report and the
web page; a payload missing parts reads as empty fields, never an error."""

from __future__ import annotations

from datetime import UTC, datetime

from teamsim.model import Contact
from teamsim.reports.inbox import inbox_entries, read_item
from teamsim.store import Store

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_a_draft_reads_its_contact_step_reviewer_and_text() -> None:
    with Store.open("sqlite://") as store, store.unit_of_work() as uow:
        contact = uow.contacts.add(Contact(name="Ana <b>", email="ana@example.com")).id
        uow.attention.open(kind="draft", at=AT, payload={
            "contact": {"id": contact}, "sequence": {"id": 7, "name": "Welcome"},
            "step": {"id": "2", "label": "Intro"}, "channel": "email",
            "drafter": {"name": "Riley"}, "reviewer": {"name": "Sam"},
            "draft": {"subject": "Hello", "body": "<script>x</script>"},
            "flagged": True, "open_concerns": ["too long"], "rule": "intro-rule"})
        [item] = uow.attention.list("open")
        reading = read_item(uow, item)
        [entry] = inbox_entries(uow)
    assert (reading.contact, reading.contact_id) == ("Ana <b> <ana@example.com>", contact)
    assert (reading.where, reading.sequence_id, reading.text) == (
        "Welcome / 2 Intro", 7, "<script>x</script>")
    assert entry.heading == "Ana <b> <ana@example.com> · Welcome / 2 Intro · email · by Riley"
    assert entry.details == ("Subject: Hello", "Reviewer Sam flagged it: too long",
                             "Rule: intro-rule")
    assert (entry.since, entry.text) == ("2026-03-02 09:30 UTC", "<script>x</script>")


def test_payloads_missing_parts_read_as_empty_fields() -> None:
    with Store.open("sqlite://") as store, store.unit_of_work() as uow:
        for kind in ("draft", "reply", "draft_failure", "rule_suggestion"):
            uow.attention.open(kind=kind, at=AT, payload={"contact": [1], "step": "x",
                                                          "sequence": 3, "draft": None})
        entries = inbox_entries(uow)
    assert [e.heading for e in entries] == [
        "? · chat ·  · by ?", "? · 3", "? · chat · ? tries", ""]
    assert entries[2].text == "a teammate could not work"
    assert entries[3].details == ("? approvals in a row without edits; the rule starts "
                                  "switched off",)


def test_a_reply_to_a_chat_message_reads_as_chat() -> None:
    # The simulator writes "sequence": None for a reply to a chat message.
    with Store.open("sqlite://") as store, store.unit_of_work() as uow:
        contact = uow.contacts.add(Contact(name="Ana", email="ana@example.com")).id
        uow.attention.open(kind="reply", at=AT, payload={
            "contact": contact, "sequence": None, "body": "Thanks!"})
        [item] = uow.attention.list("open")
        reading = read_item(uow, item)
        [entry] = inbox_entries(uow)
    assert (reading.sequence, reading.sequence_id) == ("chat", None)
    assert (entry.heading, entry.text) == ("Ana <ana@example.com> · chat", "Thanks!")
