"""The model client a teammate's drafter and reviewer share: the canonical prompt key, the
cassette, retries with seeded backoff, token accounting and the prefetch memo.

**Key.** A prompt's key is the SHA-256 of the canonical JSON (sorted keys, no whitespace) of
``{"model_id", "purpose", "messages": [{"role", "content"}...], "schema": {"name",
"json_schema"} | null}``: the same prompt to the same model gives the same key in every
process (no ``hash()``, no object reprs). The schema part is the schema's ``key_schema`` when
it has one (a JSON schema written out, which pydantic upgrades cannot change), else its
``model_json_schema()``. The model's own parameters (temperature...) are not read from the
model (a replay has none): name them in ``model_id``.

**Retries.** A try that times out (``TimeoutError``, or an exception class whose name contains
``Timeout``) or is rate limited (``status_code``/``status`` 429, or a class name containing
``RateLimit``) is tried again after ``min(max_backoff, backoff * 2**n) * jitter`` seconds,
where ``n`` counts the tries so far and ``jitter`` in [0.5, 1) comes from
``random.Random(f"{seed}:{key}:{n}")``: the waits are the same in every run. Any other
exception ends the work at once. Wall-clock waits never change simulated time.

**Prefetch.** A call made from a thread other than the teammate's home thread (the thread that
built it) is a call made ahead of time: its result (or failure) is kept, with what it used of
the cassette, until the home thread asks for the same key; that request gets it without a
second model call, and only then are its cassette uses settled (so replies are recorded in the
order the run consumed them). Model spend is counted when it happens. A call made ahead of
time whose prompt is recorded (or any, in replay mode) only reads the cassette and keeps
nothing: the request made later reads it again, for real.
"""

from __future__ import annotations

import functools
import hashlib
import random
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from teamsim.agents._cassette import Cassette, CassetteMiss, Entry, Reply, ToolCall, dumps
from teamsim.agents._settings import ModelSettings
from teamsim.agents._types import AgentFailure
from teamsim.agents._usage import ModelUsage

__all__ = ["ModelClient", "Prompt", "prompt_key", "transient_reason"]

T = TypeVar("T")
Role = Literal["system", "human"]

# The longest excerpt of a prompt kept in a cassette entry and quoted in a CassetteMiss.
_EXCERPT_CHARS = 400


@dataclass(frozen=True, slots=True, kw_only=True)
class Prompt:
    """One model call: its messages, the structured-output schema (if any) and what it is for.

    Attributes:
        purpose: ``draft`` or ``review``.
        messages: ``(role, content)`` pairs, ``role`` being ``system`` or ``human``.
        schema: the pydantic model the reply is bound to as a tool, or ``None`` for text.
        where: what the call is about, for messages (``step 's1' of sequence 'Welcome'...``).
    """

    purpose: str
    messages: tuple[tuple[Role, str], ...]
    schema: type[BaseModel] | None = None
    where: str = ""

    def excerpt(self) -> str:
        """The start of the first human message (the request itself)."""
        text = next((c for role, c in self.messages if role == "human"), "")
        return text if len(text) <= _EXCERPT_CHARS else text[:_EXCERPT_CHARS] + "..."


@functools.lru_cache(maxsize=4096)
def prompt_key(model_id: str, prompt: Prompt) -> str:
    """The canonical key of ``prompt`` sent to ``model_id`` (hex SHA-256; kept for the
    prompts asked again, as every draft's first prompt is: once ahead, once for real)."""
    schema = None
    if prompt.schema is not None:
        # A schema may say what of it the key holds (``key_schema``): see ReviewVerdict.
        json_schema = getattr(prompt.schema, "key_schema", None)
        schema = {"name": prompt.schema.__name__,
                  "json_schema": json_schema or prompt.schema.model_json_schema()}
    canonical = dumps({
        "model_id": model_id,
        "purpose": prompt.purpose,
        "messages": [{"role": role, "content": content} for role, content in prompt.messages],
        "schema": schema,
    })
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def transient_reason(err: BaseException) -> str | None:
    """``timed out`` or ``rate limited`` for an error worth another try, else ``None``."""
    names = [cls.__name__ for cls in type(err).__mro__]
    if isinstance(err, TimeoutError) or any("Timeout" in name for name in names):
        return "timed out"
    response = getattr(err, "response", None)
    statuses = (getattr(err, "status_code", None), getattr(err, "status", None),
                getattr(response, "status_code", None))
    if 429 in statuses or any("RateLimit" in name for name in names):
        return "rate limited"
    return None


@dataclass(slots=True)
class _Counters:
    """Mutable usage totals (the client's lock guards them)."""

    model_calls: int = 0
    cache_hits: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    replayed_in: int = 0
    replayed_out: int = 0
    failures: int = 0


@dataclass(slots=True)
class _Slot:
    """Work done ahead of time, waiting for the request that consumes it."""

    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None
    settle: list[Callable[[], None]] = field(default_factory=list)


class Session:
    """One draft's or review's use of the client: looks up the cassette, calls the model.

    A home-thread session uses the cassette and counts as it goes; a session made ahead of time
    sets its cassette uses aside and keeps them in its slot, to settle when consumed; a
    ``peek`` session (ahead of time, all recorded) only reads the cassette: it neither calls
    the model nor uses anything up, and the request made later does the work for real.
    """

    def __init__(self, client: ModelClient, slot: _Slot | None, *, peek: bool = False) -> None:
        self._client = client
        self._slot = slot
        self._peek = peek

    def has_recording(self, prompt: Prompt) -> bool:
        """Whether the cassette holds the next reply to ``prompt``."""
        cassette = self._client.cassette
        return cassette is not None and cassette.has_next(self._client.key(prompt))

    def ask(self, prompt: Prompt, *, tries_before: int, tries_left: int) -> tuple[AIMessage, int]:
        """The model's reply to ``prompt`` and the tries it took (recorded tries on a replay).

        Raises:
            AgentFailure: the call failed (its ``tries`` count this call's tries only).
            CassetteMiss: replay mode, and no reply is recorded.
        """
        client = self._client
        key = client.key(prompt)
        cassette = client.cassette
        entry = None
        if cassette is not None and self._peek:
            entry = cassette.peek(key)
            if entry is None:
                raise client.miss(prompt, key)
            return _outcome(entry)
        if cassette is not None:
            entry = cassette.next_entry(key, reserve=self._slot is not None)
        if entry is not None:
            if self._slot is not None and cassette is not None:
                self._slot.settle.append(_settler(client, cassette, key, entry))
            else:
                client.count_hit(entry)
            return _outcome(entry)
        if (cassette is not None and cassette.mode == "replay") or client.model is None:
            raise client.miss(prompt, key)
        try:
            message, tries = client.call(prompt, key, tries_before=tries_before,
                                         tries_left=tries_left)
        except AgentFailure as failure:
            self._record(prompt, key, tries=failure.tries, failure=failure.reason)
            raise
        self._record(prompt, key, tries=tries, reply=_reply(message))
        return message, tries

    def _record(self, prompt: Prompt, key: str, *, tries: int, reply: Reply | None = None,
                failure: str | None = None) -> None:
        cassette = self._client.cassette
        if cassette is None:
            return
        entry = Entry(key=key, model_id=self._client.model_id, teammate=self._client.name,
                      purpose=prompt.purpose, where=prompt.where, prompt=prompt.excerpt(),
                      tries=tries, reply=reply, failure=failure)
        if self._slot is not None:
            self._slot.settle.append(lambda: cassette.add(entry))
        else:
            cassette.add(entry)


class ModelClient:
    """A chat model, its cassette and its accounting, shared by one teammate's drafter and
    reviewer. Thread-safe: model calls happen outside the lock."""

    def __init__(self, model: BaseChatModel | None, *, name: str, model_id: str,
                 settings: ModelSettings, cassette: Cassette | None, seed: int,
                 sleep: Callable[[float], None],
                 redact: Callable[[str], str] = str) -> None:
        self.model = model
        self.redact = redact
        """Masks secrets (API keys, URL passwords) in a failure's reason: a provider's error
        text may quote them, and reasons go into events, the cassette and the store."""
        self.name = name
        self.model_id = model_id
        self.settings = settings
        self.cassette = cassette
        self._seed = seed
        self._sleep = sleep
        self._lock = threading.Lock()
        self._counts = _Counters()
        self._memo: dict[str, deque[_Slot]] = defaultdict(deque)
        self._home = threading.current_thread()
        self._tools: bool | None = None
        self._runnables: dict[str, Runnable[Any, Any]] = {}

    def key(self, prompt: Prompt) -> str:
        """The cassette key of ``prompt`` for this client's model."""
        return prompt_key(self.model_id, prompt)

    def tool_calling(self, schema: type[BaseModel]) -> bool | None:
        """Whether the model answers in ``schema`` through a bound tool (its ``bind_tools``
        works); ``None`` without a model (a replay-only teammate)."""
        if self.model is None:
            return None
        with self._lock:
            if schema.__name__ in self._runnables:
                return True
            if self._tools is False:
                return False
        try:
            runnable = self.model.with_structured_output(schema, include_raw=True)
        except NotImplementedError:
            with self._lock:
                self._tools = False
            return False
        if type(self.model).with_structured_output is BaseChatModel.with_structured_output:
            # LangChain's own with_structured_output binds the schema as the one tool the
            # model must call; its include_raw wrapper then runs two RunnableParallel steps
            # that each start a thread pool per call (about 2 ms of CPU and a lock wait per
            # review, measured). Bind the same tool directly: the reply is the raw message
            # either way, and parse_verdict reads its tool call. Providers that override
            # with_structured_output (OpenAI's JSON schema mode...) keep their own.
            runnable = self.model.bind_tools(
                [schema], tool_choice="any",
                ls_structured_output_format={"kwargs": {"method": "function_calling"},
                                             "schema": schema})
        with self._lock:
            self._runnables[schema.__name__] = runnable
        return True

    # The work of one draft or review, done now or ahead of time.

    def work(self, prompt: Prompt, job: Callable[[Session], T]) -> T:
        """Run ``job`` (a draft or review whose first prompt is ``prompt``) or hand over the
        result of the same work done ahead of time; see the module's docstring."""
        key = self.key(prompt)
        if not self._at_home():
            cassette = self.cassette
            if cassette is not None and (cassette.mode == "replay" or cassette.has_next(key)):
                return job(Session(self, None, peek=True))
            return self._ahead(key, job)
        with self._lock:
            queue = self._memo.get(key)
            slot = queue.popleft() if queue else None
            if queue is not None and not queue:
                del self._memo[key]
        if slot is None:
            try:
                return job(Session(self, None))
            except AgentFailure:
                self._count_failure()
                raise
        slot.done.wait()
        for settle in slot.settle:
            settle()
        if slot.error is not None:
            if isinstance(slot.error, AgentFailure):
                self._count_failure()
            raise slot.error
        result: T = slot.result
        return result

    def _ahead(self, key: str, job: Callable[[Session], T]) -> T:
        with self._lock:
            queue = self._memo[key]
            pending = queue[0] if queue else None
            if pending is None:
                slot = _Slot()
                queue.append(slot)
        if pending is not None:
            # The same work was asked for ahead already and not consumed yet (the scheduler
            # guessed a tick's work, then its batch asked again): one call serves both.
            pending.done.wait()
            if pending.error is not None:
                raise pending.error
            result: T = pending.result
            return result
        try:
            slot.result = job(Session(self, slot))
            return slot.result  # type: ignore[no-any-return]
        except BaseException as err:
            slot.error = err
            raise
        finally:
            slot.done.set()

    def _at_home(self) -> bool:
        current = threading.current_thread()
        if current is self._home:
            return True
        if not self._home.is_alive():  # built by a thread that has ended: adopt this one
            self._home = current
            return True
        return False

    # Model calls with retries, and the accounting.

    def call(self, prompt: Prompt, key: str, *, tries_before: int,
             tries_left: int) -> tuple[AIMessage, int]:
        """Call the model, retrying timeouts and rate limits; the reply and tries taken."""
        runnable = self._runnable(prompt)
        messages = _messages(prompt)
        for attempt in range(tries_left):
            with self._lock:
                self._counts.model_calls += 1
            try:
                output = runnable.invoke(messages)
            except Exception as err:  # a provider's error is the model's failure, not ours
                reason = transient_reason(err)
                if reason is None:
                    raise AgentFailure(self.redact(f"{type(err).__name__}: {_first_line(err)}"),
                                       tries=attempt + 1) from err
                if attempt + 1 >= tries_left:
                    raise AgentFailure(self.redact(reason), tries=attempt + 1) from err
                self._sleep(self.backoff(key, tries_before + attempt))
                continue
            message = output.get("raw") if isinstance(output, dict) else output
            if not isinstance(message, AIMessage):
                raise AgentFailure(f"malformed reply: the model returned "
                                   f"{type(message).__name__}, not an AIMessage",
                                   tries=attempt + 1)
            tokens_in, tokens_out = usage_tokens(message)
            with self._lock:
                self._counts.tokens_in += tokens_in
                self._counts.tokens_out += tokens_out
            return message, attempt + 1
        raise AgentFailure("no tries left", tries=max(tries_left, 1))

    def backoff(self, key: str, tries: int) -> float:
        """Seconds to wait after ``tries`` failed tries of ``key`` (seeded, capped)."""
        settings = self.settings
        base = min(settings.max_backoff_seconds, settings.backoff_seconds * 2.0 ** tries)
        return base * random.Random(f"{self._seed}:{key}:{tries}").uniform(0.5, 1.0)

    def _runnable(self, prompt: Prompt) -> Runnable[Any, Any]:
        if self.model is None:  # ask() checks first; a model-less client only replays
            raise ValueError("this teammate has no model to call")
        schema = prompt.schema
        if schema is None or not self.tool_calling(schema):
            return self.model
        with self._lock:
            return self._runnables[schema.__name__]

    def miss(self, prompt: Prompt, key: str) -> CassetteMiss:
        """The error for a prompt the replay cassette has no reply to."""
        return CassetteMiss(
            f"cassette has no recorded reply for teammate {self.name!r} ({prompt.purpose}, "
            f"{prompt.where}; model {self.model_id!r}, key {key[:12]}); prompt begins: "
            f"{prompt.excerpt()[:160]!r}; record it with cassette mode 'record' or 'auto'")

    def count_hit(self, entry: Entry) -> None:
        """Count a reply served from the cassette."""
        tokens_in, tokens_out = (0, 0)
        if entry.reply is not None:
            tokens_in, tokens_out = _tokens(entry.reply.usage_metadata)
        with self._lock:
            self._counts.cache_hits += 1
            self._counts.replayed_in += tokens_in
            self._counts.replayed_out += tokens_out

    def _count_failure(self) -> None:
        with self._lock:
            self._counts.failures += 1

    def usage(self) -> ModelUsage:
        """The totals so far; cost from the integer token totals (so the order calls finished
        in cannot change the sum's rounding)."""
        settings = self.settings
        with self._lock:
            counts = self._counts
            unused = sum(len(queue) for queue in self._memo.values())
            return ModelUsage(
                model_calls=counts.model_calls,
                cache_hits=counts.cache_hits,
                tokens_in=counts.tokens_in,
                tokens_out=counts.tokens_out,
                cost=(counts.tokens_in * settings.price_in_per_1m
                      + counts.tokens_out * settings.price_out_per_1m) / 1_000_000,
                replayed_tokens_in=counts.replayed_in,
                replayed_tokens_out=counts.replayed_out,
                failures=counts.failures,
                prefetch_unused=unused,
            )


def usage_tokens(message: AIMessage) -> tuple[int, int]:
    """Input and output tokens of a reply, from its ``usage_metadata`` (0 when absent)."""
    return _tokens(message.usage_metadata)


def _tokens(usage: Any) -> tuple[int, int]:
    if not usage:
        return 0, 0
    tokens_in, tokens_out = usage.get("input_tokens", 0), usage.get("output_tokens", 0)
    return (tokens_in if isinstance(tokens_in, int) else 0,
            tokens_out if isinstance(tokens_out, int) else 0)


def _settler(client: ModelClient, cassette: Cassette, key: str,
             entry: Entry) -> Callable[[], None]:
    def settle() -> None:
        cassette.settle(key)
        client.count_hit(entry)

    return settle


def _outcome(entry: Entry) -> tuple[AIMessage, int]:
    """The recorded reply as an ``AIMessage``, or the recorded failure raised."""
    if entry.reply is None:
        raise AgentFailure(entry.failure or "failed", tries=entry.tries)
    reply = entry.reply
    message = AIMessage(
        content=reply.content,  # type: ignore[arg-type]
        tool_calls=[{"name": c.name, "args": c.args, "id": c.id, "type": "tool_call"}
                    for c in reply.tool_calls],
        usage_metadata=reply.usage_metadata,
    )
    return message, entry.tries


def _reply(message: AIMessage) -> Reply:
    """What a cassette keeps of a live reply (content blocks that are not plain JSON are kept
    as their text, which is all the parsers read)."""
    usage = dict(message.usage_metadata) if message.usage_metadata else None
    calls = [ToolCall(name=c["name"], args=c["args"], id=c.get("id")) for c in message.tool_calls]
    try:
        return Reply.model_validate({"content": message.content, "tool_calls": calls,
                                     "usage_metadata": usage})
    except PydanticError:
        return Reply.model_validate({"content": str(message.text), "tool_calls": calls,
                                     "usage_metadata": usage})


def _messages(prompt: Prompt) -> list[BaseMessage]:
    return [SystemMessage(content) if role == "system" else HumanMessage(content)
            for role, content in prompt.messages]


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else "(no message)"
