"""One line of a Claude Code transcript -> the usage it records, or why it records none.

Transcripts (``~/.claude/projects/<encoded-cwd>/<session>.jsonl``) are JSON lines whose format is
internal to Claude Code. An assistant line carries ``message.model``, ``message.id``,
``message.usage`` (``input_tokens``, ``output_tokens``, ``cache_creation_input_tokens``,
``cache_read_input_tokens``, and in later builds ``cache_creation.ephemeral_1h_input_tokens`` and
``server_tool_use.web_search_requests``, the web searches billed per search on top of tokens,
``speed``, "fast" for a request in fast mode, billed at its model's fast rates,
``inference_geo``, "us" for a request held to US inference, billed at a multiplier, and
``iterations``: a request that compacted its context on the server lists each compaction there,
``{"type": "compaction", ...tokens}``, whose tokens the top-level counts leave out),
the top-level ``requestId``, ``timestamp`` (ISO 8601), ``sessionId``, ``cwd``, ``isSidechain`` and,
in subagent transcripts, ``agentId``. Everything else (user lines, tool results, summaries,
snapshots, lines of kinds not seen yet) records no usage.

Pure: nothing here touches a file, and nothing raises on any input. Only counts, model names,
ids and times are kept: never the text of a message.

A line is first decoded into the few fields read here, typed as a well-formed line has them
(msgspec: the rest of the line, its content above all, is skipped without being built); any line
that does not fit those types, however slightly, is read again by the tolerant reading (the
standard library's JSON), which decides what it records. Both end in the same function, so a
line reads the same either way (a property test holds them equal).
"""

from __future__ import annotations

import enum
import json
import math
from datetime import datetime
from typing import Annotated

import attrs
import msgspec

__all__ = ["MAX_TOKENS", "Skip", "Tokens", "UsageRecord", "parse_line", "parse_tolerantly"]

MAX_TOKENS = 10**12
"""The most tokens of one kind one message may claim (the wire's bound); more is a bad line."""
SYNTHETIC_MODEL = "<synthetic>"
STANDARD_GEOS = (None, "", "global", "not_available")
"""What ``inference_geo`` says of a request not held to one geography (the standard rates)."""
MAX_COMPACTIONS = 16
"""Compaction iterations read per line at most; more is a bad line."""
"""Claude Code's model for messages it makes up itself (no API call, no tokens billed)."""


class Skip(enum.Enum):
    """Why a line records no usage. ``NOT_USAGE`` is normal; the others are counted."""

    NOT_USAGE = "not_usage"  # a user line, a summary, an assistant line without usage
    MALFORMED = "malformed"  # not JSON, not an object, or usage of the wrong shape
    SYNTHETIC = "synthetic"  # made up by Claude Code itself: nothing was billed


@attrs.frozen(kw_only=True)
class Tokens:
    """The tokens of one sampling step of a request, by kind (``cache_write_1h`` is the part of
    ``cache_write`` written for an hour)."""

    input: int
    output: int
    cache_write: int
    cache_read: int
    cache_write_1h: int = 0


@attrs.frozen(kw_only=True)
class UsageRecord:
    """The usage of one assistant line. ``key`` is ``"<message id>:<request id>"`` when the line
    has both (the pair public tools deduplicate by), else ``None`` (counted, never deduplicated).
    ``cache_write_1h`` is the part of ``cache_write`` written for an hour (priced higher);
    ``web_searches`` the server-side web searches the request made (priced per search);
    ``speed`` "standard", "fast" (fast mode: its model's fast rates) or, for a speed not known
    here, that speed as the line gives it (no price); ``geo`` where its inference ran: "global"
    (not held to one geography) or the line's ``inference_geo``. The token counts are all the
    request billed: its message's and, in ``compactions``, each server-side compaction's (a
    sampling step with a prompt of its own, priced at its own size)."""

    key: str | None
    model: str
    input: int
    output: int
    cache_write: int
    cache_read: int
    cache_write_1h: int = 0
    web_searches: int = 0
    speed: str = "standard"
    geo: str = "global"
    at_ms: int | None  # when the message was written, ms since the epoch; None: not stated
    session_id: str | None = None
    cwd: str | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    team_name: str | None = None
    sidechain: bool = False
    compactions: tuple[Tokens, ...] = ()

    @property
    def tokens(self) -> int:
        return self.input + self.output + self.cache_write + self.cache_read

    def steps(self) -> list[Tokens | UsageRecord]:
        """Its sampling steps, each priced by its own prompt size: the message's own tokens
        (what is left of the counts once the compactions are taken out), then each compaction;
        without compactions, the record itself."""
        done = self.compactions
        if not done:
            return [self]
        own = Tokens(
            input=self.input - sum(c.input for c in done),
            output=self.output - sum(c.output for c in done),
            cache_write=self.cache_write - sum(c.cache_write for c in done),
            cache_read=self.cache_read - sum(c.cache_read for c in done),
            cache_write_1h=self.cache_write_1h - sum(c.cache_write_1h for c in done),
        )
        return [own, *done]


def _count(value: object) -> int | None:
    """A token count: a whole number 0..MAX_TOKENS (absent counts 0); None for anything else."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_TOKENS else None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return _count(int(value))
    return None


def _text(value: object, limit: int = 512) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def time_ms(value: object) -> int | None:
    """An ISO 8601 time with its zone ("2026-03-02T12:00:00.000Z") as ms since the epoch; None
    for anything else."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None  # a time without a zone cannot be put in a UTC hour without guessing
    return int(when.timestamp() * 1000)


def _tokens_of(
    tokens_in: int, tokens_out: int, write: int, read: int, one_hour: int | None
) -> Tokens:
    return Tokens(
        input=tokens_in,
        output=tokens_out,
        cache_write=write,
        cache_read=read,
        cache_write_1h=min(one_hour or 0, write),
    )


def _tokens(usage: dict[str, object]) -> Tokens | None:
    """The token counts of a usage object (or of one of its iterations); None: a bad count."""
    counts = [
        _count(usage.get(name))
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        )
    ]
    if any(c is None for c in counts):
        return None
    tokens_in, tokens_out, write, read = (c or 0 for c in counts)
    creation = usage.get("cache_creation")
    one_hour = (
        _count(creation.get("ephemeral_1h_input_tokens")) if isinstance(creation, dict) else 0
    )
    return _tokens_of(tokens_in, tokens_out, write, read, one_hour)


def _compactions(usage: dict[str, object]) -> tuple[Tokens, ...] | None:
    """The compactions the request's ``iterations`` list (its other iterations are the message's
    own, already in the top-level counts); None: too many, or one with a bad count."""
    iterations = usage.get("iterations")
    if not isinstance(iterations, list):
        return ()
    found = [i for i in iterations if isinstance(i, dict) and i.get("type") == "compaction"]
    if len(found) > MAX_COMPACTIONS:
        return None
    out = []
    for iteration in found:
        tokens = _tokens(iteration)
        if tokens is None:
            return None
        out.append(tokens)
    return tuple(out)


def _record(
    own: Tokens,
    compactions: tuple[Tokens, ...],
    *,
    searches: int,
    speed: object,
    geo: object,
    model: object,
    message_id: object,
    request_id: object,
    timestamp: object,
    session_id: object,
    cwd: object,
    agent_id: object,
    agent_name: object,
    team_name: object,
    sidechain: bool,
) -> UsageRecord | Skip:
    """The record of an assistant line with usage, from its fields as the line gives them
    (both readings end here)."""
    tokens_in, tokens_out = own.input, own.output
    write, read, one_hour = own.cache_write, own.cache_read, own.cache_write_1h
    if compactions:
        tokens_in += sum(t.input for t in compactions)
        tokens_out += sum(t.output for t in compactions)
        write += sum(t.cache_write for t in compactions)
        read += sum(t.cache_read for t in compactions)
        one_hour += sum(t.cache_write_1h for t in compactions)
        if max(tokens_in, tokens_out, write, read) > MAX_TOKENS:
            return Skip.MALFORMED
    # Absent (older builds) or empty: the standard speed; a speed not known here stays itself
    # (priced as nothing, never as the standard one), at most a short name.
    speed = "standard" if speed in (None, "") else (_text(speed, 32) or "unknown")
    geo = "global" if geo in STANDARD_GEOS else (_text(geo, 32) or "unknown")
    model = _text(model, 128) or "unknown"
    if model == SYNTHETIC_MODEL:
        return Skip.SYNTHETIC
    message_id = _text(message_id)
    request_id = _text(request_id)
    return UsageRecord(
        key=f"{message_id}:{request_id}" if message_id and request_id else None,
        model=model,
        input=tokens_in,
        output=tokens_out,
        cache_write=write,
        cache_read=read,
        cache_write_1h=one_hour,
        web_searches=searches,
        speed=speed,
        geo=geo,
        at_ms=time_ms(timestamp),
        session_id=_text(session_id, 128),
        cwd=_text(cwd, 4096),
        agent_id=_text(agent_id, 128),
        agent_name=_text(agent_name, 64),
        team_name=_text(team_name, 256),
        sidechain=sidechain,
        compactions=compactions,
    )


# --- the typed decoding: only a line of the expected shape fits ------------------------------

_Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS)]


class _CacheCreation(msgspec.Struct):
    ephemeral_1h_input_tokens: _Count | None = None


class _ServerTools(msgspec.Struct):
    web_search_requests: _Count | None = None


class _Iteration(msgspec.Struct):
    type: str | None = None
    input_tokens: _Count | None = None
    output_tokens: _Count | None = None
    cache_creation_input_tokens: _Count | None = None
    cache_read_input_tokens: _Count | None = None
    cache_creation: _CacheCreation | None = None

    def tokens(self) -> Tokens:
        creation = self.cache_creation
        return _tokens_of(
            self.input_tokens or 0,
            self.output_tokens or 0,
            self.cache_creation_input_tokens or 0,
            self.cache_read_input_tokens or 0,
            creation.ephemeral_1h_input_tokens if creation is not None else 0,
        )


class _Usage(_Iteration):
    server_tool_use: _ServerTools | None = None
    speed: str | None = None
    inference_geo: str | None = None
    iterations: list[_Iteration] | None = None


class _Message(msgspec.Struct):
    id: str | None = None
    model: str | None = None
    usage: _Usage | None = None


class _Line(msgspec.Struct):
    type: str | None = None
    message: _Message | None = None
    requestId: str | None = None  # the line's own names
    timestamp: str | None = None
    sessionId: str | None = None
    cwd: str | None = None
    agentId: str | None = None
    agentName: str | None = None
    teamName: str | None = None
    isSidechain: bool | None = None


_DECODER = msgspec.json.Decoder(_Line)


def _parse_typed(line: bytes | str) -> UsageRecord | Skip | None:
    """The usage of a line of the expected shape; None when the line does not fit it."""
    try:
        data = _DECODER.decode(line)
    except Exception:  # malformed, of another shape, too deep: the other reading
        return None
    message = data.message
    if data.type != "assistant" or message is None or message.usage is None:
        return Skip.NOT_USAGE
    usage = message.usage
    iterations = usage.iterations or ()
    found = [i for i in iterations if i.type == "compaction"]
    if len(found) > MAX_COMPACTIONS:
        return Skip.MALFORMED
    tools = usage.server_tool_use
    return _record(
        usage.tokens(),
        tuple(i.tokens() for i in found),
        searches=(tools.web_search_requests or 0) if tools is not None else 0,
        speed=usage.speed,
        geo=usage.inference_geo,
        model=message.model,
        message_id=message.id,
        request_id=data.requestId,
        timestamp=data.timestamp,
        session_id=data.sessionId,
        cwd=data.cwd,
        agent_id=data.agentId,
        agent_name=data.agentName,
        team_name=data.teamName,
        sidechain=data.isSidechain is True,
    )


def parse_line(line: bytes | str) -> UsageRecord | Skip:
    """The usage one transcript line records, or why it records none. Never raises."""
    typed = _parse_typed(line)
    return typed if typed is not None else parse_tolerantly(line)


def parse_tolerantly(line: bytes | str) -> UsageRecord | Skip:
    """:func:`parse_line` by the standard library's JSON and checks of every value: what a line
    that does not fit the typed decoding records."""
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        return Skip.MALFORMED
    if not isinstance(data, dict):
        return Skip.MALFORMED
    message = data.get("message")
    if data.get("type") != "assistant" or not isinstance(message, dict):
        return Skip.NOT_USAGE
    usage = message.get("usage")
    if usage is None:
        return Skip.NOT_USAGE
    if not isinstance(usage, dict):
        return Skip.MALFORMED
    own = _tokens(usage)
    compactions = _compactions(usage)
    if own is None or compactions is None:
        return Skip.MALFORMED
    tools = usage.get("server_tool_use")
    # Of a shape not seen yet: no searches rather than losing the line's tokens.
    searches = (_count(tools.get("web_search_requests")) or 0) if isinstance(tools, dict) else 0
    return _record(
        own,
        compactions,
        searches=searches,
        speed=usage.get("speed"),
        geo=usage.get("inference_geo"),
        model=message.get("model"),
        message_id=message.get("id"),
        request_id=data.get("requestId"),
        timestamp=data.get("timestamp"),
        session_id=data.get("sessionId"),
        cwd=data.get("cwd"),
        agent_id=data.get("agentId"),
        agent_name=data.get("agentName"),
        team_name=data.get("teamName"),
        sidechain=data.get("isSidechain") is True,
    )
