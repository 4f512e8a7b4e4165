"""What a span's attributes say, read the way the two conventions agents are instrumented with write them: the
OpenTelemetry GenAI semantic conventions (``gen_ai.*``) and OpenInference (``openinference.span.kind``,
``llm.*``, ``input.value``/``output.value``). ``normalize`` turns one span's attributes (and its events) into the
columns ``observe.spans`` has: kind, model, provider, tokens, cost, input, output, session, user and agent. Nothing
is taken out of the attributes: the columns are read from them, the map is stored whole.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

KINDS = ("llm", "embedding", "tool", "retriever", "agent", "chain", "memory", "guardrail", "evaluator", "other")

# OpenInference's span kinds (openinference.span.kind)
_OPENINFERENCE = {
    "llm": "llm",
    "embedding": "embedding",
    "tool": "tool",
    "retriever": "retriever",
    "reranker": "retriever",
    "agent": "agent",
    "chain": "chain",
    "guardrail": "guardrail",
    "evaluator": "evaluator",
}
# GenAI's operations (gen_ai.operation.name)
_GENAI = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "completion": "llm",
    "embeddings": "embedding",
    "embedding": "embedding",
    "execute_tool": "tool",
    "invoke_agent": "agent",
    "create_agent": "agent",
    "retrieval": "retriever",
    "retrieve": "retriever",
}
KIND_KEYS = ("lakehouse.span.kind", "openinference.span.kind", "gen_ai.operation.name")
MODEL_KEYS = ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name", "embedding.model_name")
PROVIDER_KEYS = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
INPUT_TOKEN_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
OUTPUT_TOKEN_KEYS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion")
TOTAL_TOKEN_KEYS = ("llm.token_count.total", "gen_ai.usage.total_tokens")
COST_KEYS = ("lakehouse.cost", "gen_ai.usage.cost", "llm.cost.total")
INPUT_KEYS = ("input.value", "gen_ai.input.messages", "gen_ai.prompt", "lakehouse.input")
OUTPUT_KEYS = ("output.value", "gen_ai.output.messages", "gen_ai.completion", "lakehouse.output")
SESSION_KEYS = ("session.id", "gen_ai.conversation.id", "lakehouse.session.id")
USER_KEYS = ("user.id", "enduser.id", "lakehouse.user.id")
AGENT_KEYS = ("gen_ai.agent.name", "agent.name", "lakehouse.agent.name")
# events that carry a prompt or a completion (GenAI's earlier content events)
_INPUT_EVENTS = {"gen_ai.content.prompt": "gen_ai.prompt"}
_OUTPUT_EVENTS = {"gen_ai.content.completion": "gen_ai.completion"}


@dataclass(frozen=True)
class Normalized:
    kind: str
    model: str | None
    provider: str | None
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    cost: float | None  # as the span reported it (None: to be priced)
    input: str | None
    output: str | None
    session_id: str | None
    user_id: str | None
    agent_name: str | None


def kind_of(attributes: Mapping[str, Any], declared: str | None = None) -> str:
    """The span's kind: ``declared`` (the JSON API's), else ours, OpenInference's, GenAI's operation, else guessed
    from what the span carries (a model: ``llm``; a tool name: ``tool``), else ``other``."""
    if declared in KINDS:
        return declared
    for key in KIND_KEYS:
        value = attributes.get(key)
        if isinstance(value, str):
            name = value.strip().lower()
            if key == "lakehouse.span.kind" and name in KINDS:
                return name
            if key == "openinference.span.kind" and name in _OPENINFERENCE:
                return _OPENINFERENCE[name]
            if key == "gen_ai.operation.name" and name in _GENAI:
                return _GENAI[name]
    if any(isinstance(attributes.get(k), str) for k in ("gen_ai.request.model", "llm.model_name")):
        return "llm"
    if isinstance(attributes.get("gen_ai.tool.name"), str) or isinstance(attributes.get("tool.name"), str):
        return "tool"
    return "other"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)


def _first_text(attributes: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    for key in keys:
        value = attributes.get(key)
        if value is not None and value != "":
            return _text(value)
    return None


def _first_int(attributes: Mapping[str, Any], keys: Sequence[str]) -> int | None:
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and 0 <= value < 2**63:
            return value
        if isinstance(value, float) and math.isfinite(value) and 0 <= value < 2**63 and value == int(value):
            return int(value)
        if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 19:
            return int(value)
    return None


def _first_number(attributes: Mapping[str, Any], keys: Sequence[str]) -> float | None:
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float) and math.isfinite(value) and value >= 0:
            return float(value)
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                continue
            if math.isfinite(number) and number >= 0:
                return number
    return None


def _from_events(events: Sequence[Mapping[str, Any]], names: Mapping[str, str]) -> str | None:
    for event in events:
        key = names.get(str(event.get("name")))
        if key is not None:
            value = (event.get("attributes") or {}).get(key)
            if value is not None:
                return _text(value)
    return None


def normalize(
    attributes: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]] = (),
    resource: Mapping[str, Any] | None = None,
    declared_kind: str | None = None,
) -> Normalized:
    """The columns of one span, read from its attributes (then its events for a prompt or completion, then its
    resource for the session, user and agent that a whole process shares)."""
    shared = resource or {}
    input_tokens = _first_int(attributes, INPUT_TOKEN_KEYS)
    output_tokens = _first_int(attributes, OUTPUT_TOKEN_KEYS)
    total = _first_int(attributes, TOTAL_TOKEN_KEYS)
    if total is None and (input_tokens is not None or output_tokens is not None):
        total = (input_tokens or 0) + (output_tokens or 0)
    return Normalized(
        kind=kind_of(attributes, declared_kind),
        model=_first_text(attributes, MODEL_KEYS),
        provider=_first_text(attributes, PROVIDER_KEYS),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=total,
        cost=_first_number(attributes, COST_KEYS),
        input=_first_text(attributes, INPUT_KEYS) or _from_events(events, _INPUT_EVENTS),
        output=_first_text(attributes, OUTPUT_KEYS) or _from_events(events, _OUTPUT_EVENTS),
        session_id=_first_text(attributes, SESSION_KEYS) or _first_text(shared, SESSION_KEYS),
        user_id=_first_text(attributes, USER_KEYS) or _first_text(shared, USER_KEYS),
        agent_name=_first_text(attributes, AGENT_KEYS) or _first_text(shared, AGENT_KEYS),
    )
