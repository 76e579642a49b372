"""Model specs (teamsim.llm): the ``--model`` text, ids without secrets, loading a factory and
each way it can go wrong, the consent a scenario file's factory needs, agents given as objects.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from teamsim.agents import Draft, DraftRequest, FakeDrafter, Review, ReviewRequest
from teamsim.llm import (
    MODEL_METRICS,
    ModelResolver,
    ModelSpec,
    check_agents,
    load_model,
    mask_secrets,
    model_metrics,
    parse_model_option,
    redactor,
)
from teamsim.model import ValidationError

FACTORIES = Path(__file__).parent / "data" / "llm"


@pytest.fixture(autouse=True)
def factories_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FACTORIES))


def test_model_option_reads_the_factory_and_yaml_scalar_arguments() -> None:
    name, spec = parse_model_option(
        "Riley=teamsim_test_models:echo_model,latency=0.5,signature=R2,fast=true")
    assert name == "Riley"
    assert spec.factory == "teamsim_test_models:echo_model"
    assert spec.args == {"latency": 0.5, "signature": "R2", "fast": True}


def test_model_option_reads_an_entry_point() -> None:
    assert parse_model_option("Sam=entry:local-llm")[1].entry_point == "local-llm"


@pytest.mark.parametrize("text", ["Riley", "=a.b:c", "Riley=", "Riley=a.b:c,novalue",
                                  "Riley=not a path", "Riley=a.b:c,9x=1"])
def test_a_malformed_model_option_is_one_clear_line(text: str) -> None:
    with pytest.raises(ValidationError, match=r"^--model ") as caught:
        parse_model_option(text)
    assert "\n" not in str(caught.value)


def test_a_secret_in_a_model_option_is_masked_in_its_error() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_model_option("Riley=bad path,api_key=sk-live-123")
    assert "sk-live-123" not in str(caught.value)


def test_the_model_id_leaves_secrets_out_and_an_explicit_id_wins() -> None:
    spec = ModelSpec(factory="pkg.mod:make", args={"model": "gpt-x", "api_key": "sk-1",
                                                   "auth_token": "t"})
    assert spec.model_id() == 'pkg.mod:make(model="gpt-x")'
    assert "sk-1" not in spec.describe()
    assert "***" in spec.describe()
    assert spec.masked_args() == {"model": "gpt-x", "api_key": "***", "auth_token": "***"}
    assert ModelSpec(factory="pkg.mod:make", id="mine").model_id() == "mine"


def test_secrets_are_masked_at_any_depth_and_in_urls() -> None:
    """A header's Authorization and a URL's user:password@ are secrets too: never in the model
    id, masked in masked_args, describe and mask_secrets."""
    spec = ModelSpec(factory="pkg.mod:make", args={
        "model": "m", "api_key": "sk-SECRET1",
        "default_headers": {"Authorization": "Bearer sk-SECRET2", "X-Team": "sales"},
        "base_url": "https://u:sk-SECRET3@h.example/v1", "urls": ["http://a:sk-SECRET4@h"]})
    secrets = ("sk-SECRET1", "sk-SECRET2", "sk-SECRET3", "sk-SECRET4")
    assert spec.model_id() == ('pkg.mod:make(base_url="https://h.example/v1",'
                               'default_headers={"X-Team":"sales"},model="m",urls=["http://h"])')
    assert spec.masked_args() == {
        "model": "m", "api_key": "***",
        "default_headers": {"Authorization": "***", "X-Team": "sales"},
        "base_url": "https://***@h.example/v1", "urls": ["http://***@h"]}
    shown = spec.describe()
    assert not any(secret in shown for secret in secrets), shown
    leaked = mask_secrets("401: key sk-SECRET2 for https://u:sk-SECRET3@h, sk-SECRET4, "
                          "sk-SECRET1; Bearer sk-SECRET2", spec.args)
    assert not any(secret in leaked for secret in secrets), leaked
    assert redactor(spec.args)("see https://x:pw@other.example") == "see https://***@other.example"


@pytest.mark.parametrize("data", [{}, {"factory": "a:b", "entry_point": "x"},
                                  {"factory": "no colon"}, {"factory": "a:b", "extra": 1}])
def test_a_spec_names_one_importable_thing(data: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"factory|entry_point|extra"):
        ModelSpec.model_validate(data)


def test_a_factory_loads_a_chat_model() -> None:
    from langchain_core.language_models import BaseChatModel

    model = load_model(ModelSpec(factory="teamsim_test_models:echo_model",
                                 args={"signature": "R"}), "here")
    assert isinstance(model, BaseChatModel)


@pytest.mark.parametrize(("factory", "args", "message"), [
    ("no_such_module_xyz:make", {}, r"^here: cannot import 'no_such_module_xyz' .*no module "
                                    r"named 'no_such_module_xyz'"),
    ("teamsim_test_models:nope", {}, r"^here: .*has no attribute 'nope'"),
    ("teamsim_test_models:NOT_CALLABLE", {}, r"^here: .*42 \(of type int\), which cannot be "
                                             "called"),
    ("teamsim_test_models:raising_model", {"api_key": "sk-9"},
     r"^here: the factory teamsim_test_models:raising_model raised RuntimeError: bad "
     r"credentials \*\*\*; check its arguments$"),
    ("teamsim_test_models:not_a_model", {}, r"^here: .* returned 'hello' \(of type str\), not "
                                            "a LangChain chat model"),
    ("teamsim_test_models:echo_model", {"nope": 1}, r"^here: the factory .* raised "),
])
def test_each_bad_factory_is_one_line_naming_it(
    factory: str, args: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        load_model(ModelSpec(factory=factory, args=args), "here")  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)
    assert "sk-9" not in str(caught.value)


def test_an_unknown_entry_point_is_named() -> None:
    with pytest.raises(ValidationError, match=r"no entry point 'nope' in the group "
                                              r"'teamsim.models'"):
        load_model(ModelSpec(entry_point="nope"), "here")


def test_a_scenario_factory_needs_consent_and_replay_imports_nothing() -> None:
    spec = ModelSpec(factory="no_such_module_xyz:make")
    refused = ModelResolver(allow_imports=False, replay=False, source="x.yaml")
    with pytest.raises(ValidationError, match=r"^x.yaml: teammates\[0\].model \(Riley\): the "
                                              r"scenario names the factory no_such_module_xyz:"
                                              r"make, .*--allow-imports"):
        refused.choices({"Riley": spec})
    replay = ModelResolver(allow_imports=False, replay=True).choices({"Riley": spec})
    assert replay["Riley"].model is None
    assert replay["Riley"].model_id == "no_such_module_xyz:make"


def test_a_spec_the_user_gave_is_consent() -> None:
    spec = ModelSpec(factory="teamsim_test_models:echo_model")
    chosen = ModelResolver(allow_imports=False, replay=False, consented=[spec]).choices(
        {"Riley": spec, "Sam": None})
    assert list(chosen) == ["Riley"]
    assert chosen["Riley"].model is not None


class NoDraft:
    pass


class WrongDraft:
    def draft(self, request: DraftRequest) -> str:
        return "hi"


class WrongReview:
    def review(self, request: ReviewRequest) -> Draft:
        raise NotImplementedError


class GoodReview:
    def review(self, request: ReviewRequest) -> Review:
        raise NotImplementedError


def test_agents_given_as_objects_are_checked() -> None:
    teammates = ["Riley", "Sam"]
    check_agents("drafters", {"Riley": FakeDrafter(lambda r: Draft(subject=None, body="x"))},
                 teammates)
    check_agents("reviewers", {"Sam": GoodReview()}, teammates)
    with pytest.raises(ValidationError, match=r"drafters: 'Rilley' is not a teammate; the "
                                              r"teammates are 'Riley', 'Sam'"):
        check_agents("drafters", {"Rilley": NoDraft()}, teammates)
    with pytest.raises(ValidationError, match=r"drafters\['Riley'\]: a NoDraft has no draft\(\)"):
        check_agents("drafters", {"Riley": NoDraft()}, teammates)
    with pytest.raises(ValidationError, match=r"WrongDraft.draft\(\) is annotated to return "
                                              r"str; it must return teamsim's Draft"):
        check_agents("drafters", {"Riley": WrongDraft()}, teammates)
    with pytest.raises(ValidationError, match=r"reviewers\['Sam'\]: a NoDraft has no review"):
        check_agents("reviewers", {"Sam": NoDraft()}, teammates)
    with pytest.raises(ValidationError, match=r"must return teamsim's Review"):
        check_agents("reviewers", {"Sam": WrongReview()}, teammates)


def test_model_metrics_are_zero_without_models() -> None:
    metrics = model_metrics({})
    assert {name: metrics[name] for name in MODEL_METRICS} == dict.fromkeys(MODEL_METRICS, 0)
    assert metrics["model_usage"] == {}
