"""The `prompts` wire: answered permission prompts in, typed; opened prompts and outcomes out.

- `answer_from_wire(doc)` validates one `pendingDecisions` document (again, on the laptop: never
  trust the wire) into a `PromptAnswer`, or raises `AnswerRejected` with a readable reason;
- `PendingDecisions` is the live subscription, typed: each update is the list of answered
  prompts not yet settled. A document that does not validate is logged once
  (`prompt.malformed_answer`) and left out: the laptop never applies what it cannot read, and
  the prompt expires on its own. An update that is not a list is logged and skipped.
- `opened_to_wire(prompt)` is an `OpenedPrompt` as `openPrompt` takes it.
"""

from __future__ import annotations

from typing import Any, Protocol

import structlog

from tina.messages import PROMPT_ANSWERS, PROMPT_MESSAGE_MAX, OpenedPrompt, PromptAnswer

from .wire import make_converter

log = structlog.get_logger("tina.prompts")
_conv = make_converter()

MAX_ID = 128
MAX_NAME = 200


class AnswerRejected(Exception):
    """A `pendingDecisions` document the laptop cannot apply."""


def prompt_id_from_wire(doc: Any) -> str | None:
    prompt_id = doc.get("promptId") if isinstance(doc, dict) else None
    if isinstance(prompt_id, str) and 0 < len(prompt_id) <= MAX_ID:
        return prompt_id
    return None


def _optional_text(doc: dict[str, Any], key: str, limit: int) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise AnswerRejected(f"{key}: expected a string, got {type(value).__name__}")
    if len(value) > limit:
        raise AnswerRejected(f"{key}: longer than {limit} characters")
    if any((ord(c) < 32 and c not in "\n\t") or ord(c) == 127 for c in value):
        raise AnswerRejected(f"{key}: control characters")
    return value


def answer_from_wire(doc: Any) -> PromptAnswer:
    """Validate a `pendingDecisions` document; raises `AnswerRejected` and nothing else."""
    if not isinstance(doc, dict):
        raise AnswerRejected("answer document: expected an object")
    prompt_id = prompt_id_from_wire(doc)
    if prompt_id is None:
        raise AnswerRejected("promptId: missing or invalid")
    decision = doc.get("decision")
    for kind in PROMPT_ANSWERS:
        if decision == kind:
            break
    else:
        raise AnswerRejected(f"decision: expected one of {', '.join(PROMPT_ANSWERS)}")
    message = _optional_text(doc, "message", PROMPT_MESSAGE_MAX)
    who = _optional_text(doc, "answeredByName", MAX_NAME)
    return PromptAnswer(
        prompt_id=prompt_id,
        decision=kind,
        message=message if kind == "deny" else None,
        answered_by=who,
    )


def opened_to_wire(prompt: OpenedPrompt) -> dict[str, Any]:
    """`openPrompt`'s arguments (camelCase, absent optionals omitted)."""
    doc: dict[str, Any] = _conv.unstructure(prompt)
    return doc


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RawUpdates(Protocol):
    async def next(self) -> Any: ...


class PendingDecisions:
    """The `pendingDecisions` subscription, typed: `await next()` is the whole list of answered
    prompts on every change, in the documents' order. A malformed document is logged the first
    time it is seen while pending."""

    def __init__(self, updates: RawUpdates) -> None:
        self._updates = updates
        self._bad: set[str] = set()

    async def next(self) -> list[PromptAnswer]:
        while True:
            docs = await self._updates.next()
            if isinstance(docs, list):
                return self._decode(docs)
            log.warning("prompts.malformed_update", value=_short(docs))

    def _decode(self, docs: list[Any]) -> list[PromptAnswer]:
        answers: list[PromptAnswer] = []
        bad: set[str] = set()
        for doc in docs:
            key = prompt_id_from_wire(doc) or _short(doc)
            try:
                answers.append(answer_from_wire(doc))
            except AnswerRejected as exc:
                bad.add(key)
                if key not in self._bad:
                    log.warning("prompt.malformed_answer", prompt_id=key, error=str(exc))
            except Exception:  # a bug in validation must not stop the listener
                bad.add(key)
                if key not in self._bad:
                    log.exception("prompt.malformed_answer", prompt_id=key)
        self._bad = bad
        return answers
