"""The cassette reports each reply as it is used (the run's journal), and serves a stopped
try's replies first when a run is resumed."""

from __future__ import annotations

from pathlib import Path

from teamsim.agents import Cassette, Entry
from teamsim.agents._cassette import Reply


def _entry(key: str, text: str) -> Entry:
    return Entry(key=key * 64, model_id="demo", teammate="Riley", purpose="draft", where="s1",
                 prompt="p", tries=1, reply=Reply(content=text))


def test_every_use_is_reported_in_order_with_whether_it_was_live() -> None:
    used: list[tuple[str, bool]] = []
    cassette = Cassette("auto")
    cassette.listen(lambda entry, live: used.append((str(entry.reply.content), live)))
    cassette.prime([(_entry("b", "from file"), False)])  # a file entry, as a stopped try used
    cassette.add(_entry("a", "called"))
    assert cassette.next_entry("b" * 64) is not None
    assert used == [("called", True)]  # a primed reply is in the journal already


def test_primed_replies_come_first_also_in_record_mode() -> None:
    cassette = Cassette("record")
    cassette.prime([(_entry("a", "paid for"), True)])
    first = cassette.next_entry("a" * 64)
    assert first is not None
    assert first.reply is not None
    assert first.reply.content == "paid for"
    assert cassette.next_entry("a" * 64) is None  # then the model is called again
    assert len(cassette) == 1  # the primed live reply is kept in the recording


def test_a_primed_file_reply_skips_the_files_own_first_use(tmp_path: Path) -> None:
    recording = Cassette("auto")
    recording.add(_entry("a", "first"))
    recording.add(_entry("a", "second"))
    recording.save(tmp_path / "c.json")
    resumed = Cassette.load(tmp_path / "c.json", "auto")
    resumed.prime([(_entry("a", "first"), False)])
    taken = [resumed.next_entry("a" * 64) for _ in range(3)]
    assert [None if t is None else t.reply.content for t in taken if t is None or t.reply] == [
        "first", "second", None]
