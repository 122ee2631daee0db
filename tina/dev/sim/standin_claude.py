"""A stand-in for the ``claude`` program running as a tina phase lead (simulator only).

``tina-session start`` opens a tmux session in the worktree, types
``claude --dangerously-skip-permissions`` into it, waits for Claude Code's input prompt, then
types ``/tina:team-lead-init team_name: <team> plan_path: <plan>``. This module plays that
program, honouring the same contract as the real team-lead-init skill: it writes
``.claude/tina/phase-<phase>/status.json`` (relative to its working directory, the worktree),
creates the phase team and its tasks the way Claude Code lays them out under ``~/.claude``,
works through the tasks, commits with real git, optionally runs the phase gates
(``tina-session check verify`` / ``check complexity``), and finishes with a ``complete`` or
``blocked`` status file. Then it shows its prompt again and keeps reading, as a real lead stays
alive until someone stops its session.

What it does is scripted by a JSON scenario, read when an init line arrives (so a test may
change it between launches): the file named by ``$TINA_STANDIN_SCENARIO``, else
``$HOME/.claude/tina-standin.json``, else the defaults (complete, 3 tasks, short delays)::

    {"default": {"tasks": 2, "step_secs": 0.05},
     "phases": {"1": {"outcome": "complete"},
                "2": [{"outcome": "blocked", "reason": "Phase reviewer rejected 3 times"},
                      {"outcome": "complete"}]}}

A list gives successive launches of that phase (counted in
``<worktree>/.claude/tina/phase-<phase>/standin-launches``); the last entry repeats. Phase
entries are laid over ``default``, which is laid over the built-in defaults. See ``Scenario``
for the fields. A malformed scenario is reported in the pane and the defaults are used.

It runs Claude Code's hooks as Claude Code does (``tina.dev.sim.claude_hooks``: the command
handlers in the user's and the project's settings, e.g. ``<tina> hook`` after ``tina hooks
install``): SessionStart as it starts; UserPromptSubmit for each line; TaskCreated, PreToolUse
and PostToolUse around each task's commit, TaskCompleted and TeammateIdle as a teammate finishes;
Stop when a turn ends; SessionEnd on end of input (``prompt_input_exit``) or a hangup or SIGTERM
(``other``). The scenario's stories (see ``Scenario``) add what a person would be asked: a
PermissionRequest, a StopFailure rate limit, a pane teammate's permission_request, a plan
approval, an idle teammate with an open task, a stalled one.

It keeps its teams, task lists, transcripts and its account's rate limits where Claude Code
does: in its config dir, ``$CLAUDE_CONFIG_DIR`` when that is set, else ``~/.claude``. It writes its session's transcript
and each teammate's
(``tina.dev.sim.transcripts``): the init command, then an assistant message with its model and
token usage for each step (the lead's on ``LEAD_MODEL``, the teammates' on ``TEAMMATE_MODEL``,
both priced in ``tina/usage/prices.toml``), appended as the work goes on, never anyone's own
words. Each message's usage is also logged (``usage``: agent, model, tokens).

Everything it receives is logged as JSON lines to ``$HOME/.claude/tina-standin.log``
(``start`` with argv and cwd, each ``input`` line, each ``outcome``, each ``hook`` run and
``permission`` decision), so tests can assert the
exact command line and init line ``start`` typed.

``install(bin_dir)`` writes the ``claude`` wrapper that runs this module. Nothing in the product
uses it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import attrs

from tina.local import InboxWriteError, append_inbox_message, mark_inbox_read
from tina.usage import PriceTable, load_prices

from .account import ACCOUNT_NAME, Account
from .claude_hooks import (
    HookRun,
    HookRunner,
    config_dir,
    permission_decision,
    run_status_line,
    status_line_command,
    transcript_path,
)
from .transcripts import (
    CLAUDE_VERSION,
    LEAD_MODEL,
    LEAD_MODEL_NAME,
    TEAMMATE_MODEL,
    Transcript,
    Usage,
    subagent_path,
    write_subagent_meta,
)

__all__ = [
    "ARGV0_ENV",
    "LOG_NAME",
    "SCENARIO_ENV",
    "SCENARIO_NAME",
    "Scenario",
    "install",
    "load_scenario",
    "main",
    "parse_init_line",
    "pick",
    "team_dir_name",
]

SCENARIO_ENV = "TINA_STANDIN_SCENARIO"
SCENARIO_NAME = "tina-standin.json"
LOG_NAME = "tina-standin.log"
ARGV0_ENV = "TINA_STANDIN_ARGV0"
TMUX_SOCKET_ENV = "TINA_TMUX_SOCKET"
VERSION = "2.1.37 (Claude Code stand-in)"

OUTCOMES = ("complete", "blocked", "die", "hang", "crash")
PROMPT = "\u276f "  # the heavy angle quote Claude Code's prompt starts with; `start` looks for it
FOOTER = "  ⏵⏵ bypass permissions on (shift+tab to cycle)"
_PASTE_MARKERS = re.compile(r"\x1b\[20[01]~")
_INIT = "/tina:team-lead-init"
_GATE_OUTPUT_CHARS = 500
_IDENT = ("-c", "user.name=tina stand-in", "-c", "user.email=standin@tina.invalid")
_AGENT_TYPES = {
    "worker": "tina:implementer",
    "spec-reviewer": "tina:spec-reviewer",
    "code-quality-reviewer": "tina:code-quality-reviewer",
}
_COLORS = ("blue", "green", "yellow", "purple", "red", "orange", "cyan", "pink")
_LEAD = "team-lead"
_INBOX_POLL_SECS = 0.2
# Claude Code updates its status line at most every 300 ms; the stand-in at most every second
# (and at its start, a rate limit and a phase's end), to keep a simulated laptop light.
STATUS_EVERY_SECS = 1.0
CONTEXT_WINDOW = 200_000
MODEL = LEAD_MODEL  # the lead's; its teammates run TEAMMATE_MODEL (both priced in tina.usage)
# The teammates the scenario's stories bring (see `Scenario`).
PANE_TEAMMATE = "tester"
PLAN_TEAMMATE = "architect"
IDLE_TEAMMATE = "spec-reviewer"
STALL_TEAMMATE = "code-quality-reviewer"
STORY_TEAMMATES = (PANE_TEAMMATE, PLAN_TEAMMATE, IDLE_TEAMMATE, STALL_TEAMMATE)
_SUGGEST_BASH = "addRules"
_PLAN_TEXT = """\
# Rollout plan

1. Ship the change behind the `phase_rollout` flag, off by default.
2. Turn it on for the team's own account; watch the error rate for a day.
3. Turn it on for everyone; remove the flag a week later.
"""


class _Hangup(BaseException):
    """SIGHUP or SIGTERM: the terminal went away (tmux killed the session) or someone stopped it.
    A BaseException, so the code it interrupts (a hook's `except Exception`) lets it through."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _hang_up(signum: int, frame: object) -> None:
    raise _Hangup(signum)


# --- the scenario --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Scenario:
    """What one launch of the lead does with its phase.

    ``outcome``: ``complete``; ``blocked`` (status.json ``reason``, and ``gate`` when given);
    ``die`` (kill its own tmux session halfway through the tasks); ``hang`` (never finish, but
    keep answering input); ``crash`` (exit status 1 halfway, leaving the pane's shell).
    ``tasks``: how many tasks the team works through; ``step_secs``: the delay of each task
    step; ``ready_delay_secs``: start-up time before the prompt appears (read from ``default``
    only: the phase is not known until the init line); ``commit``: commit one file per task;
    ``run_gates``: run ``tina-session check verify`` and ``check complexity`` before completing,
    as the skill does, and block on a failure; ``write_git_range``: also write ``git_range``
    into the complete status (the real skill never does); ``teammates``: the in-process
    teammates that join the team.

    What a person would be asked for, each off by default (the seconds are how long it lasts):
    ``permission_request``: the lead's first commit waits for a ``PermissionRequest`` hook's
    decision (allow: it commits; deny: it does not); with none, ``keyboard_answer`` (``allow`` or
    ``deny``) is what the person at the terminal says. ``rate_limit_secs``: after the first task
    the turn ends on a ``StopFailure`` ``rate_limit`` whose text names the reset time, and the
    work goes on that many seconds later (the person types "continue").
    ``teammate_permission_secs``: a pane teammate (``tester``, in a tmux pane of its own) asks the
    lead for a tool with a ``permission_request`` in the lead's inbox; the lead answers with a
    ``permission_response`` in the teammate's inbox that many seconds later.
    ``plan_approval_secs``: a teammate in plan mode (``architect``) sends a
    ``plan_approval_request``, approved that many seconds later. ``idle_with_task_secs``:
    ``spec-reviewer`` takes a review task, goes idle with it open for that long, then finishes
    it. ``stall_secs``: ``code-quality-reviewer`` takes a task and goes silent (working, nothing
    written) for that long. The phase ends once these are over.
    """

    outcome: str = "complete"
    tasks: int = 3
    step_secs: float = 0.05
    ready_delay_secs: float = 0.0
    commit: bool = True
    reason: str = "Phase reviewer rejected 3 times"
    gate: str | None = None
    run_gates: bool = False
    write_git_range: bool = False
    teammates: tuple[str, ...] = ("worker", "spec-reviewer", "code-quality-reviewer")
    permission_request: bool = False
    keyboard_answer: str = "allow"
    rate_limit_secs: float | None = None
    teammate_permission_secs: float | None = None
    plan_approval_secs: float | None = None
    idle_with_task_secs: float | None = None
    stall_secs: float | None = None


STORY_SECS = (
    "rate_limit_secs",
    "teammate_permission_secs",
    "plan_approval_secs",
    "idle_with_task_secs",
    "stall_secs",
)


def _check_field(name: str, value: Any) -> Any:
    """The field's value, converted; ``ValueError`` with a readable reason when it is wrong."""
    if name == "outcome":
        if value not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {value!r}")
        return value
    if name == "tasks":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
            raise ValueError(f"tasks must be an integer from 0 to 1000, not {value!r}")
        return value
    if name in ("step_secs", "ready_delay_secs"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 3600:
            raise ValueError(f"{name} must be a number of seconds from 0 to 3600, not {value!r}")
        return float(value)
    if name in STORY_SECS:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 86400:
            raise ValueError(f"{name} must be null or seconds from 0 to 86400, not {value!r}")
        return float(value)
    if name == "keyboard_answer":
        if value not in ("allow", "deny"):
            raise ValueError(f"keyboard_answer must be allow or deny, not {value!r}")
        return value
    if name in ("commit", "run_gates", "write_git_range", "permission_request"):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, not {value!r}")
        return value
    if name == "reason":
        if not isinstance(value, str):
            raise ValueError(f"reason must be a string, not {value!r}")
        return value
    if name == "gate":
        if value is not None and not isinstance(value, str):
            raise ValueError(f"gate must be a string or null, not {value!r}")
        return value
    if name == "teammates":
        if not isinstance(value, list) or not all(
            isinstance(v, str) and v and v != "team-lead" for v in value
        ):
            raise ValueError(f"teammates must be a list of names (not team-lead), not {value!r}")
        return tuple(value)
    raise ValueError(f"unknown field {name!r}")


def _overlay(base: Scenario, spec: Any, where: str, errors: list[str]) -> Scenario:
    """``base`` with the valid fields of ``spec``; each invalid one is reported and skipped."""
    if spec is None:
        return base
    if not isinstance(spec, Mapping):
        errors.append(f"{where}: expected an object, not {type(spec).__name__}")
        return base
    changes: dict[str, Any] = {}
    for name, value in spec.items():
        try:
            changes[name] = _check_field(str(name), value)
        except ValueError as exc:
            errors.append(f"{where}: {exc}")
    return attrs.evolve(base, **changes)


def load_scenario(env: Mapping[str, str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The scenario document and any errors found reading it (then the document is ``{}``)."""
    path = _scenario_path(os.environ if env is None else env)
    if path is None:
        return {}, []
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return {}, [f"cannot read the scenario {path}: {exc}"]
    except ValueError as exc:
        return {}, [f"the scenario {path} is not JSON: {exc}"]
    if not isinstance(doc, dict):
        return {}, [f"the scenario {path} must be a JSON object"]
    return doc, []


def pick(doc: Mapping[str, Any], phase: str, launch: int) -> tuple[Scenario, list[str]]:
    """The scenario of ``launch`` (1-based) of ``phase``, and any errors in the document."""
    errors: list[str] = []
    unknown = sorted(set(doc) - {"default", "phases"})
    if unknown:
        errors.append(f"unknown top-level keys {unknown} (expected default, phases)")
    scenario = _overlay(Scenario(), doc.get("default"), "default", errors)
    phases = doc.get("phases", {})
    if not isinstance(phases, Mapping):
        errors.append("phases: expected an object keyed by phase")
        return scenario, errors
    spec = phases.get(phase)
    where = f"phases.{phase}"
    if isinstance(spec, list):
        if not spec:
            errors.append(f"{where}: an empty list of launches")
            return scenario, errors
        index = min(max(launch, 1), len(spec)) - 1
        spec, where = spec[index], f"{where}[{index}]"
    return _overlay(scenario, spec, where, errors), errors


def _scenario_path(env: Mapping[str, str]) -> Path | None:
    named = env.get(SCENARIO_ENV)
    if named:
        return Path(named)
    home = env.get("HOME")
    if home:
        default = Path(home) / ".claude" / SCENARIO_NAME
        if default.exists():
            return default
    return None


# --- the init line and names ---------------------------------------------------------------------


def parse_init_line(line: str) -> tuple[str, str] | None:
    """``(team_name, plan_path)`` from ``/tina:team-lead-init team_name: T plan_path: P``."""
    match = re.fullmatch(
        rf"\s*{re.escape(_INIT)}\s+team_name:\s*(\S+)\s+plan_path:\s*(.+?)\s*", line
    )
    if match is None:
        return None
    return match.group(1), match.group(2)


def phase_of(team_name: str) -> str | None:
    """The phase from the team name, ``<feature>-phase-<phase>``.

    The real skill parses it from the plan file name instead, with ``-phase-(\\d+(?:\\.\\d+)?)\\.md$``,
    which misses ``...-phase-1.5.5.md`` (and any plan not named after the convention). The team
    name is what ``tina-session start`` guarantees, so the stand-in uses it.
    """
    _, sep, phase = team_name.rpartition("-phase-")
    if not sep or not re.fullmatch(r"\d+(\.\d+)*", phase):
        return None
    return phase


def team_dir_name(team_name: str) -> str:
    """The directory Claude Code keeps a team's config and tasks in.

    The agent-teams reference lists the exact rule as unknown; tina (at HEAD) assumes Claude Code
    replaces dots with dashes (``x-phase-1.5`` → ``x-phase-1-5``), so the stand-in does that.
    """
    return team_name.replace(".", "-")


# --- small file helpers --------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _write_json(path: Path, doc: Any, *, indent: int | None = 2) -> None:
    """Whole-file replace, so a reader never sees half a document."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=indent)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _Log:
    """JSON lines appended to ``$HOME/.claude/tina-standin.log``; never fails the lead."""

    def __init__(self, env: Mapping[str, str]) -> None:
        home = env.get("HOME")
        self.path = Path(home) / ".claude" / LOG_NAME if home else None

    def __call__(self, event: str, **fields: Any) -> None:
        if self.path is None:
            return
        record = {"ts": _iso(_now()), "pid": os.getpid(), "event": event, **fields}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError:
            pass


# --- the lead ------------------------------------------------------------------------------------


class _Crash(Exception):
    """The scenario's ``crash``: the program exits with status 1."""


class Lead:
    """The phase lead: reads lines like Claude Code's input box and acts on the init line."""

    def __init__(
        self, out: TextIO, env: Mapping[str, str], cwd: Path, *, sleep: Any = time.sleep
    ) -> None:
        self.out = out
        self.env = dict(env)
        self.cwd = cwd
        self.sleep = sleep
        self.log = _Log(env)
        self.session_id = str(uuid.uuid4())
        self._out_lock = threading.Lock()
        # Held while inbox messages are marked read and shown: the session ends after a
        # pickup under way, so a message marked read has been shown (`Team._poll_inboxes`).
        self.pickup = threading.Lock()
        self.hooks = HookRunner(self.env, cwd, self.session_id)
        # The session's transcript, where Claude Code keeps it (the hooks' transcript_path).
        self.transcript = Transcript(
            self.hooks.transcript,
            session_id=self.session_id,
            cwd=cwd,
            model=MODEL,
            on_usage=self.billed(_LEAD),
        )
        self.last_message = ""
        self.turn_open = False  # a phase that never finishes leaves its turn running
        # The status line: the account (its rate limits, known after the first API response),
        # one per config dir as each keeps its own login, and what this session has cost.
        self.account = Account(config_dir(self.env) / ACCOUNT_NAME)
        self._prices: PriceTable | None = None
        self._spent_lock = threading.Lock()
        self._session_cost = 0
        self._rate_limits: dict[str, Any] | None = None
        self._status_lock = threading.Lock()
        self._status_at: float | None = None
        self._started = time.monotonic()

    # -- hooks ------------------------------------------------------------------------------------

    def fire(self, event: str, **fields: Any) -> list[HookRun]:
        """Runs the hooks configured for `event` as Claude Code does; never raises."""
        try:
            runs = self.hooks.fire(event, **fields)
        except Exception as exc:  # the stand-in goes on, as Claude Code does
            self.log("hook_error", hook_event_name=event, error=repr(exc))
            return []
        for run in runs:
            self.log(
                "hook",
                hook_event_name=event,
                command=run.command,
                exit_code=run.returncode,
                stdout=run.stdout[:2000],
                ms=round(run.seconds * 1000, 1),
            )
        return runs

    def billed(self, agent: str) -> Callable[[Usage, str], None]:
        """What a transcript calls for each message it writes: the usage, logged (tokens only),
        so tests know what the transcripts should add up to."""

        def log_usage(usage: Usage, model: str) -> None:
            self.log("usage", agent=agent, model=model, **attrs.asdict(usage))
            self._spend(usage, model, refresh=agent == _LEAD)

        return log_usage

    def _spend(self, usage: Usage, model: str, *, refresh: bool) -> None:
        """The message's cost goes to the laptop's account (and this session's); the lead's own
        messages update the status line."""
        if self._prices is None:
            self._prices = load_prices()
        cost = self._prices.cost_micros(
            model,
            input=usage.input,
            output=usage.output,
            cache_write=usage.cache_write,
            cache_read=usage.cache_read,
            web_searches=usage.web_searches,
        )
        limits = self.account.spend(cost or 0)
        with self._spent_lock:
            self._session_cost += cost or 0
            self._rate_limits = limits
        if refresh:
            self.refresh_status()

    def status(self) -> dict[str, Any]:
        """The status-line JSON Claude Code pipes to ``statusLine.command``."""
        context = self.transcript.context
        used = round(min(100.0, context * 100 / CONTEXT_WINDOW), 1)
        with self._spent_lock:
            cost, limits = self._session_cost, self._rate_limits
        doc: dict[str, Any] = {
            "hook_event_name": "Status",
            "session_id": self.session_id,
            "transcript_path": str(self.hooks.transcript),
            "cwd": str(self.cwd),
            "model": {"id": MODEL, "display_name": LEAD_MODEL_NAME},
            "workspace": {"current_dir": str(self.cwd), "project_dir": str(self.cwd)},
            "version": CLAUDE_VERSION,
            "output_style": {"name": "default"},
            "cost": {
                "total_cost_usd": cost / 1_000_000,
                "total_duration_ms": round((time.monotonic() - self._started) * 1000),
                "total_api_duration_ms": 0,
                "total_lines_added": 0,
                "total_lines_removed": 0,
            },
            "exceeds_200k_tokens": context > CONTEXT_WINDOW,
            "context_window": {
                "total_input_tokens": context,
                "context_window_size": CONTEXT_WINDOW,
                "used_percentage": used,
                "remaining_percentage": round(100.0 - used, 1),
            },
        }
        if limits is not None:  # Claude.ai subscribers, after the session's first response
            doc["rate_limits"] = limits
        return doc

    def refresh_status(self, *, force: bool = False) -> None:
        """Runs the configured status line, at most every STATUS_EVERY_SECS unless `force`d
        (a refresh under way elsewhere is enough unless forced); never raises."""
        if not self._status_lock.acquire(blocking=force):
            return
        try:
            now = time.monotonic()
            recent = self._status_at is not None and now - self._status_at < STATUS_EVERY_SECS
            if recent and not force:
                return
            command = status_line_command(self.env, self.cwd)
            if command is None:
                return
            self._status_at = now
            run = run_status_line(command, self.status(), self.env, self.cwd)
            self.log("status_line", exit_code=run.returncode, stdout=run.stdout[:200])
        except Exception as exc:  # the status line never takes the lead down
            self.log("status_line_error", error=repr(exc))
        finally:
            self._status_lock.release()

    def start_session(self) -> None:
        """What Claude Code does as it starts: a transcript file and the SessionStart hook."""
        branch = self._git("rev-parse", "--abbrev-ref", "HEAD")
        if branch.returncode == 0:
            self.transcript.git_branch = branch.stdout.strip()
        self.transcript.touch()
        self.fire("SessionStart", source="startup", model=MODEL)
        self.refresh_status(force=True)

    def end_session(self, reason: str) -> None:
        self.fire("SessionEnd", reason=reason)

    def stop_turn(self) -> None:
        """The turn ended: the Stop hook with the last thing said."""
        self.fire("Stop", stop_hook_active=False, last_assistant_message=self.last_message)

    # -- the pane ---------------------------------------------------------------------------------

    def say(self, text: str = "") -> None:
        if text.startswith("⏺ "):
            self.last_message = text[2:]
        with self._out_lock:
            try:
                self.out.write(text + "\n")
                self.out.flush()
            except (OSError, ValueError):  # the terminal is gone (a hangup)
                pass

    def prompt(self) -> None:
        self.say("─" * 60)
        with self._out_lock:
            try:
                self.out.write(PROMPT)
                self.out.flush()
            except (OSError, ValueError):
                pass

    def footer(self) -> None:
        self.say("─" * 60)
        self.say(FOOTER)

    # -- input ------------------------------------------------------------------------------------

    def handle(self, raw: str) -> None:
        line = _PASTE_MARKERS.sub("", raw).replace("\r", "").rstrip("\n")
        self.log("input", line=line)
        if not line.strip():
            self.prompt()
            return
        self.fire("UserPromptSubmit", prompt=line.strip())
        if line.strip().startswith(_INIT):
            parsed = parse_init_line(line)
            # A slash command, as Claude Code records one (tina's command: no one's prompt).
            args = line.strip().removeprefix(_INIT).strip()
            self.transcript.user(
                f"<command-message>{_INIT[1:]}</command-message>\n"
                f"<command-name>{_INIT}</command-name>\n<command-args>{args}</command-args>"
            )
            if parsed is None:
                self.say(
                    f"⏺ {_INIT} needs `team_name: <team> plan_path: <plan>`; got: {line.strip()}"
                )
                self.transcript.say("The command needs a team name and a plan path.")
            else:
                self.run_phase(*parsed)
        else:
            self.say(f"⏺ (stand-in) I read: {line.strip()}")
            # Someone's own words stay out of the transcript: the stand-in keeps no prompt.
            self.transcript.user("(a message typed at the prompt)")
            self.transcript.say("(stand-in) Read it.")
        if not self.turn_open:
            self.stop_turn()
        self.prompt()

    # -- the phase --------------------------------------------------------------------------------

    def run_phase(self, team_name: str, plan_arg: str) -> None:
        self.say("⏺ I'm initializing team-lead for this phase.")
        phase = phase_of(team_name)
        if phase is None:
            self.say(f"⏺ Cannot tell the phase from team name {team_name!r}; nothing to do.")
            self.log("outcome", team=team_name, outcome="refused", reason="no phase in team name")
            return
        phase_dir = self.cwd / ".claude" / "tina" / f"phase-{phase}"
        launch = self._count_launch(phase_dir)
        doc, errors = load_scenario(self.env)
        scenario, more = pick(doc, phase, launch)
        for error in [*errors, *more]:
            self.say(f"⏺ stand-in scenario error: {error} (using the defaults for it)")
        plan = Path(plan_arg) if os.path.isabs(plan_arg) else self.cwd / plan_arg
        started = _now()
        status_path = phase_dir / "status.json"
        _write_json(status_path, {"status": "executing", "started_at": _iso(started)})
        self.log("phase", team=team_name, phase=phase, launch=launch, plan=str(plan))
        if not plan.is_file():  # the skill's error handling: block, spawn no team
            reason = f"Plan file not found: {plan_arg}"
            blocked = {"status": "blocked", "started_at": _iso(started),
                       "blocked_at": _iso(_now()), "reason": reason}  # fmt: skip
            _write_json(status_path, blocked)
            self.say(f"PHASE BLOCKED: {reason}")
            self.log("outcome", team=team_name, phase=phase, launch=launch, outcome="no_plan")
            return
        team = _Team(self, team_name, started)
        subjects = _plan_tasks(plan, scenario.tasks)
        team.create(subjects)
        self.transcript.say(
            f"Creating the phase {phase} team and its {len(subjects)} tasks.",
            tool="TeamCreate",
            tool_input={"team_name": team_name, "description": f"Phase {phase} execution team"},
        )
        team.read_inboxes()
        base = self._git_head()
        if scenario.tasks:
            team.join(scenario.teammates)  # before the stories, which may bring more
        stories = self._start_stories(team, scenario)
        fail_at = scenario.tasks // 2 if scenario.outcome in ("die", "crash", "hang") else None
        for number, subject in enumerate(subjects, start=1):
            if fail_at is not None and number > fail_at:
                break
            self._work_task(team, scenario, phase, launch, number, subject)
            if number == 1 and scenario.rate_limit_secs is not None:
                self._rate_limited(scenario.rate_limit_secs)
        if scenario.outcome in ("complete", "blocked"):
            if any(story.is_alive() for story in stories):
                # Its own work done, the lead ends its turn and waits for its teammates (idle);
                # their messages wake it again.
                self.say("⏺ Waiting for the teammates to finish.")
                self.transcript.say("Waiting for the teammates to finish.")
                self.stop_turn()
            for story in stories:
                story.join()
        if scenario.outcome == "complete":
            team.shutdown()  # as the skill does before it reports the phase complete
        self.turn_open = scenario.outcome == "hang"
        self._finish(team_name, phase, launch, scenario, status_path, started, base, plan)
        self.refresh_status(force=True)

    def _count_launch(self, phase_dir: Path) -> int:
        counter = phase_dir / "standin-launches"
        try:
            launch = int(counter.read_text().strip() or "0") + 1
        except (OSError, ValueError):
            launch = 1
        phase_dir.mkdir(parents=True, exist_ok=True)
        counter.write_text(f"{launch}\n")
        return launch

    def _work_task(
        self, team: _Team, scenario: Scenario, phase: str, launch: int, number: int, subject: str
    ) -> None:
        team.join(scenario.teammates)
        self.transcript.say(
            f"Assigning task {number} to worker.",
            tool="TaskUpdate",
            tool_input={"taskId": str(number), "owner": "worker"},
        )
        team.assign(number, "worker")
        self.say(f"⏺ {subject}")
        self.sleep(scenario.step_secs)
        if scenario.commit:
            ask = scenario.permission_request and number == 1
            self._commit(phase, launch, number, subject, ask=ask, keyboard=scenario.keyboard_answer)
            team.work("worker", f"Committing task {number}.", "Bash",
                      {"command": "git commit", "description": f"Commit task {number}"})  # fmt: skip
        self.sleep(scenario.step_secs)
        team.complete(number, "worker")
        team.idle("worker", f"Completed task {number}: {subject}")
        self.say(f"  ⎿ done: {subject}")

    # -- what a person is asked for ---------------------------------------------------------------

    def _start_stories(self, team: _Team, scenario: Scenario) -> list[threading.Thread]:
        """The scenario's side stories, each in a thread beside the task loop."""
        stories: list[tuple[str, Any]] = []
        if scenario.teammate_permission_secs is not None:
            stories.append(("teammate-permission", team.teammate_permission))
        if scenario.plan_approval_secs is not None:
            stories.append(("plan-approval", team.plan_approval))
        if scenario.idle_with_task_secs is not None:
            stories.append(("idle-with-task", team.idle_with_task))
        if scenario.stall_secs is not None:
            stories.append(("stall", team.stall))
        threads = []
        for name, story in stories:
            thread = threading.Thread(
                target=self._story, args=(name, story, scenario), name=name, daemon=True
            )
            thread.start()
            threads.append(thread)
        return threads

    def _story(self, name: str, story: Any, scenario: Scenario) -> None:
        try:
            story(scenario)
        except Exception as exc:  # a story never takes the lead down
            self.log("story_error", story=name, error=repr(exc))

    def _rate_limited(self, secs: float) -> None:
        """The turn ends on the API's rate limit; the person types "continue" once it resets."""
        reset = datetime.now().astimezone() + timedelta(seconds=secs)
        hour = reset.strftime("%I").lstrip("0") or "12"
        minutes = "" if reset.minute == 0 else reset.strftime(":%M")
        when = f"{hour}{minutes}{reset.strftime('%p').lower()} ({reset.tzname() or 'UTC'})"
        message = f"Claude usage limit reached. Your limit will reset at {when}."
        self.say(f"⏺ {message}")
        self.transcript.synthetic(message)  # Claude Code's own words: no API call, no tokens
        self.fire(
            "StopFailure",
            error="rate_limit",
            error_details=f"429 rate_limit_error: usage limit reached; resets {when}",
            last_assistant_message=message,
        )
        self.log("rate_limited", resets=_iso(reset.astimezone(UTC)), secs=secs)
        limits = self.account.limit_reached(reset.timestamp())
        with self._spent_lock:
            self._rate_limits = limits
        self.refresh_status(force=True)
        self.sleep(secs)
        self.say("> continue")
        self.fire("UserPromptSubmit", prompt="continue")
        self.transcript.user("continue")
        self.transcript.say("Picking up where I stopped.")

    def _finish(
        self,
        team_name: str,
        phase: str,
        launch: int,
        scenario: Scenario,
        status_path: Path,
        started: datetime,
        base: str | None,
        plan: Path,
    ) -> None:
        outcome = scenario.outcome
        self.log("outcome", team=team_name, phase=phase, launch=launch, outcome=outcome)
        if outcome == "hang":
            self.say("⏺ Waiting for the worker... (this phase never finishes)")
            return
        if outcome == "crash":
            self.say("⏺ stand-in: crashing as the scenario asks")
            raise _Crash
        if outcome == "die":
            self._kill_own_session()
            return
        if outcome == "blocked":
            doc: dict[str, Any] = {
                "status": "blocked",
                "started_at": _iso(started),
                "blocked_at": _iso(_now()),
                "reason": scenario.reason,
            }
            if scenario.gate is not None:
                doc["gate"] = scenario.gate
            doc["context"] = {"tasks_completed": scenario.tasks, "attempts": 3}
            _write_json(status_path, doc)
            self.say(f"PHASE BLOCKED: {scenario.reason}")
            self.say(f"See .claude/tina/phase-{phase}/status.json for details")
            self.transcript.say(f"Phase {phase} blocked.", tool="Write",
                                tool_input={"file_path": str(status_path)})  # fmt: skip
            return
        if scenario.run_gates:
            blocked = self._run_gates(plan, started)
            if blocked is not None:
                _write_json(status_path, blocked)
                self.say(f"PHASE BLOCKED: {blocked['reason']}")
                self.log("gate", phase=phase, launch=launch, gate=blocked["gate"])
                return
        done: dict[str, Any] = {
            "status": "complete",
            "started_at": _iso(started),
            "completed_at": _iso(_now()),
        }
        head = self._git_head()
        if scenario.write_git_range and base is not None and head is not None:
            done["git_range"] = f"{base[:7]}..{head[:7]}"
        _write_json(status_path, done)
        self.say(f"⏺ Phase {phase} complete.")
        self.transcript.say(f"Phase {phase} complete.", tool="Write",
                            tool_input={"file_path": str(status_path)})  # fmt: skip

    # -- git --------------------------------------------------------------------------------------

    def _git(self, *args: str, identity: bool = False) -> subprocess.CompletedProcess[str]:
        argv = ["git", *(_IDENT if identity else ()), "-C", str(self.cwd), *args]
        return subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=60, check=False
        )

    def _git_head(self) -> str | None:
        result = self._git("rev-parse", "HEAD")
        return result.stdout.strip() if result.returncode == 0 else None

    def _commit(
        self,
        phase: str,
        launch: int,
        number: int,
        subject: str,
        *,
        ask: bool = False,
        keyboard: str = "allow",
    ) -> None:
        """The task's commit, as a Bash tool call: PreToolUse, (with `ask`) a PermissionRequest
        whose decision it honours, the commit, PostToolUse."""
        rel = Path("tina-sim") / f"phase-{phase}" / f"launch-{launch}-task-{number}.md"
        message = f"phase {phase}: {subject}"
        tool_input = {
            "command": f"git add {rel} && git commit -q -m {shlex.quote(message)}",
            "description": f"Commit task {number}",
        }
        tool_use_id = f"toolu_{uuid.uuid4().hex[:24]}"
        self.fire("PreToolUse", tool_name="Bash", tool_input=tool_input, tool_use_id=tool_use_id)
        if ask and not self._permitted(tool_input, keyboard):
            return
        started = time.monotonic()
        path = self.cwd / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {subject}\n\nWritten by the stand-in phase lead.\n", encoding="utf-8")
        # Use the user's identity when git has one, as Claude Code would; else a stand-in's.
        has_identity = self._git("var", "GIT_COMMITTER_IDENT").returncode == 0
        added = self._git("add", "--", str(rel))
        committed = self._git("commit", "-q", "-m", message, "--", str(rel),
                              identity=not has_identity)  # fmt: skip
        if added.returncode != 0 or committed.returncode != 0:
            detail = (added.stderr + committed.stderr).strip()
            self.say(f"⏺ git commit failed: {detail}")
            self.log("git_failed", phase=phase, detail=detail)
        response = {
            "stdout": added.stdout + committed.stdout,
            "stderr": added.stderr + committed.stderr,
            "interrupted": False,
            "isImage": False,
        }
        self.fire(
            "PostToolUse",
            tool_name="Bash",
            tool_input=tool_input,
            tool_response=response,
            tool_use_id=tool_use_id,
            duration_ms=round((time.monotonic() - started) * 1000),
        )

    def _permitted(self, tool_input: dict[str, Any], keyboard: str) -> bool:
        """Claude Code's permission dialog: the PermissionRequest hook's decision, else the
        person at the terminal (`keyboard`)."""
        self.say(f"⏺ Bash({tool_input['command']})")
        self.say("  Do you want to proceed?  1. Yes  2. Yes, and don't ask again  3. No")
        suggestions = [
            {
                "type": _SUGGEST_BASH,
                "rules": [{"toolName": "Bash", "ruleContent": "git commit:*"}],
                "behavior": "allow",
                "destination": "localSettings",
            }
        ]
        runs = self.fire(
            "PermissionRequest",
            tool_name="Bash",
            tool_input=tool_input,
            permission_suggestions=suggestions,
        )
        decision = permission_decision(runs)
        if decision is None:
            behavior, source, text = keyboard, "keyboard", ""
        else:
            behavior, source = str(decision["behavior"]), "hook"
            text = str(decision.get("message") or "")
        self.log("permission", tool_name="Bash", behavior=behavior, source=source, message=text)
        if behavior == "allow":
            self.say(f"  ⎿ allowed ({'from the hook' if source == 'hook' else 'at the keyboard'})")
            return True
        self.say(f"  ⎿ denied{': ' + text if text else ''}; not committing")
        return False

    # -- gates ------------------------------------------------------------------------------------

    def _worktree(self) -> Path:
        """STEP 1b of the skill: supervisor-state.json's ``worktree_path``, else the cwd."""
        try:
            state = json.loads((self.cwd / ".claude/tina/supervisor-state.json").read_text())
            named = state.get("worktree_path") if isinstance(state, dict) else None
        except (OSError, ValueError):
            named = None
        return Path(named) if isinstance(named, str) and named else self.cwd

    def _tina_session(self) -> list[str]:
        found = shutil.which("tina-session", path=self.env.get("PATH"))
        return [found] if found else [sys.executable, "-m", "tina.session"]

    def _run_gates(self, plan: Path, started: datetime) -> dict[str, Any] | None:
        worktree = str(self._worktree())
        gates = (
            ("verify", "Verification gate failed", "tina-session check verify",
             ["check", "verify", "--cwd", worktree]),
            ("complexity", "Complexity gate failed", "tina-session check complexity",
             ["check", "complexity", "--cwd", worktree, "--max-file-lines", "400",
              "--max-total-lines", str(_total_lines_budget(plan)),
              "--max-function-lines", "50"]),
        )  # fmt: skip
        for gate, reason, command, args in gates:
            self.say(f"⏺ Bash({command})")
            try:
                result = subprocess.run(
                    [*self._tina_session(), *args],
                    env=self.env,
                    cwd=self.cwd,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    timeout=600,
                    check=False,
                )
                output, code = result.stdout, result.returncode
            except (OSError, subprocess.TimeoutExpired) as exc:
                output, code = str(exc), 1
            self.log("gate_run", gate=gate, exit_code=code)
            if code != 0:
                return {
                    "status": "blocked",
                    "started_at": _iso(started),
                    "blocked_at": _iso(_now()),
                    "reason": reason,
                    "gate": gate,
                    "context": {
                        "command": command,
                        "output": output[:_GATE_OUTPUT_CHARS],
                        "exit_code": code,
                    },
                }
        return None

    # -- die --------------------------------------------------------------------------------------

    def _kill_own_session(self) -> None:
        pane = self.env.get("TMUX_PANE")
        if not pane:
            self.say("⏺ stand-in: asked to kill its tmux session, but it is not in tmux; exiting")
            raise _Crash
        tmux = _tmux_argv(self.env)
        found = subprocess.run(
            [*tmux, "display-message", "-p", "-t", pane, "#{session_id}"],
            env=self.env, capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        session = found.stdout.strip()
        self.say(f"⏺ stand-in: killing tmux session {session or '?'} as the scenario asks")
        if found.returncode == 0 and session:
            subprocess.run(
                [*tmux, "kill-session", "-t", session],
                env=self.env, capture_output=True, timeout=10, check=False,
            )  # fmt: skip
        # The session's end hangs us up (SIGHUP); if it does not come, exit like a crash.
        self.sleep(5.0)
        raise _Crash


def _tmux_argv(env: Mapping[str, str]) -> list[str]:
    """``tmux`` for the server the pane lives on: ``$TINA_TMUX_SOCKET`` (a bare name is ``-L``,
    a path ``-S``), else tmux's own default (``$TMUX`` inside a pane)."""
    socket = env.get(TMUX_SOCKET_ENV)
    if not socket:
        return ["tmux"]
    return ["tmux", "-S" if "/" in socket else "-L", socket]


class _Team:
    """The phase team, its task list and its inboxes, laid out as Claude Code writes them.

    The lead runs without a pane (``tmuxPaneId: ""``) and its teammates in-process; each
    teammate gets an internal tracker task (``metadata._internal``, subject = its name) when it
    joins; assigning a task writes a ``task_assignment`` into the owner's inbox; a teammate that
    finishes a turn goes idle (``isActive: false``) and sends the lead an ``idle_notification``;
    at the end the lead asks each teammate to shut down and each approves. Everything in the
    team's inboxes is marked read as this process (the lead and its in-process teammates) picks
    it up, and a message from outside the team is shown in the pane.
    """

    def __init__(self, lead: Lead, name: str, created: datetime) -> None:
        self.lead = lead
        self.name = name
        directory = team_dir_name(name)
        # In Claude Code's config dir, like its transcripts (`$CLAUDE_CONFIG_DIR` when set).
        config = lead.hooks.claude_dir
        self.config_path = config / "teams" / directory / "config.json"
        self.inboxes = config / "teams" / directory / "inboxes"
        self.tasks_dir = config / "tasks" / directory
        self.created = created
        self.members: list[dict[str, Any]] = [
            {
                "agentId": f"{_LEAD}@{name}",
                "name": _LEAD,
                "agentType": _LEAD,
                "model": MODEL,
                "joinedAt": _ms(created),
                "tmuxPaneId": "",
                "cwd": str(lead.cwd),
                "subscriptions": [],
            }
        ]
        self.tasks: dict[int, dict[str, Any]] = {}
        self.trackers: dict[str, int] = {}
        self.panes: dict[str, str] = {}  # pane teammates this lead opened a tmux pane for
        self.transcripts: dict[str, Transcript] = {}  # each teammate's, by name
        self._config_lock = threading.Lock()
        self._tasks_lock = threading.RLock()  # the story threads add tasks too

    def _write_config(self) -> None:
        phase = phase_of(self.name) or "?"
        with self._config_lock:
            _write_json(
                self.config_path,
                {
                    "name": self.name,
                    "description": f"Phase {phase} execution team",
                    "createdAt": _ms(self.created),
                    "leadAgentId": f"{_LEAD}@{self.name}",
                    "leadSessionId": self.lead.session_id,
                    "members": self.members,
                },
            )

    def create(self, subjects: Sequence[str]) -> None:
        self._write_config()
        self.tasks_dir.mkdir(parents=True, exist_ok=True)
        (self.tasks_dir / ".lock").touch()
        count = len(subjects)
        for number, subject in enumerate(subjects, start=1):
            now = _ms(_now())
            self.tasks[number] = {
                "id": str(number),
                "subject": subject,
                "description": f"{subject}\n\nImplement with TDD.",
                "activeForm": f"Working on {subject.split(': ', 1)[-1]}",
                "status": "pending",
                "owner": "",
                "blocks": [str(number + 1)] if number < count else [],
                "blockedBy": [str(number - 1)] if number > 1 else [],
                "metadata": {"model": "haiku"},
                "createdAt": now,
                "updatedAt": now,
            }
            self._write_task(number)
            self._created(number)

    def _created(self, number: int) -> None:
        task = self.tasks[number]
        self.lead.fire(
            "TaskCreated",
            task_id=task["id"],
            task_subject=task["subject"],
            task_description=task["description"],
            team_name=self.name,
        )

    def add_task(self, subject: str, description: str) -> int:
        """A task the lead adds while the phase runs (the next id), created pending."""
        with self._tasks_lock:
            number = max(self.tasks, default=0) + 1
            now = _ms(_now())
            self.tasks[number] = {
                "id": str(number),
                "subject": subject,
                "description": description,
                "activeForm": f"Working on {subject}",
                "status": "pending",
                "owner": "",
                "blocks": [],
                "blockedBy": [],
                "metadata": {"model": "haiku"},
                "createdAt": now,
                "updatedAt": now,
            }
            self._write_task(number)
        self._created(number)
        return number

    def complete(self, number: int, owner: str) -> None:
        """`owner` completes the task: the TaskCompleted hook first, then the file."""
        task = self.tasks[number]
        self.lead.fire(
            "TaskCompleted",
            task_id=task["id"],
            task_subject=task["subject"],
            task_description=task["description"],
            teammate_name=owner,
            team_name=self.name,
        )
        self.update(number, status="completed")

    def _member(self, name: str) -> dict[str, Any] | None:
        return next((m for m in self.members if m["name"] == name), None)

    def join(self, names: Sequence[str]) -> None:
        """Teammates join once, on the first task; the config is rewritten as each joins, and
        each gets its tracker task (the same id counter as the tasks)."""
        for name in names:
            self.join_one(name)

    def join_one(self, name: str, *, pane: str | None = None, plan_mode: bool = False) -> None:
        """`name` joins in-process, or in the tmux pane `pane` (a pane teammate)."""
        with self._tasks_lock:
            if self._member(name) is not None:
                return
            joined = _ms(_now())
            prompt = f"You are {name} on team {self.name}."
            self.members.append(
                {
                    "agentId": f"{name}@{self.name}",
                    "name": name,
                    "agentType": _AGENT_TYPES.get(name, "general-purpose"),
                    "model": "sonnet",  # the alias given at spawn: TEAMMATE_MODEL
                    "prompt": prompt,
                    "color": _COLORS[(len(self.members) - 1) % len(_COLORS)],
                    "planModeRequired": plan_mode,
                    "joinedAt": joined,
                    "tmuxPaneId": pane or "in-process",
                    "cwd": str(self.lead.cwd),
                    "subscriptions": [],
                    "backendType": "tmux" if pane else "in-process",
                    "isActive": False,
                }
            )
            number = max(self.tasks, default=0) + 1
            self.tasks[number] = {
                "id": str(number),
                "subject": name,
                "description": prompt,
                "status": "in_progress",
                "blocks": [],
                "blockedBy": [],
                "metadata": {"_internal": True},
                "createdAt": joined,
                "updatedAt": joined,
            }
            self.trackers[name] = number
            self._write_task(number)
            self._write_config()
            transcript = self._transcript(name, pane)
            self.transcripts[name] = transcript
        transcript.user(_wrapped(_LEAD, prompt))

    def _transcript(self, name: str, pane: str | None) -> Transcript:
        """An in-process teammate's transcript lies under the lead's session (`subagents/`);
        a pane teammate is a Claude Code session of its own, with a session file of its own."""
        lead = self.lead
        if pane is None:
            agent_id: str | None = f"a{uuid.uuid4().hex[:16]}"
            session = lead.session_id
            path = subagent_path(lead.hooks.claude_dir, lead.cwd, session, str(agent_id))
            write_subagent_meta(
                path,
                name=name,
                team=self.name,
                agent_type=_AGENT_TYPES.get(name, "general-purpose"),
                description=f"{name} on team {self.name}",
                model="sonnet",
            )
        else:
            agent_id, session = None, str(uuid.uuid4())
            path = transcript_path(lead.hooks.claude_dir, lead.cwd, session)
        return Transcript(
            path,
            session_id=session,
            cwd=lead.cwd,
            model=TEAMMATE_MODEL,
            agent_id=agent_id,
            agent_name=name,
            team_name=self.name,
            git_branch=lead.transcript.git_branch,
            on_usage=lead.billed(name),
        )

    def work(self, name: str, text: str, tool: str | None = None, tool_input: Any = None) -> None:
        """One message of teammate `name`'s, in its transcript."""
        transcript = self.transcripts.get(name)
        if transcript is not None:
            transcript.say(text, tool=tool, tool_input=tool_input)

    def _set_active(self, name: str, active: bool) -> None:
        member = self._member(name)
        if member is not None and member.get("isActive") != active:
            member["isActive"] = active
            self._write_config()

    def _send(self, recipient: str, sender: str, text: str) -> None:
        member = self._member(sender)
        color = member.get("color") if member is not None else None
        try:
            append_inbox_message(
                self.inboxes / f"{recipient}.json", sender=sender, text=text, color=color
            )
        except InboxWriteError as exc:
            self.lead.log("inbox_error", recipient=recipient, error=str(exc))

    def _stamp(self) -> str:
        return _now().isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def assign(self, number: int, owner: str) -> None:
        """The lead gives a task to ``owner``: the task file, then a task_assignment."""
        self.update(number, status="in_progress", owner=owner)
        task = self.tasks[number]
        assignment = {
            "type": "task_assignment",
            "taskId": task["id"],
            "subject": task["subject"],
            "description": task["description"],
            "assignedBy": _LEAD,
            "timestamp": self._stamp(),
        }
        self._send(owner, _LEAD, json.dumps(assignment))
        self._set_active(owner, True)
        transcript = self.transcripts.get(owner)
        if transcript is not None:
            transcript.user(_wrapped(_LEAD, json.dumps(assignment)))
        self.work(owner, f"Taking task {task['id']}.", "TaskUpdate",
                  {"taskId": task["id"], "status": "in_progress"})  # fmt: skip

    def idle(self, name: str, summary: str) -> None:
        """``name`` ended its turn: the TeammateIdle hook, idle, and an idle_notification to the
        lead."""
        self.work(name, "Reporting to the lead.", "SendMessage",
                  {"type": "message", "recipient": _LEAD, "summary": summary})  # fmt: skip
        self.lead.fire("TeammateIdle", teammate_name=name, team_name=self.name)
        self._set_active(name, False)
        note = {
            "type": "idle_notification",
            "from": name,
            "timestamp": self._stamp(),
            "idleReason": "available",
            "summary": summary,
        }
        self._send(_LEAD, name, json.dumps(note))
        member = self._member(name)
        color = member.get("color") if member is not None else None
        self.lead.transcript.user(_wrapped(name, json.dumps(note), color=color))
        self.lead.transcript.say(f"{name} is idle.")

    def shutdown(self) -> None:
        """The lead asks every teammate to shut down; each approves and its tracker ends."""
        for member in self.members[1:]:
            name = member["name"]
            request_id = f"shutdown-{_ms(_now())}@{name}"
            request = {"type": "shutdown_request", "requestId": request_id, "from": _LEAD,
                       "reason": "Phase complete", "timestamp": self._stamp()}  # fmt: skip
            self._send(name, _LEAD, json.dumps(request))
            transcript = self.transcripts.get(name)
            if transcript is not None:
                transcript.user(_wrapped(_LEAD, json.dumps(request)))
            self.work(name, "Shutting down.", "SendMessage",
                      {"type": "shutdown_response", "request_id": request_id, "approve": True})  # fmt: skip
            approved = {"type": "shutdown_approved", "requestId": request_id, "from": name,
                        "timestamp": self._stamp(), "backendType": "in-process"}  # fmt: skip
            self._send(_LEAD, name, json.dumps(approved))
            self._set_active(name, False)
            if name in self.trackers:
                self.update(self.trackers[name], status="completed")
            if name in self.panes:  # its process ends, and its pane with it
                self._tmux("kill-pane", "-t", self.panes.pop(name))

    def read_inboxes(self) -> None:
        """Start picking up the team's inbox messages in the background, as Claude Code does
        between turns: each is marked read; one from outside the team is shown in the pane."""
        thread = threading.Thread(target=self._poll_inboxes, name="inboxes", daemon=True)
        thread.start()

    def _poll_inboxes(self) -> None:
        while True:
            try:
                paths = sorted(self.inboxes.glob("*.json"))
            except OSError:
                paths = []
            for path in paths:
                with self.lead.pickup:
                    try:
                        picked = mark_inbox_read(path)
                    except InboxWriteError as exc:
                        self.lead.log("inbox_error", inbox=path.name, error=str(exc))
                        continue
                    for message in picked:
                        if self._member(message.sender) is None:
                            recipient = path.name.removesuffix(".json")
                            self.lead.log(
                                "message",
                                recipient=recipient,
                                sender=message.sender,
                                text=message.text,
                            )
                            self.lead.say(f"⏺ {recipient} got a message from {message.sender}:")
                            self.lead.say(f"  ⎿ {message.text}")
            time.sleep(_INBOX_POLL_SECS)

    def update(self, number: int, **changes: Any) -> None:
        with self._tasks_lock:
            self.tasks[number].update(changes, updatedAt=_ms(_now()))
            self._write_task(number)

    # -- the scenario's stories (each runs in a thread of its own) ------------------------------

    def _tmux(self, *args: str) -> subprocess.CompletedProcess[str] | None:
        try:
            return subprocess.run(
                [*_tmux_argv(self.lead.env), *args],
                env=self.lead.env, capture_output=True, text=True, timeout=10, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired):
            return None

    def open_pane(self, name: str) -> str:
        """A tmux pane for the pane teammate `name` beside the lead's (a window of the lead's
        session), its pane id; outside tmux a made-up id (no daemon watches that laptop)."""
        pane = self.lead.env.get("TMUX_PANE")
        found = (
            self._tmux("display-message", "-p", "-t", pane, "#{session_id}:#{window_id}")
            if pane
            else None
        )
        if found is not None and found.returncode == 0 and found.stdout.strip():
            done = self._tmux(
                "new-window", "-d", "-a", "-t", found.stdout.strip(), "-n", name,
                "-c", str(self.lead.cwd), "-P", "-F", "#{pane_id}", "cat",
            )  # fmt: skip
            if done is not None and done.returncode == 0 and done.stdout.strip():
                self.panes[name] = done.stdout.strip()
                return self.panes[name]
            self.lead.log("pane_error", agent=name, error=done.stderr.strip() if done else "")
        return f"%{900 + len(self.members)}"

    def _take(self, name: str, subject: str, description: str) -> int:
        number = self.add_task(subject, description)
        self.assign(number, name)
        return number

    def _finish_task(self, number: int, name: str, summary: str) -> None:
        self._set_active(name, True)
        self.complete(number, name)
        self.idle(name, summary)

    def teammate_permission(self, scenario: Scenario) -> None:
        """A pane teammate asks the lead for a tool (reference §6, the snake_case keys of a live
        capture); the lead answers `teammate_permission_secs` later."""
        name = PANE_TEAMMATE
        self.join_one(name, pane=self.open_pane(name))
        number = self._take(name, "Run the integration tests", "Run the integration suite.")
        self.lead.sleep(scenario.step_secs)
        request_id = f"perm-{_ms(_now())}-{uuid.uuid4().hex[:7]}"
        tool_input = {"command": "npm run test:integration", "description": "Run the suite"}
        request = {
            "type": "permission_request",
            "request_id": request_id,
            "agent_id": name,
            "tool_name": "Bash",
            "tool_use_id": f"toolu_{uuid.uuid4().hex[:24]}",
            "description": "Run the integration suite",
            "input": tool_input,
            "permission_suggestions": [
                {
                    "type": _SUGGEST_BASH,
                    "rules": [{"toolName": "Bash", "ruleContent": "npm run test:*"}],
                    "behavior": "allow",
                    "destination": "localSettings",
                }
            ],
        }
        self._send(_LEAD, name, json.dumps(request))
        self.lead.log("teammate_permission", agent=name, request_id=request_id)
        self.lead.sleep(scenario.teammate_permission_secs or 0.0)
        response = {
            "type": "permission_response",
            "request_id": request_id,
            "subtype": "success",
            "response": {"updated_input": tool_input, "permission_updates": []},
        }
        self._send(name, _LEAD, json.dumps(response))
        self.lead.say(f"⏺ Allowed {name} to run: {tool_input['command']}")
        self.work(name, "Running the integration tests.", "Bash", tool_input)
        self.lead.sleep(scenario.step_secs)
        self._finish_task(number, name, "Integration tests pass")

    def plan_approval(self, scenario: Scenario) -> None:
        """A teammate in plan mode asks the lead to approve its plan; approved
        `plan_approval_secs` later."""
        name = PLAN_TEAMMATE
        self.join_one(name, plan_mode=True)
        number = self._take(name, "Plan the rollout", "Plan how the change is rolled out.")
        self.lead.sleep(scenario.step_secs)
        self.work(name, "Looking up how such rollouts are staged.", "WebSearch",
                  {"query": "staged rollout behind a feature flag"})  # fmt: skip
        self.work(name, "Here is the rollout plan.", "ExitPlanMode", {"plan": "(the rollout plan)"})
        request_id = f"plan_approval-{_ms(_now())}@{name}"
        request = {
            "type": "plan_approval_request",
            "from": name,
            "timestamp": self._stamp(),
            "planContent": _PLAN_TEXT,
            "requestId": request_id,
        }
        self._send(_LEAD, name, json.dumps(request))
        self.lead.log("plan_approval", agent=name, request_id=request_id)
        self.lead.sleep(scenario.plan_approval_secs or 0.0)
        response = {
            "type": "plan_approval_response",
            "request_id": request_id,
            "approve": True,
            "content": "Approved: go ahead.",
            "from": _LEAD,
            "timestamp": self._stamp(),
        }
        self._send(name, _LEAD, json.dumps(response))
        self.lead.say(f"⏺ Approved {name}'s plan")
        self.lead.sleep(scenario.step_secs)
        self._finish_task(number, name, "Rollout plan approved and written down")

    def idle_with_task(self, scenario: Scenario) -> None:
        """A teammate takes a task and goes idle with it open for `idle_with_task_secs`."""
        name = IDLE_TEAMMATE
        self.join_one(name)
        number = self._take(name, "Review the phase against the spec", "Compare with the spec.")
        self.lead.sleep(scenario.step_secs)
        self.idle(name, "Waiting for the worker before reviewing")
        self.lead.log("idle_with_task", agent=name, task=str(number))
        self.lead.sleep(scenario.idle_with_task_secs or 0.0)
        self._send(name, _LEAD, "The work is in: please review it now.")
        self.lead.sleep(scenario.step_secs)
        self._finish_task(number, name, "Reviewed: matches the spec")

    def stall(self, scenario: Scenario) -> None:
        """A teammate takes a task and goes silent, still working, for `stall_secs`."""
        name = STALL_TEAMMATE
        self.join_one(name)
        number = self._take(name, "Check the code quality", "Look for duplication and naming.")
        self.lead.log("stall", agent=name, task=str(number))
        self.lead.sleep(scenario.stall_secs or 0.0)
        self._finish_task(number, name, "Code quality checked")

    def _write_task(self, number: int) -> None:
        _write_json(self.tasks_dir / f"{number}.json", self.tasks[number])


def _wrapped(sender: str, text: str, *, color: str | None = None) -> str:
    """A message as it reaches an agent's model (reference §7.1): the attributes only when set."""
    colored = f' color="{color}"' if color else ""
    return f'<teammate-message teammate_id="{sender}"{colored}>\n{text}\n</teammate-message>'


def _plan_tasks(plan: Path, count: int) -> list[str]:
    """``count`` task subjects, named after the plan's ``### Task N: ...`` headings if any."""
    try:
        text = plan.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    titles = re.findall(r"^###\s+Task\s+\d+\s*:\s*(.+?)\s*$", text, flags=re.MULTILINE)
    return [
        f"Task {n}: {titles[n - 1] if n <= len(titles) else f'simulated work item {n}'}"
        for n in range(1, count + 1)
    ]


def _total_lines_budget(plan: Path) -> int:
    """The plan's Complexity Budget total-lines limit (a table row naming "total"), else 2000."""
    try:
        text = plan.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return 2000
    _, _, budget = text.partition("Complexity Budget")
    for row in budget.splitlines():
        if row.startswith("|") and "total" in row.lower():
            numbers = re.findall(r"\d[\d,]*", row)
            if numbers:
                return int(numbers[-1].replace(",", ""))
    return 2000


# --- the program ---------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    if "--version" in args or "-v" in args:
        print(VERSION)
        return 0
    cwd = Path.cwd()
    lead = Lead(sys.stdout, env, cwd)
    lead.hooks.permission_mode = permission_mode(args)
    lead.log("start", argv=[env.get(ARGV0_ENV, "claude"), *args], cwd=str(cwd))
    tty = sys.stdout.isatty()
    doc, errors = load_scenario(env)
    delay, more = pick(doc, "", 0)
    for sig in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, _hang_up)
    try:
        lead.say("✻ Welcome to Claude Code (tina stand-in)")
        lead.say(f"  cwd: {cwd}")
        for error in [*errors, *more]:
            lead.say(f"⏺ stand-in scenario error: {error} (using the defaults for it)")
        if delay.ready_delay_secs:
            time.sleep(delay.ready_delay_secs)
        lead.start_session()
        if tty:
            sys.stdout.write("\x1b[?2004h")  # bracketed paste, as Claude Code's input box asks
        lead.footer()
        lead.prompt()
        for line in sys.stdin:
            lead.handle(line)
        with lead.pickup:  # a message already marked read is shown first
            lead.end_session("prompt_input_exit")
        lead.log("exit", code=0)
        return 0
    except _Crash:
        lead.log("exit", code=1)
        return 1
    except _Hangup as hangup:
        # The terminal is gone or we were told to stop: Claude Code still runs SessionEnd.
        for sig in (signal.SIGHUP, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        lead.end_session("other")
        lead.log("exit", code=128 + hangup.signum, signal=signal.Signals(hangup.signum).name)
        return 128 + hangup.signum
    except KeyboardInterrupt:
        return 130
    finally:
        if tty:
            try:
                sys.stdout.write("\x1b[?2004l")
                sys.stdout.flush()
            except (OSError, ValueError):
                pass


def permission_mode(args: Sequence[str]) -> str:
    """The session's permission mode from Claude Code's command line."""
    if "--dangerously-skip-permissions" in args:
        return "bypassPermissions"
    if "--permission-mode" in args:
        i = args.index("--permission-mode")
        if i + 1 < len(args):
            return args[i + 1]
    return "default"


def install(bin_dir: Path) -> Path:
    """Writes an executable ``claude`` into ``bin_dir`` that runs this stand-in; returns it."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "claude"
    script = (
        "#!/bin/sh\n"
        "# tina simulator: a stand-in for Claude Code as a phase lead (tina.dev.sim.standin_claude)\n"
        f'{ARGV0_ENV}="$0"\n'
        f"export {ARGV0_ENV}\n"
        f'exec {shlex.quote(sys.executable)} -P -m tina.dev.sim.standin_claude "$@"\n'
    )
    path.write_text(script, encoding="utf-8")
    path.chmod(0o755)
    return path


if __name__ == "__main__":
    sys.exit(main())
