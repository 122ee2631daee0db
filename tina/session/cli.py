"""``tina-session``: the orchestration state machine's command line.

Flag-style like the original (``orchestrate advance --feature F --phase P --event E``). Every
command prints exactly one JSON object on stdout: ``{"ok": true, ...}`` on success,
``{"ok": false, "error": {"code": ..., "message": ...}}`` on failure (plus one human line on
stderr). Exit codes: 0 success, 1 the command failed (unknown feature, refused transition, git or
tmux failure...), 2 usage error (bad flags or flag values: feature/phase names, event names,
missing inputs an event needs).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from ..local import paths
from ..local._convert import format_timestamp, unstructure
from ..local.errors import ReadError
from ..local.models import (
    ApprovalPolicy,
    ModelPolicy,
    OrchestrationStatus,
    PhaseStatus,
    SessionLookup,
    SupervisorState,
)
from ..local.names import (
    InvalidName,
    phase_tmux_session,
    validate_feature,
    validate_phase,
)
from ..local.readers import list_session_lookups, read_supervisor_state
from . import git, store, tmux
from .actions import action_to_dict
from .machine import (
    VALIDATION_PHASE,
    Event,
    EventDraft,
    EventKind,
    InvalidInput,
    PlanFinder,
    Transition,
    TransitionError,
    apply,
    block_phase,
    complete_phase,
    next_action,
    update_status,
)

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

MAX_TOTAL_PHASES = 99

Result = dict[str, Any]


class CommandError(Exception):
    """A failed command: becomes the JSON error object and the exit code."""

    def __init__(self, code: str, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.exit_code = exit_code


def _usage(message: str, code: str = "invalid_argument") -> CommandError:
    return CommandError(code, message, EXIT_USAGE)


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("tina-session").strip()
        raise _UsageError(f"{command}: {message}" if command else message)


def _now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------------------------
# argument checks


def _feature(value: str) -> str:
    try:
        return validate_feature(value)
    except InvalidName as exc:
        raise _usage(str(exc)) from None


def _phase(value: str, *, allow_validation: bool = False) -> str:
    if allow_validation and value == VALIDATION_PHASE:
        return value
    try:
        return validate_phase(value)
    except InvalidName as exc:
        raise _usage(str(exc)) from None


def _git_range(value: str) -> str:
    start, sep, end = value.partition("..")
    ok = (
        sep
        and start
        and end
        and not end.startswith(".")
        and not start.startswith("-")
        and not end.startswith("-")
        and not any(ch.isspace() for ch in value)
    )
    if not ok:
        raise _usage(f"invalid git range {value!r}: expected <rev>..<rev>, e.g. 4e1a9c0..b7d2f31")
    return value


def _existing_file(value: str, what: str) -> Path:
    path = Path(value).expanduser().resolve()
    if not path.is_file():
        raise _usage(f"{what} {value!r} is not an existing file")
    return path


def _split_issues(values: Sequence[str] | None) -> tuple[str, ...]:
    """``--issues`` may repeat; each value is also split on commas (as the original did)."""
    issues: list[str] = []
    for value in values or ():
        issues.extend(part.strip() for part in value.split(","))
    return tuple(issue for issue in issues if issue)


def _feedback(values: Sequence[str] | None) -> tuple[str, ...]:
    """Operator feedback is free text: one item per ``--issues``, commas kept."""
    return tuple(value.strip() for value in values or () if value.strip())


def _reason(values: Sequence[str] | None) -> str | None:
    text = "; ".join(value.strip() for value in values or () if value.strip())
    return text or None


# --------------------------------------------------------------------------------------------
# shared steps


def _worktree_for(feature: str) -> Path:
    try:
        lookup = store.load_lookup(feature)
    except store.StoreError as exc:
        raise CommandError(exc.code, str(exc)) from None
    return Path(lookup.worktree_path)


def _load(feature: str, worktree: Path) -> SupervisorState:
    try:
        state = store.load_state(worktree)
    except store.StoreError as exc:
        raise CommandError(exc.code, str(exc)) from None
    if state.feature != feature:
        raise CommandError(
            "state_unreadable",
            f"{paths.state_path(worktree)} belongs to feature {state.feature!r}, not {feature!r}",
        )
    return state


def _commit(worktree: Path, feature: str, transition: Transition, now: datetime) -> None:
    """Save the new state, then journal what happened."""
    store.save_state(worktree, transition.state)
    store.append_events(worktree, store.make_entries(feature, transition.events, now))


def _transition(
    feature: str,
    change: Callable[[SupervisorState, datetime], Transition],
    worktree: Path | None = None,
) -> Transition:
    """Load, change, save and journal under the worktree lock."""
    worktree = worktree or _worktree_for(feature)
    with store.locked(worktree):
        state = _load(feature, worktree)
        now = _now()
        try:
            transition = change(state, now)
        except TransitionError as exc:
            exit_code = EXIT_USAGE if isinstance(exc, InvalidInput) else EXIT_FAILED
            raise CommandError(exc.code, str(exc), exit_code) from None
        _commit(worktree, feature, transition, now)
    return transition


def _plan_finder(worktree: Path, feature: str) -> PlanFinder:
    """Reuse a plan that already exists: the phase's own, or ``docs/plans/*-<f>-phase-<P>.md``."""

    def find(phase: str, current: str | None) -> str | None:
        if current and Path(current).is_file():
            return current
        matches = sorted(paths.plans_dir(worktree).glob(f"*-{feature}-phase-{phase}.md"))
        return str(matches[-1]) if matches else None

    return find


def _phase_summary(state: SupervisorState) -> Result:
    return {
        "status": state.status.value,
        "current_phase": state.current_phase,
        "total_phases": state.total_phases,
        "paused": state.paused,
    }


# --------------------------------------------------------------------------------------------
# commands


def cmd_init(args: argparse.Namespace) -> Result:
    feature = _feature(args.feature)
    total = args.total_phases
    if not 1 <= total <= MAX_TOTAL_PHASES:
        raise _usage(f"--total-phases must be between 1 and {MAX_TOTAL_PHASES}, got {total}")
    cwd = Path(args.cwd).expanduser().resolve()
    if not cwd.is_dir():
        raise _usage(f"--cwd {args.cwd!r} is not an existing directory")
    spec_doc = _existing_file(args.spec_doc, "--design-doc")
    try:
        repo = git.repo_toplevel(cwd)
        if repo is None:
            raise _usage(f"--cwd {str(cwd)!r} is not inside a git repository")
        branch = args.branch or f"tina/{feature}"
        if not git.is_valid_branch_name(repo, branch):
            raise _usage(f"--branch {branch!r} is not a valid git branch name")
        lookup_path = paths.session_lookup_path(feature)
        if lookup_path.exists():
            raise CommandError(
                "already_initialized",
                f"feature {feature!r} is already initialized ({lookup_path}); "
                "run `tina-session cleanup` first to start over",
            )
        worktree = paths.worktree_path_for(repo, feature)
        if worktree.exists():
            raise CommandError("worktree_exists", f"worktree {worktree} already exists")
        paths.worktrees_dir(repo).mkdir(exist_ok=True)
        gitignore_changed = git.ensure_ignored(repo)
        if git.branch_exists(repo, branch):
            branch = f"{branch}-{_now().strftime('%Y%m%d%H%M%S')}"
        git.add_worktree(repo, worktree, branch)
    except git.GitError as exc:
        raise CommandError(exc.code, str(exc)) from None

    now = _now()
    state = SupervisorState(
        feature=feature,
        spec_doc=str(spec_doc),
        worktree_path=str(worktree),
        branch=branch,
        total_phases=total,
        current_phase=1,
        status=OrchestrationStatus.PLANNING,
        orchestration_started_at=now,
        model_policy=ModelPolicy(review_consensus=args.review_consensus),
        approval_policy=ApprovalPolicy(require_plan_approval=args.require_plan_approval),
    )
    tina_dir = paths.tina_dir(worktree)
    tina_dir.mkdir(parents=True, exist_ok=True)
    # Keep tina's own files out of the agents' commits.
    (tina_dir / ".gitignore").write_text("*\n")
    draft = EventDraft(
        type="orchestration_started",
        summary=f"Orchestration {feature} initialized with {total} phase(s)",
        detail={
            "branch": branch,
            "spec_doc": str(spec_doc),
            "total_phases": total,
            "require_plan_approval": args.require_plan_approval,
        },
    )
    with store.locked(worktree):
        _commit(
            worktree,
            feature,
            Transition(state=state, action=next_action(state), events=(draft,)),
            now,
        )
    # The lookup goes last: whoever discovers it finds a complete worktree.
    store.save_lookup(
        SessionLookup(
            feature=feature, worktree_path=str(worktree), repo_root=str(repo), created_at=now
        )
    )
    return {
        "feature": feature,
        "worktree_path": str(worktree),
        "repo_root": str(repo),
        "branch": branch,
        "spec_doc": str(spec_doc),
        "total_phases": total,
        "require_plan_approval": args.require_plan_approval,
        "state_path": str(paths.state_path(worktree)),
        "lookup_path": str(lookup_path),
        "gitignore_updated": gitignore_changed,
    }


def cmd_next(args: argparse.Namespace) -> Result:
    feature = _feature(args.feature)
    worktree = _worktree_for(feature)
    state = _load(feature, worktree)
    return {"feature": feature, **action_to_dict(next_action(state))}


def _event_kind(value: str) -> EventKind:
    try:
        return EventKind(value)
    except ValueError:
        valid = ", ".join(kind.value for kind in EventKind)
        raise _usage(f"unknown event {value!r}; valid events: {valid}", "unknown_event") from None


def cmd_advance(args: argparse.Namespace) -> Result:
    feature = _feature(args.feature)
    kind = _event_kind(args.event)
    phase = _phase(args.phase, allow_validation=True)
    plan_path = None
    if args.plan_path is not None:
        plan_path = str(_existing_file(args.plan_path, "--plan-path"))
    git_range = _git_range(args.git_range) if args.git_range is not None else None
    if kind is EventKind.PLAN_COMPLETE and plan_path is None:
        raise _usage("event plan_complete needs --plan-path")
    if kind is EventKind.EXECUTE_COMPLETE and git_range is None:
        raise _usage("event execute_complete needs --git-range")
    if kind is EventKind.PLAN_REJECTED:
        issues = _feedback(args.issues)
        if not issues:
            raise _usage("event plan_rejected needs the feedback in --issues")
    else:
        issues = _split_issues(args.issues)
    event = Event(
        kind=kind,
        phase=phase,
        plan_path=plan_path,
        git_range=git_range,
        issues=issues,
        reason=_reason(args.issues),
    )
    worktree = _worktree_for(feature)
    finder = _plan_finder(worktree, feature)
    transition = _transition(
        feature, lambda state, now: apply(state, event, now, find_plan=finder), worktree
    )
    return {"feature": feature, **action_to_dict(transition.action)}


def cmd_state_show(args: argparse.Namespace) -> Result:
    feature = _feature(args.feature)
    worktree = _worktree_for(feature)
    state = _load(feature, worktree)
    if args.phase is not None:
        phase = _phase(args.phase)
        found = state.phase(phase)
        if found is None:
            raise CommandError("phase_not_found", f"Phase {phase!r} not found in {feature!r}")
        return {"feature": feature, "phase": phase, "phase_state": unstructure(found)}
    return {
        "feature": feature,
        "state_path": str(paths.state_path(worktree)),
        "state": unstructure(state),
        "next": action_to_dict(next_action(state)),
    }


def _manual_result(feature: str, phase: str, transition: Transition) -> Result:
    found = transition.state.phase(phase)
    return {
        "feature": feature,
        "phase": phase,
        "phase_state": unstructure(found) if found is not None else None,
        "orchestration": _phase_summary(transition.state),
        "next": action_to_dict(transition.action),
    }


def cmd_state_update(args: argparse.Namespace) -> Result:
    feature = _feature(args.feature)
    phase = _phase(args.phase)
    status = PhaseStatus(args.status)
    plan_path = None
    if args.plan_path is not None:
        plan_path = str(_existing_file(args.plan_path, "--plan-path"))
    transition = _transition(
        feature, lambda state, now: update_status(state, phase, status, now, plan_path=plan_path)
    )
    return _manual_result(feature, phase, transition)


def cmd_state_phase_complete(args: argparse.Namespace) -> Result:
    feature = _feature(args.feature)
    phase = _phase(args.phase)
    git_range = _git_range(args.git_range)
    transition = _transition(
        feature, lambda state, now: complete_phase(state, phase, git_range, now)
    )
    return _manual_result(feature, phase, transition)


def cmd_state_blocked(args: argparse.Namespace) -> Result:
    feature = _feature(args.feature)
    phase = _phase(args.phase)
    reason = args.reason.strip()
    if not reason:
        raise _usage("--reason must not be empty")
    transition = _transition(feature, lambda state, now: block_phase(state, phase, reason, now))
    return _manual_result(feature, phase, transition)


def cmd_send(args: argparse.Namespace) -> Result:
    feature = _feature(args.feature)
    phase = _phase(args.phase)
    if not args.text:
        raise _usage("--text must not be empty")
    try:
        tmux.check_text(args.text)
    except tmux.UnsafeText as exc:
        raise _usage(str(exc), exc.code) from None
    # The pane must be the phase agent's: in its session, inside the worktree, not a shell.
    worktree = _worktree_for(feature)
    session = phase_tmux_session(feature, phase)
    try:
        tmux.send_text(session, args.text, roots=[str(worktree)])
    except tmux.TmuxError as exc:
        raise CommandError(exc.code, str(exc)) from None
    return {"feature": feature, "phase": phase, "session": session, "chars": len(args.text)}


def cmd_list(args: argparse.Namespace) -> Result:
    lookups, errors = list_session_lookups(paths.sessions_dir())
    items: list[Result] = []
    for lookup in lookups:
        item: Result = {
            "feature": lookup.feature,
            "worktree_path": lookup.worktree_path,
            "repo_root": lookup.repo_root,
            "created_at": format_timestamp(lookup.created_at) if lookup.created_at else None,
        }
        try:
            state = read_supervisor_state(paths.state_path(Path(lookup.worktree_path)))
        except ReadError as exc:
            item["error"] = str(exc)
        else:
            item.update(_phase_summary(state))
            item["paused_phase"] = state.paused_phase
        items.append(item)
    return {
        "orchestrations": items,
        "errors": [{"path": error.path, "message": str(error)} for error in errors],
    }


def cmd_cleanup(args: argparse.Namespace) -> Result:
    feature = _feature(args.feature)
    lookup_path = paths.session_lookup_path(feature)
    worktree = _worktree_for(feature)
    journaled = False
    if paths.tina_dir(worktree).is_dir():
        draft = EventDraft(
            type="cleanup",
            summary=f"Orchestration {feature} cleaned up (session lookup removed)",
            detail={"lookup_path": str(lookup_path)},
        )
        with store.locked(worktree):
            store.append_events(worktree, store.make_entries(feature, (draft,)))
        journaled = True
    lookup_path.unlink(missing_ok=True)
    return {
        "feature": feature,
        "removed": str(lookup_path),
        "worktree_path": str(worktree),
        "journaled": journaled,
    }


# --------------------------------------------------------------------------------------------
# parser


class _AppendText(argparse._AppendAction):
    """``action="append"`` for free text. Python's argparse (3.11) drops an explicit value of
    exactly ``--`` (``--issues=--``), taking it for the end of the options, and hands the action
    an empty list: that value was ``--``."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        super().__call__(parser, namespace, "--" if values == [] else values, option_string)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tina-session",
        description="tina orchestration state machine. Every command prints one JSON object.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", help="create the worktree and the orchestration state")
    init.add_argument("--feature", required=True)
    init.add_argument("--cwd", required=True, help="the git repository (any directory in it)")
    init.add_argument("--design-doc", "--spec-doc", dest="spec_doc", required=True)
    init.add_argument("--branch", help="branch to create (default: tina/<feature>)")
    init.add_argument("--total-phases", type=int, required=True)
    init.add_argument("--require-plan-approval", action="store_true")
    init.add_argument("--review-consensus", action="store_true")
    init.set_defaults(handler=cmd_init)

    orchestrate = commands.add_parser("orchestrate", help="drive the state machine")
    orch = orchestrate.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    nxt = orch.add_parser("next", help="print the next action (changes nothing)")
    nxt.add_argument("--feature", required=True)
    nxt.set_defaults(handler=cmd_next)
    advance = orch.add_parser("advance", help="apply an event and print the next action")
    advance.add_argument("--feature", required=True)
    advance.add_argument("--phase", required=True, help="phase number, or 'validation'")
    advance.add_argument("--event", required=True, help=", ".join(kind.value for kind in EventKind))
    advance.add_argument(
        "--issues",
        action=_AppendText,
        help="review gaps (comma-separated), plan feedback, or a reason; may repeat",
    )
    advance.add_argument("--plan-path")
    advance.add_argument("--git-range")
    advance.set_defaults(handler=cmd_advance)

    state = commands.add_parser("state", help="inspect or manually change the state")
    st = state.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    show = st.add_parser("show", help="print the state (or one phase)")
    show.add_argument("--feature", required=True)
    show.add_argument("--phase")
    show.set_defaults(handler=cmd_state_show)
    update = st.add_parser("update", help="move a phase to another status")
    update.add_argument("--feature", required=True)
    update.add_argument("--phase", required=True)
    update.add_argument(
        "--status",
        required=True,
        choices=[s.value for s in PhaseStatus if s not in (PhaseStatus.COMPLETE,)],
    )
    update.add_argument("--plan-path")
    update.set_defaults(handler=cmd_state_update)
    done = st.add_parser("phase-complete", help="mark a reviewing phase complete")
    done.add_argument("--feature", required=True)
    done.add_argument("--phase", required=True)
    done.add_argument("--git-range", required=True)
    done.set_defaults(handler=cmd_state_phase_complete)
    blocked = st.add_parser("blocked", help="block a phase with a reason")
    blocked.add_argument("--feature", required=True)
    blocked.add_argument("--phase", required=True)
    blocked.add_argument("--reason", required=True)
    blocked.set_defaults(handler=cmd_state_blocked)

    send = commands.add_parser(
        "send", help="paste text into the phase agent's tmux pane and press Enter"
    )
    send.add_argument("--feature", required=True)
    send.add_argument("--phase", required=True)
    send.add_argument("--text", required=True)
    send.set_defaults(handler=cmd_send)

    lst = commands.add_parser("list", help="list orchestrations on this machine")
    lst.set_defaults(handler=cmd_list)

    cleanup = commands.add_parser("cleanup", help="forget a feature (removes its session lookup)")
    cleanup.add_argument("--feature", required=True)
    cleanup.set_defaults(handler=cmd_cleanup)
    return parser


def _emit(result: Result) -> None:
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _fail(code: str, message: str, exit_code: int) -> int:
    _emit({"ok": False, "error": {"code": code, "message": message}})
    sys.stderr.write(f"tina-session: error: {message}\n")
    return exit_code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        return _fail("usage", str(exc), EXIT_USAGE)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    handler: Callable[[argparse.Namespace], Result] = args.handler
    try:
        result = handler(args)
    except CommandError as exc:
        return _fail(exc.code, exc.message, exc.exit_code)
    except store.StoreError as exc:
        return _fail(exc.code, str(exc), EXIT_FAILED)
    except OSError as exc:
        return _fail("io_error", str(exc), EXIT_FAILED)
    except Exception as exc:  # a bug: still answer in JSON, keep the traceback on stderr
        code = _fail("internal", f"{type(exc).__name__}: {exc}", EXIT_FAILED)
        traceback.print_exc()
        return code
    _emit({"ok": True, **result})
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
