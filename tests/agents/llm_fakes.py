"""Fake chat models for the model-backed teammates' tests (langchain-core's fakes, no network)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from pydantic import ConfigDict, PrivateAttr

EMAIL_REPLY = "SUBJECT: Faster project plans\nBODY:\nHi Ada,\n\nWe help renovation teams plan " \
    "projects faster.\n\nBest,\nRobin\n\nReply STOP to opt out."


def reply(text: str = EMAIL_REPLY, *, tokens_in: int = 100, tokens_out: int = 20,
          tool_calls: list[dict[str, Any]] | None = None) -> AIMessage:
    """An AI reply with ``usage_metadata``."""
    return AIMessage(
        content=text,
        tool_calls=tool_calls or [],
        usage_metadata={"input_tokens": tokens_in, "output_tokens": tokens_out,
                        "total_tokens": tokens_in + tokens_out},
    )


def verdict_call(verdict: str, *reasons: str, tokens_out: int = 12) -> AIMessage:
    """A reply that calls the ``ReviewVerdict`` tool."""
    return reply("", tokens_in=80, tokens_out=tokens_out, tool_calls=[{
        "name": "ReviewVerdict", "args": {"verdict": verdict, "reasons": list(reasons)},
        "id": "call_1", "type": "tool_call"}])


def fake(*replies: AIMessage | str) -> GenericFakeChatModel:
    """langchain-core's fake chat model answering ``replies`` in order."""
    return GenericFakeChatModel(messages=iter(replies))


class ToolFake(GenericFakeChatModel):
    """A fake with tool calling: ``bind_tools`` returns the fake itself, whose replies carry
    ``tool_calls``."""

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: str | None = None,
                   **kwargs: Any) -> Runnable[LanguageModelInput, AIMessage]:
        return self


class Scripted(BaseChatModel):
    """Answers from a script: each item an exception to raise or a reply to return. Records
    the prompts it was sent (as text)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    script: list[Any]
    _prompts: list[list[tuple[str, str]]] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def prompts(self) -> list[list[tuple[str, str]]]:
        return self._prompts

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        self._prompts.append([(m.type, str(m.text)) for m in messages])
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return ChatResult(generations=[ChatGeneration(message=item)])


class Echo(BaseChatModel):
    """Drafts from the prompt itself (the contact and step named in it), so every prompt
    gets its own reply; with ``seed``, each call first sleeps a random few milliseconds from
    a local seeded Random (calls then finish in a shuffled order). Counts its calls."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    seed: int | None = None
    _calls: list[str] = PrivateAttr(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _random: random.Random = PrivateAttr(default_factory=random.Random)

    def model_post_init(self, context: Any) -> None:
        self._random = random.Random(self.seed)

    @property
    def _llm_type(self) -> str:
        return "echo"

    @property
    def calls(self) -> list[str]:
        return self._calls

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        text = str(messages[-1].text)
        with self._lock:
            self._calls.append(text)
            pause = self._random.uniform(0, 0.02) if self.seed is not None else 0.0
        time.sleep(pause)
        who = _line(text, "Contact")
        step = _line(text, "Step")
        body = f"Hi {who.split()[0]},\n\nAbout {step}: {len(text)} characters of prompt."
        if "Channel: email" in text:
            body = f"SUBJECT: {step}\nBODY:\n{body}\n\nReply STOP to opt out."
        message = reply(body, tokens_in=len(text.split()), tokens_out=len(body.split()))
        return ChatResult(generations=[ChatGeneration(message=message)])


def _line(text: str, label: str) -> str:
    for line in text.splitlines():
        if line.startswith(f"{label}: "):
            return line.removeprefix(f"{label}: ")
    return "?"


class Waits:
    """A ``sleep`` that records the waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def threads_run(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run ``jobs`` concurrently on worker threads; their results (or exceptions)."""
    results: list[Any] = [None] * len(jobs)

    def run(index: int) -> None:
        try:
            results[index] = jobs[index]()
        except Exception as err:
            results[index] = err

    workers = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


class RateLimited(Exception):
    """A provider's 429."""

    status_code = 429


class APITimeoutError(Exception):
    """A provider's timeout class (its name says Timeout)."""


def forever(item: Any) -> Iterator[Any]:
    while True:
        yield item
