"""Cassettes: record once, replay offline with identical drafts and no model calls."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from teamsim.agents import (
    AgentFailure,
    Cassette,
    CassetteMiss,
    Draft,
    DraftRequest,
    ModelSettings,
    ModelTeammate,
    ReviewRequest,
)
from teamsim.model import ValidationError

from .llm_fakes import EMAIL_REPLY, Echo, RateLimited, Scripted, ToolFake, reply, verdict_call

Make = Callable[..., DraftRequest]


def teammate(model: object, cassette: Cassette, **settings: object) -> ModelTeammate:
    return ModelTeammate(model, name="Robin", model_id="echo",  # type: ignore[arg-type]
                         cassette=cassette, settings=ModelSettings(**settings),
                         sleep=lambda _: None)


def replaying(cassette: Cassette, path: Path) -> Cassette:
    """``cassette`` saved and loaded again in replay mode."""
    cassette.save(path / "cassette.json")
    return Cassette.load(path / "cassette.json", "replay")


def drafts(mate: ModelTeammate, make_request: Make) -> list[Draft]:
    return [mate.drafter.draft(make_request(step)) for step in ("s1", "s2", "s3")]


def test_a_recorded_run_replays_offline_with_no_model_calls(make_request: Make,
                                                            tmp_path: Path) -> None:
    model = Echo()
    recorder = teammate(model, Cassette("record"))
    recorded = drafts(recorder, make_request)
    recorder._client.cassette.save(tmp_path / "c.json")  # type: ignore[union-attr]

    player = teammate(None, Cassette.load(tmp_path / "c.json", "replay"))

    assert drafts(player, make_request) == recorded
    usage = player.usage()
    assert (usage.model_calls, usage.cache_hits, usage.tokens_in, usage.cost) == (0, 3, 0, 0.0)
    assert usage.replayed_tokens_in == recorder.usage().tokens_in
    assert usage.replayed_tokens_out == recorder.usage().tokens_out
    assert len(model.calls) == 3


def test_a_replay_miss_names_the_teammate_the_step_and_the_prompt(make_request: Make) -> None:
    player = teammate(None, Cassette("replay"))

    with pytest.raises(CassetteMiss) as missed:
        player.drafter.draft(make_request("s2"))

    message = str(missed.value)
    assert "teammate 'Robin'" in message
    assert "step 's2' of sequence 'Welcome' for Ada Lovelace" in message
    assert "prompt begins: 'Write the sms message to Ada Lovelace." in message
    assert "record it with cassette mode 'record' or 'auto'" in message


def test_the_nth_use_of_a_prompt_gets_the_nth_recorded_reply(make_request: Make,
                                                             tmp_path: Path) -> None:
    cassette = Cassette("auto")
    first, second = "Hi Ada, one.", "Hi Ada, two."
    recorder = teammate(Scripted(script=[reply(first), reply(second)]), cassette)
    assert [recorder.drafter.draft(make_request("s2")).body for _ in range(2)] == [first, second]

    player = teammate(None, replaying(cassette, tmp_path))

    assert [player.drafter.draft(make_request("s2")).body for _ in range(2)] == [first, second]


def test_auto_mode_replays_what_it_has_and_records_the_rest(make_request: Make,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    recorder = teammate(Echo(), Cassette("record"))
    recorder.drafter.draft(make_request("s1"))
    recorder._client.cassette.save(path)  # type: ignore[union-attr]

    model = Echo()
    cassette = Cassette.load(path, "auto")
    again = teammate(model, cassette)
    drafts(again, make_request)

    assert len(model.calls) == 2  # s2 and s3; s1 came from the cassette
    assert (again.usage().model_calls, again.usage().cache_hits) == (2, 1)
    assert len(cassette) == 3


def test_a_recorded_failure_replays_as_the_same_failure(make_request: Make,
                                                        tmp_path: Path) -> None:
    cassette = Cassette("record")
    recorder = teammate(Scripted(script=[RateLimited()] * 2), cassette, max_tries=2)
    with pytest.raises(AgentFailure, match=r"^rate limited after 2 tries$"):
        recorder.drafter.draft(make_request("s1"))

    player = teammate(None, replaying(cassette, tmp_path), max_tries=2)
    with pytest.raises(AgentFailure, match=r"^rate limited after 2 tries$"):
        player.drafter.draft(make_request("s1"))
    assert player.usage().failures == 1


def test_a_malformed_then_good_reply_replays_the_same_way(make_request: Make,
                                                          tmp_path: Path) -> None:
    cassette = Cassette("record")
    script = [reply("nonsense"), reply(EMAIL_REPLY)]
    recorded = teammate(Scripted(script=script), cassette).drafter.draft(make_request("s1"))

    player = teammate(None, replaying(cassette, tmp_path))

    assert player.drafter.draft(make_request("s1")) == recorded
    assert player.usage().cache_hits == 2


def test_a_structured_review_replays_without_the_model(make_request: Make,
                                                       tmp_path: Path) -> None:
    cassette = Cassette("record")
    request = ReviewRequest(draft=Draft(subject="S", body="Hi Ada"), request=make_request("s1"),
                            reviewer="Sam")
    model = ToolFake(messages=iter([verdict_call("revise", "add an opt-out line")]))
    recorded = teammate(model, cassette).reviewer.review(request)

    assert teammate(None, replaying(cassette, tmp_path)).reviewer.review(request) == recorded


def test_the_saved_file_is_canonical_json_the_same_every_time(make_request: Make,
                                                              tmp_path: Path) -> None:
    texts = []
    for run in range(2):
        cassette = Cassette("record")
        drafts(teammate(Echo(), cassette), make_request)
        cassette.save(tmp_path / f"{run}.json")
        texts.append((tmp_path / f"{run}.json").read_text(encoding="utf-8"))

    assert texts[0] == texts[1]
    data = json.loads(texts[0])
    assert (data["format"], data["version"], len(data["entries"])) == ("teamsim-cassette", 1, 3)
    entry = data["entries"][0]
    assert sorted(entry) == ["failure", "key", "model_id", "prompt", "purpose", "reply",
                             "teammate", "tries", "where"]
    assert entry["reply"]["usage_metadata"]["input_tokens"] > 0
    assert texts[0] == json.dumps(data, sort_keys=True, ensure_ascii=False, indent=2) + "\n"


def test_save_refuses_to_overwrite_a_file_that_is_not_a_cassette(tmp_path: Path) -> None:
    path = tmp_path / "notes.json"
    path.write_text('{"mine": true}', encoding="utf-8")

    with pytest.raises(ValidationError, match=r"not a teamsim cassette; refusing to overwrite"):
        Cassette("record").save(path)

    assert path.read_text(encoding="utf-8") == '{"mine": true}'


@pytest.mark.parametrize(("text", "error"), [
    ("not json", r"not JSON \(line 1, column 1"),
    ('{"format": "other"}', "not a teamsim cassette"),
    ('{"format": "teamsim-cassette", "version": 1, "entries": [{"key": "x"}]}',
     r"entries\.0\.key: .*record it again"),
])
def test_loading_a_bad_file_is_a_clear_error(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ValidationError, match=error):
        Cassette.load(path, "replay")


def test_replaying_a_missing_file_is_an_error_recording_one_starts_empty(
        tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"no cassette to replay"):
        Cassette.load(tmp_path / "none.json", "replay")

    assert len(Cassette.load(tmp_path / "none.json", "auto")) == 0


def test_a_teammate_without_a_model_needs_a_replay_cassette() -> None:
    with pytest.raises(ValidationError, match=r"no model to call; .* 'replay' mode"):
        ModelTeammate(None, name="Robin", model_id="x", cassette=Cassette("auto"))


def test_the_key_depends_on_the_model_id(make_request: Make, tmp_path: Path) -> None:
    cassette = Cassette("record")
    teammate(Echo(), cassette).drafter.draft(make_request("s1"))
    other = ModelTeammate(None, name="Robin", model_id="another-model",
                          cassette=replaying(cassette, tmp_path))

    with pytest.raises(CassetteMiss, match=r"model 'another-model'"):
        other.drafter.draft(make_request("s1"))
