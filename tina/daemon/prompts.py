"""Permission prompts answered from the dashboard: what the laptop keeps while a hook waits.

`tina hook` sends a PermissionRequest over the control socket and waits on the line. The
control socket calls `Prompts.ask(event)`, which opens a prompt (a random 32-hex `prompt_id`),
queues `openPrompt` for the prompts actor, and waits until one of:

- an answer arrives (`on_answers`, from the `pendingDecisions` subscription): the decision is
  handed back (`applied`);
- the deadline (`permission_wait_ms`) passes, or the hook goes away first: no decision, the
  prompt is settled `expired`;
- the prompt cannot be opened (no connection, Convex refuses or is slow): no decision at once.

No decision means Claude Code shows its own prompt: it fails open to the human, never to
"allow". An answer for a prompt whose hook is gone (or one this daemon never opened, e.g.
before a restart) is settled `too_late` and never handed to anyone. Each prompt is settled once
locally; a settle Convex did not take is sent again when the answer comes back in the
subscription, but a decision is never applied twice. Every step is logged (`prompt.opened`,
`prompt.applied`, `prompt.too_late`, `prompt.expired`, with tool, decision, who).
"""

from __future__ import annotations

import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal

import attrs
import structlog
import trio

from tina.messages import HookEvent, OpenedPrompt, PromptAnswer, PromptOutcome

log = structlog.get_logger("tina.prompts")

OPS_BUFFER = 64
"""Opens and settles waiting for the prompts actor. A prompt is one human decision, so a burst
is a few parallel tool calls; past this many a prompt is not opened (no decision: Claude Code
asks at the keyboard) and a settle is dropped (Convex's own expiry closes the prompt)."""
GONE_KEEP = 1000
"""Settled prompt ids remembered, so a re-delivered answer is recognised as a duplicate."""
DENY_MESSAGE = "Denied from the tina dashboard."
FALLBACK_TOOL = "unknown"

PromptState = Literal["waiting", "applied", "gave_up", "unopened"]
TeamOf = Callable[[str], str | None]
"""The team directory whose lead runs in a session id."""
OrchestrationOf = Callable[[str], str | None]
"""The Convex id of the orchestration whose worktree holds a cwd (once the syncer has one)."""


@attrs.frozen(kw_only=True)
class OpenOp:
    prompt: OpenedPrompt


@attrs.frozen(kw_only=True)
class SettleOp:
    prompt_id: str
    outcome: PromptOutcome


PromptOp = OpenOp | SettleOp


@attrs.define(kw_only=True)
class Waiting:
    prompt: OpenedPrompt
    deadline: float  # trio time
    done: trio.Event = attrs.Factory(trio.Event)
    state: PromptState = "waiting"
    decision: dict[str, Any] | None = None


@attrs.define(kw_only=True)
class Gone:
    outcome: PromptOutcome
    settled: bool = False
    queued: bool = True


def decision_for(answer: PromptAnswer, suggestions: str | None) -> dict[str, Any]:
    """Claude Code's `hookSpecificOutput.decision` for an answer. `allow_always` hands back the
    prompt's own suggestions (as the laptop read them, never the server's copy); without any
    it allows once."""
    match answer.decision:
        case "deny":
            return {"behavior": "deny", "message": answer.message or DENY_MESSAGE}
        case "allow_always" if suggestions is not None:
            return {"behavior": "allow", "updatedPermissions": json.loads(suggestions)}
    return {"behavior": "allow"}


def new_prompt_id() -> str:
    return secrets.token_hex(16)


def _description(tool_input: str | None, truncated: bool) -> str | None:
    if tool_input is None or truncated:
        return None
    try:
        doc = json.loads(tool_input)
    except ValueError:
        return None
    value = doc.get("description") if isinstance(doc, dict) else None
    return value[:1000] if isinstance(value, str) and value.strip() else None


class Prompts:
    """The open prompts (`ask`), the answers (`on_answers`) and the ops for the actor.

    `available` says whether a prompt can be opened now (the Convex connection is up); the
    wiring owns the ops channel, which lives as long as this object across the actor's
    restarts.
    """

    def __init__(
        self,
        *,
        wait_ms: float,
        available: Callable[[], bool] = lambda: True,
        team_of: TeamOf | None = None,
        orchestration_of: OrchestrationOf | None = None,
        buffer: int = OPS_BUFFER,
    ) -> None:
        self.wait_ms = wait_ms
        self.available = available
        self.team_of = team_of
        self.orchestration_of = orchestration_of
        self.waiting: dict[str, Waiting] = {}
        self.gone: OrderedDict[str, Gone] = OrderedDict()
        self.counts = {"opened": 0, "applied": 0, "too_late": 0, "expired": 0, "unopened": 0}
        self.send, self.receive = trio.open_memory_channel[PromptOp](buffer)

    # --- the hook's side ----------------------------------------------------------------------

    def prompt_for(self, event: HookEvent, *, now_ms: float) -> OpenedPrompt:
        session = event.session_id or ""
        return OpenedPrompt(
            prompt_id=new_prompt_id(),
            session_id=session,
            cwd=event.cwd,
            tool_name=event.tool_name or FALLBACK_TOOL,
            tool_input=event.tool_input or "{}",
            input_truncated=event.tool_input_truncated,
            description=_description(event.tool_input, event.tool_input_truncated),
            suggestions=event.permission_suggestions,
            team_dir=self.team_of(session) if self.team_of is not None and session else None,
            orchestration_id=self.orchestration_of(event.cwd)
            if self.orchestration_of is not None and event.cwd
            else None,
            opened_at=now_ms,
            expires_at=now_ms + self.wait_ms,
        )

    async def ask(self, event: HookEvent) -> dict[str, Any] | None:
        """Wait for the dashboard's decision on a PermissionRequest; None for no decision. A
        cancel (the hook went away) counts as the hook giving up."""
        if not self.available():
            self.counts["unopened"] += 1
            log.info("prompt.unopened", tool=event.tool_name, reason="not connected")
            return None
        prompt = self.prompt_for(event, now_ms=round(time.time() * 1000, 3))
        waiting = Waiting(prompt=prompt, deadline=trio.current_time() + self.wait_ms / 1000)
        if not self._queue(OpenOp(prompt=prompt)):
            self.counts["unopened"] += 1
            log.warning("prompt.unopened", tool=prompt.tool_name, reason="too many at once")
            return None
        self.waiting[prompt.prompt_id] = waiting
        self.counts["opened"] += 1
        log.info(
            "prompt.opened",
            prompt_id=prompt.prompt_id,
            tool=prompt.tool_name,
            session=prompt.session_id[:8],
            wait_ms=self.wait_ms,
        )
        try:
            with trio.move_on_at(waiting.deadline):
                await waiting.done.wait()
        finally:
            del self.waiting[prompt.prompt_id]
            if waiting.state == "waiting":
                waiting.state = "gave_up"
                self._settle(prompt.prompt_id, "expired")
                log.info(
                    "prompt.expired",
                    prompt_id=prompt.prompt_id,
                    tool=prompt.tool_name,
                    decision=None,
                    who=None,
                )
        return waiting.decision

    # --- the actor's side -----------------------------------------------------------------------

    def opened(self, prompt_id: str, ok: bool, error: str | None = None) -> None:
        """`openPrompt` answered (or failed): a prompt Convex does not have gets no decision,
        and its hook is answered at once."""
        if ok:
            return
        waiting = self.waiting.get(prompt_id)
        log.warning(
            "prompt.unopened",
            prompt_id=prompt_id,
            tool=waiting.prompt.tool_name if waiting else None,
            reason=error or "refused",
        )
        if waiting is not None and waiting.state == "waiting":
            waiting.state = "unopened"
            self.counts["unopened"] += 1
            waiting.done.set()

    def on_answers(self, answers: list[PromptAnswer]) -> None:
        """The answered prompts Convex holds for this laptop (the whole list, on each change)."""
        for answer in answers:
            self._answer(answer)

    def _answer(self, answer: PromptAnswer) -> None:
        pid = answer.prompt_id
        gone = self.gone.get(pid)
        if gone is not None:
            if gone.outcome == "expired":  # answered just as the hook gave up
                self._too_late(answer, tool=None)
            elif not gone.settled and not gone.queued:  # a settle Convex did not take
                self._settle(pid, gone.outcome)
            return
        waiting = self.waiting.get(pid)
        if waiting is None or waiting.state != "waiting":
            self._too_late(answer, tool=waiting.prompt.tool_name if waiting else None)
            return
        waiting.decision = decision_for(answer, waiting.prompt.suggestions)
        waiting.state = "applied"
        waiting.done.set()
        self._settle(pid, "applied")
        self.counts["applied"] += 1
        log.info(
            "prompt.applied",
            prompt_id=pid,
            tool=waiting.prompt.tool_name,
            decision=answer.decision,
            who=answer.answered_by,
        )

    def _too_late(self, answer: PromptAnswer, *, tool: str | None) -> None:
        self._settle(answer.prompt_id, "too_late")
        self.counts["too_late"] += 1
        log.info(
            "prompt.too_late",
            prompt_id=answer.prompt_id,
            tool=tool,
            decision=answer.decision,
            who=answer.answered_by,
        )

    def _settle(self, prompt_id: str, outcome: PromptOutcome) -> None:
        if outcome == "expired":
            self.counts["expired"] += 1
        gone = self.gone.get(prompt_id)
        if gone is None:
            gone = self.gone[prompt_id] = Gone(outcome=outcome)
            while len(self.gone) > GONE_KEEP:
                self.gone.popitem(last=False)
        gone.outcome = outcome
        gone.settled = False
        gone.queued = self._queue(SettleOp(prompt_id=prompt_id, outcome=outcome))
        if not gone.queued:
            log.warning("prompt.settle_dropped", prompt_id=prompt_id, outcome=outcome)

    def settled(self, prompt_id: str, outcome: PromptOutcome, ok: bool) -> None:
        """`settlePrompt` answered (ok) or failed (sent again if the answer comes back)."""
        gone = self.gone.get(prompt_id)
        if gone is None or gone.outcome != outcome:
            return
        gone.queued = False
        gone.settled = ok

    def _queue(self, op: PromptOp) -> bool:
        try:
            self.send.send_nowait(op)
        except trio.WouldBlock:
            return False
        return True

    # --- observation ------------------------------------------------------------------------

    def detail(self) -> dict[str, Any]:
        return {"waiting": len(self.waiting), **self.counts}
