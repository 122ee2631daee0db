"""Claude Code's session transcripts, written as the simulator's agents work (simulator only).

Claude Code appends one compact JSON line per event to ``<claude dir>/projects/<cwd with every character
but letters, digits and - as ->/<session id>.jsonl``: the user's prompts, each assistant message
(``message.id``, ``message.model``, ``message.usage``, the top-level ``requestId``), tool results,
with ``sessionId``, ``cwd``, ``timestamp``, ``uuid`` and ``parentUuid`` on each. A message whose
reply has a text block and a tool call is written as two lines, one per block, with the same
message id and request id (as Claude Code writes a streamed message): the first line's usage is
what the reply's start said (its output a few tokens, no web search yet), the last line's the
final figures; usage tools count the pair once, at its last line's figures. An in-process
teammate's (or subagent's) transcript lies under its lead's session:
``<project>/<lead session id>/subagents/agent-<id>.jsonl``, every line ``isSidechain: true`` with
its ``agentId`` and the lead's ``sessionId`` (reference: claude-agent-teams.md §7.2). Where a
tmux-pane teammate's transcript lies is not in the reference: it is a Claude Code session of its
own, so it gets a session file of its own here.

A teammate's lines carry its ``agentName`` and ``teamName``, fields that are not documented (see
tests/fixtures/transcripts/README.md): tina's attribution uses them only when the name is a
member of that team. Beside an in-process teammate's transcript Claude Code writes
``agent-<id>.meta.json`` with its ``name`` and ``teamName`` (`write_subagent_meta`), which
attribution reads for the lines that do not name it.

The figures are made up but shaped like real ones: the first message of a session writes the
system prompt and tools to the cache, later ones read everything said so far from the cache and
write only what is new (cache reads dominate), a few tokens of fresh input, a few hundred to a few
thousand output tokens. No text from a real prompt and no secret is ever written: the messages say
what the stand-in is doing in a few made-up words.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from .claude_hooks import transcript_path

__all__ = [
    "CLAUDE_VERSION",
    "LEAD_MODEL",
    "LEAD_MODEL_NAME",
    "TEAMMATE_MODEL",
    "Transcript",
    "Usage",
    "subagent_path",
]

LEAD_MODEL = "claude-opus-4-5-20251101"
"""The leads' model (an orchestrator, a phase lead): in tina/usage/prices.toml."""
LEAD_MODEL_NAME = "Opus 4.5"
"""How Claude Code names the lead's model (the status line's ``model.display_name``)."""
TEAMMATE_MODEL = "claude-sonnet-4-5-20250929"
"""The teammates' model: in tina/usage/prices.toml."""
SYNTHETIC_MODEL = "<synthetic>"
CLAUDE_VERSION = "2.1.37"
COMPACT_AT = 150_000
"""Context tokens past which a session is compacted (a summary goes on, most is dropped)."""
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@attrs.frozen(kw_only=True)
class Usage:
    """The usage of one assistant message, as ``message.usage`` states it."""

    input: int
    output: int
    cache_write: int
    cache_read: int
    web_searches: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_write,
                "ephemeral_1h_input_tokens": 0,
            },
            "output_tokens": self.output,
            "server_tool_use": {"web_search_requests": self.web_searches, "web_fetch_requests": 0},
            "service_tier": "standard",
            "speed": "standard",
            "inference_geo": "",
        }


def subagent_path(claude_dir: Path, cwd: Path, lead_session_id: str, agent_id: str) -> Path:
    """``<project>/<lead session>/subagents/agent-<id>.jsonl``: an in-process teammate's file."""
    project = transcript_path(claude_dir, cwd, lead_session_id).parent
    return project / lead_session_id / "subagents" / f"agent-{agent_id}.jsonl"


def write_subagent_meta(
    transcript: Path, *, name: str, team: str, agent_type: str, description: str, model: str
) -> None:
    """``agent-<id>.meta.json`` beside an in-process teammate's transcript, in the shape public
    tools read (tests/fixtures/transcripts/README.md). Never fails the caller."""
    meta = {
        "agentType": agent_type,
        "description": description,
        "name": name,
        "spawnDepth": 1,
        "model": model,
        "taskKind": "in_process_teammate",
        "teamName": team,
        "planModeRequired": False,
    }
    try:
        transcript.parent.mkdir(parents=True, exist_ok=True)
        transcript.with_name(transcript.name.removesuffix(".jsonl") + ".meta.json").write_text(
            json.dumps(meta, separators=(",", ":")), encoding="utf-8"
        )
    except OSError:
        pass  # as a transcript that cannot be written: the simulated work goes on


def _stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _token(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_B62) for _ in range(n))


class Transcript:
    """One session's (or one teammate's) transcript, appended to line by line as it works.

    Thread-safe: the stand-in's story threads speak for their teammates while the lead works.
    Writing never fails the caller: a file that cannot be written is given up on quietly, as a
    lost transcript must not stop the simulated work. ``on_usage(usage, model)`` is called once
    per assistant message actually written (not per line), e.g. to log what was "billed".
    """

    def __init__(
        self,
        path: Path,
        *,
        session_id: str,
        cwd: Path,
        model: str,
        agent_id: str | None = None,
        agent_name: str | None = None,
        team_name: str | None = None,
        git_branch: str = "",
        seed: str | None = None,
        on_usage: Callable[[Usage, str], None] | None = None,
    ) -> None:
        self.path = path
        self.session_id = session_id
        self.cwd = str(cwd)
        self.model = model
        self.agent_id = agent_id
        self.agent_name = agent_name
        self.team_name = team_name
        self.git_branch = git_branch
        self.on_usage = on_usage
        self._rng = random.Random(seed if seed is not None else f"{session_id}:{agent_id}")
        self._lock = threading.Lock()
        self._parent: str | None = None
        self._context = 0  # tokens the next request carries (0 before the first response)
        self._pending = 0  # tokens said to the session since its last response
        self._broken = False

    @property
    def context(self) -> int:
        """Tokens in the session's context now (what the next request would carry)."""
        return self._context + self._pending

    # -- lines --------------------------------------------------------------------------------

    def _base(self, kind: str) -> dict[str, Any]:
        line: dict[str, Any] = {
            "parentUuid": self._parent,
            "isSidechain": self.agent_id is not None,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": CLAUDE_VERSION,
            "gitBranch": self.git_branch,
        }
        if self.agent_id is not None:
            line["agentId"] = self.agent_id
        line["type"] = kind
        return line

    def _close(self, line: dict[str, Any]) -> dict[str, Any]:
        line["uuid"] = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        line["timestamp"] = _stamp()
        if self.agent_name is not None:
            line["agentName"] = self.agent_name  # not documented: see the module's docstring
        if self.team_name is not None:
            line["teamName"] = self.team_name
        self._parent = line["uuid"]
        return line

    def _append(self, *lines: dict[str, Any]) -> bool:
        """Each line in a write of its own (a reader may see the first before the second)."""
        if self._broken:
            return False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                for line in lines:
                    f.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
                    f.flush()
        except OSError:
            self._broken = True
            return False
        return True

    def touch(self) -> None:
        """The file exists (Claude Code creates it as the session starts)."""
        with self._lock:
            self._append()

    # -- what the session says ----------------------------------------------------------------

    def user(self, content: str | list[dict[str, Any]]) -> None:
        """A user line: a prompt, a teammate message, or tool results."""
        with self._lock:
            line = self._base("user")
            line["message"] = {"role": "user", "content": content}
            self._append(self._close(line))
            self._pending += 20 + (len(content) // 4 if isinstance(content, str) else 40)

    def _usage(self) -> Usage:
        rng = self._rng
        if self._context == 0:  # the system prompt and tools: mostly from the shared cache
            cache_read = rng.randint(9_000, 14_000)
            cache_write = rng.randint(3_000, 8_000) + self._pending
        else:  # everything said so far from the cache; what is new (tool results...) written
            cache_read = self._context
            cache_write = rng.randint(300, 4_000) + self._pending
        self._pending = 0
        usage = Usage(
            input=rng.randint(1, 12),
            output=rng.randint(120, 2_400),
            cache_write=cache_write,
            cache_read=cache_read,
        )
        self._context = cache_read + cache_write + usage.input + usage.output
        if self._context > COMPACT_AT:
            self._context = rng.randint(30_000, 45_000)
        return usage

    def say(self, text: str, *, tool: str | None = None, tool_input: Mapping[str, Any] | None = None,
            result: str = "ok") -> Usage:  # fmt: skip
        """One assistant message: ``text``, and with ``tool`` a tool call (the message written as
        two lines, one per block, with the same ids, its output grown on the second) followed by
        its result. A ``WebSearch`` call counts one search in the message's usage
        (``server_tool_use``), on its last line."""
        with self._lock:
            usage = self._usage()
            if tool == "WebSearch":
                usage = attrs.evolve(usage, web_searches=1)
            message_id = f"msg_01{_token(self._rng, 22)}"
            request_id = f"req_011C{_token(self._rng, 20)}"
            blocks: list[dict[str, Any]] = [{"type": "text", "text": text}]
            tool_id = f"toolu_01{_token(self._rng, 22)}"
            if tool is not None:
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": tool_id,
                        "name": tool,
                        "input": dict(tool_input or {}),
                    }
                )
            # The reply's start (output a few tokens, searches not yet counted) on every line
            # but the last, which has the final figures.
            started = attrs.evolve(usage, output=self._rng.randint(1, 9), web_searches=0)
            lines = []
            for n, block in enumerate(blocks, 1):
                last = n == len(blocks)
                line = self._base("assistant")
                line["message"] = {
                    "model": self.model,
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "content": [block],
                    "stop_reason": ("tool_use" if tool is not None else "end_turn")
                    if last
                    else None,
                    "stop_sequence": None,
                    "usage": (usage if last else started).to_wire(),
                }
                line["requestId"] = request_id
                lines.append(self._close(line))
            if tool is not None:
                answer = self._base("user")
                answer["message"] = {
                    "role": "user",
                    "content": [{"tool_use_id": tool_id, "type": "tool_result", "content": result}],
                }
                lines.append(self._close(answer))
            written = self._append(*lines)
        if written and self.on_usage is not None:
            self.on_usage(usage, self.model)
        return usage

    def synthetic(self, text: str) -> None:
        """A message Claude Code makes up itself (an API error, a usage limit): nothing billed."""
        with self._lock:
            line = self._base("assistant")
            line["message"] = {
                "model": SYNTHETIC_MODEL,
                "id": str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
                "type": "message",
                "role": "assistant",
                "content": [{"type": "text", "text": text}],
                "stop_reason": "stop_sequence",
                "stop_sequence": "",
                "usage": {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 0},
            }  # fmt: skip
            line["isApiErrorMessage"] = True
            self._append(self._close(line))
