"""Chat model factories for the roof's tests: a langchain-core fake that drafts and reviews
from the prompt alone (no network), and factories that go wrong in each way a spec can.

The tests put this folder on ``sys.path`` and name ``teamsim_test_models:echo_model``.
"""

from __future__ import annotations

import time
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

CALLS: list[str] = []
"""Every prompt's last line, in call order (a test reads how many calls were made)."""


class EchoChatModel(BaseChatModel):
    """Drafts a short message naming the contact, and passes every review."""

    latency: float = 0.0
    signature: str = "Echo"

    @property
    def _llm_type(self) -> str:
        return "teamsim-test-echo"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        if self.latency:
            time.sleep(self.latency)
        system = str(messages[0].content)
        prompt = str(messages[-1].content)
        CALLS.append(prompt.splitlines()[0] if prompt else "")
        if "reviewing a teammate's outreach draft" in system:
            text = "VERDICT: pass"
        else:
            first = next((line.split(":", 1)[1].strip() for line in prompt.splitlines()
                          if line.startswith("First name:")), "there")
            subject = "SUBJECT: A quick idea\n" if "SUBJECT:" in system else ""
            text = (f"{subject}BODY:\nHi {first}, a short note from {self.signature}. "
                    "Would a ten-minute call next week help?\n\nReply STOP to opt out.")
        tokens_in = sum(len(str(m.content).split()) for m in messages)
        tokens_out = len(text.split())
        message = AIMessage(content=text, usage_metadata={
            "input_tokens": tokens_in, "output_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out})
        return ChatResult(generations=[ChatGeneration(message=message)])


def echo_model(latency: float = 0.0, signature: str = "Echo", api_key: str = "") -> EchoChatModel:
    """The echo model (``api_key`` is taken and ignored, as a real provider's would be)."""
    return EchoChatModel(latency=latency, signature=signature)


def raising_model(api_key: str = "") -> EchoChatModel:
    """A factory that fails, naming its (secret) argument."""
    raise RuntimeError(f"bad credentials {api_key}")


def not_a_model() -> str:
    """A factory that returns something else than a chat model."""
    return "hello"


NOT_CALLABLE = 42


class LeakyChatModel(BaseChatModel):
    """Every call fails with an error that quotes the API key (as some providers' do)."""

    key: str = ""

    @property
    def _llm_type(self) -> str:
        return "teamsim-test-leaky"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        raise PermissionError(f"401 invalid api key {self.key}")


def leaky_model(api_key: str = "", base_url: str = "") -> LeakyChatModel:
    """A model whose every call fails, quoting ``api_key`` in the error."""
    return LeakyChatModel(key=api_key)
