"""The cassette key: the SHA-256 of a canonical JSON of the model, purpose, messages and schema,
the same in every process and every version of the dependencies."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from teamsim.agents import Cassette, Draft, DraftRequest, ModelTeammate, ReviewRequest
from teamsim.agents._client import Prompt, prompt_key
from teamsim.agents._replies import ReviewVerdict

from .llm_fakes import fake, reply

Make = Callable[..., DraftRequest]

PROMPT = Prompt(purpose="draft", messages=(("system", "Be brief."), ("human", "Write to Ada.")))


def test_the_key_of_a_prompt_is_fixed() -> None:
    # sha256 of {"messages":[{"content":"Be brief.","role":"system"},...],"model_id":"m",...}
    assert prompt_key("m", PROMPT) == (
        "59d0334324e30cb2e5d52c94f882a986fdc666a2e6e59d69272844bdb26395d4")


def test_the_key_does_not_depend_on_the_process() -> None:
    code = ("from teamsim.agents._client import Prompt, prompt_key\n"
            "print(prompt_key('m', Prompt(purpose='draft', messages=(('system', 'Be brief.'),"
            " ('human', 'Write to Ada.')))))")
    keys = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": seed}).stdout.strip()
            for seed in ("1", "2")}

    assert keys == {prompt_key("m", PROMPT)}


def test_every_part_of_the_prompt_changes_the_key() -> None:
    keys = {
        prompt_key("m", PROMPT),
        prompt_key("other", PROMPT),
        prompt_key("m", Prompt(purpose="review", messages=PROMPT.messages)),
        prompt_key("m", Prompt(purpose="draft", messages=PROMPT.messages[:1])),
        prompt_key("m", Prompt(purpose="draft", messages=PROMPT.messages, schema=ReviewVerdict)),
        prompt_key("m", Prompt(purpose="draft", messages=PROMPT.messages, where="elsewhere")),
    }

    assert len(keys) == 5  # ``where`` is for messages only


def test_the_schema_the_key_holds_agrees_with_the_verdict_model() -> None:
    generated = ReviewVerdict.model_json_schema()
    written = ReviewVerdict.key_schema

    assert set(written["properties"]) == set(generated["properties"])
    assert written["required"] == generated["required"]
    assert written["properties"]["verdict"]["enum"] == generated["properties"]["verdict"]["enum"]


def test_a_text_review_replays_without_the_model(make_request: Make, tmp_path: Path) -> None:
    cassette = Cassette("record")
    request = ReviewRequest(draft=Draft(subject="S", body="Hi Ada"), request=make_request("s1"),
                            reviewer="Sam")
    recorded = ModelTeammate(fake(reply("VERDICT: revise\n- sign it")), name="Sam",
                             model_id="m", cassette=cassette).reviewer.review(request)
    cassette.save(tmp_path / "c.json")
    player = ModelTeammate(None, name="Sam", model_id="m",
                           cassette=Cassette.load(tmp_path / "c.json", "replay"))

    assert player.reviewer.review(request) == recorded
    assert recorded.reasons == ("sign it",)
