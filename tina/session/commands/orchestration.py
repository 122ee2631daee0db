"""``init``, ``state``, ``orchestrate``, ``list`` and ``cleanup``: the orchestration's state.

Outputs follow the original CLI (``reference/tina-session-cli.md`` §3.1, §3.11-3.18): ``init``
prints the worktree path, ``orchestrate`` prints the bare action as one compact JSON line, the
``state`` commands print one human line (``state show`` a layout or pretty JSON), ``list`` a
fixed-width table. Failures are ``Error: <message>`` on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ...local import paths
from ...local._convert import unstructure
from ...local.encode import encode_supervisor_state
from ...local.errors import ReadError
from ...local.models import (
    ApprovalPolicy,
    ModelPolicy,
    OrchestrationStatus,
    PhaseState,
    PhaseStatus,
    SessionLookup,
    SupervisorState,
)
from ...local.readers import list_session_lookups, read_session_lookup, read_supervisor_state
from .. import git, statusline, store
from .._common import (
    EXIT_FAILED,
    EXIT_OK,
    CommandError,
    add_feature,
    add_phase,
    check_feature,
    check_phase,
    command_parser,
    load_state,
    now,
    print_json,
    warn,
    worktree_for,
)
from ..actions import action_to_dict
from ..machine import (
    VALIDATION_PHASE,
    Event,
    EventDraft,
    EventKind,
    PlanFinder,
    Transition,
    TransitionError,
    apply,
    block_phase,
    complete_phase,
    next_action,
    phase_beyond_total,
    update_status,
)

__all__ = ["register"]

MAX_TOTAL_PHASES = 99

# `Unknown event` lists the original's events in its order, then tina's operator events.
_EVENT_ORDER = (
    EventKind.PLAN_COMPLETE,
    EventKind.EXECUTE_COMPLETE,
    EventKind.EXECUTE_STARTED,
    EventKind.REVIEW_PASS,
    EventKind.REVIEW_GAPS,
    EventKind.RETRY,
    EventKind.VALIDATION_PASS,
    EventKind.VALIDATION_WARNING,
    EventKind.VALIDATION_STOP,
    EventKind.ERROR,
    EventKind.PAUSE,
    EventKind.RESUME,
    EventKind.PLAN_APPROVED,
    EventKind.PLAN_REJECTED,
)
assert set(_EVENT_ORDER) == set(EventKind)
VALID_EVENTS = ", ".join(kind.value for kind in _EVENT_ORDER)

_ICONS = {
    PhaseStatus.COMPLETE: "✓",
    PhaseStatus.EXECUTING: "▶",
    PhaseStatus.REVIEWING: "▶",
    PhaseStatus.BLOCKED: "✗",
}


# --------------------------------------------------------------------------------------------
# shared steps


def _load(feature: str, worktree: Path) -> SupervisorState:
    path = paths.state_path(worktree)
    if not path.exists():
        raise CommandError(f"File not found: {path}")
    return load_state(feature, worktree)


def _transition(
    feature: str,
    worktree: Path,
    change: Callable[[SupervisorState, datetime], Transition],
) -> Transition:
    """Load, change, save and journal under the worktree's lock."""
    with store.locked(worktree):
        state = _load(feature, worktree)
        stamp = now()
        try:
            transition = change(state, stamp)
        except TransitionError as exc:
            raise CommandError(str(exc)) from None
        store.save_state(worktree, transition.state)
        store.append_events(worktree, store.make_entries(feature, transition.events, stamp))
    return transition


def _existing_file(value: str, worktree: Path | None = None) -> str:
    """An existing file's absolute path: a relative path is tried in the worktree first, then
    in the current directory."""
    given = Path(value).expanduser()
    candidates = [given] if given.is_absolute() else []
    if not given.is_absolute():
        if worktree is not None:
            candidates.append(worktree / given)
        candidates.append(Path.cwd() / given)
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate.resolve())
    raise CommandError(f"File not found: {value}")


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
        raise CommandError(
            f"Invalid git range '{value}': expected <rev>..<rev>, e.g. 4e1a9c0..b7d2f31"
        )
    return value


def _plan_finder(worktree: Path, feature: str) -> PlanFinder:
    """Reuse a plan that already exists: the phase's own, or ``docs/plans/*-<f>-phase-<P>.md``."""

    def find(phase: str, current: str | None) -> str | None:
        if current and Path(current).is_file():
            return current
        matches = sorted(paths.plans_dir(worktree).glob(f"*-{feature}-phase-{phase}.md"))
        return str(matches[-1]) if matches else None

    return find


def _refuse_beyond_total(state: SupervisorState, phase: str) -> None:
    message = phase_beyond_total(state, phase)
    if message is not None:
        raise CommandError(message)


# --------------------------------------------------------------------------------------------
# init


def _total_phases(value: str) -> int:
    try:
        total = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer: {value!r}") from None
    if not 1 <= total <= MAX_TOTAL_PHASES:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_TOTAL_PHASES}, got {total}")
    return total


def _already_initialized(feature: str, lookup_path: Path) -> CommandError:
    try:
        where = read_session_lookup(lookup_path).worktree_path
    except ReadError:
        where = str(lookup_path)
    return CommandError(f"Feature '{feature}' already initialized at {where}")


def _add_worktree(repo: Path, worktree: Path, branch: str) -> str:
    """``git worktree add -b <branch>``; if that fails, once more on ``<branch>-<UTC stamp>``."""
    try:
        git.add_worktree(repo, worktree, branch)
        return branch
    except git.GitError:
        pass
    stamped = f"{branch}-{now().strftime('%Y%m%d%H%M%S')}"
    try:
        git.add_worktree(repo, worktree, stamped)
    except git.GitError as exc:
        raise CommandError(f"Failed to create git worktree: {exc.detail}") from None
    return stamped


def cmd_init(args: argparse.Namespace) -> int:
    feature = check_feature(args.feature)
    cwd = Path(args.cwd).expanduser()
    if not cwd.exists():
        raise CommandError(f"Directory not found: {args.cwd}")
    if not cwd.is_dir():
        raise CommandError(f"Directory not found: {args.cwd} is not a directory")
    design = Path(args.design_doc).expanduser()
    if not design.is_file():
        raise CommandError(f"File not found: {args.design_doc}")
    lookup_path = paths.session_lookup_path(feature)
    if lookup_path.exists():
        raise _already_initialized(feature, lookup_path)
    cwd, design = cwd.resolve(), design.resolve()
    try:
        repo = git.repo_toplevel(cwd)
        if repo is None:
            raise CommandError(f"Not a git repository: {cwd}")
        branch = args.branch if args.branch is not None else f"tina/{feature}"
        if not git.is_valid_branch_name(repo, branch):
            raise CommandError(f"Invalid branch name: '{branch}'")
        paths.worktrees_dir(repo).mkdir(exist_ok=True)
        git.ensure_ignored(repo)
        worktree = paths.worktree_path_for(repo, feature)
        if worktree.exists():
            raise CommandError(
                f"Worktree path already exists: {worktree}. "
                "Clean up or use a different feature name."
            )
        branch = _add_worktree(repo, worktree, branch)
    except git.GitError as exc:
        raise CommandError(str(exc)) from None

    for warning in statusline.install(worktree):
        warn(warning)
    started = now()
    state = SupervisorState(
        feature=feature,
        spec_doc=str(design),
        worktree_path=str(worktree),
        branch=branch,
        total_phases=args.total_phases,
        current_phase=1,
        status=OrchestrationStatus.PLANNING,
        orchestration_started_at=started,
        model_policy=ModelPolicy(review_consensus=args.review_consensus),
        approval_policy=ApprovalPolicy(require_plan_approval=args.require_plan_approval),
    )
    tina_dir = paths.tina_dir(worktree)
    tina_dir.mkdir(parents=True, exist_ok=True)
    # Keep tina's own files out of the agents' commits.
    (tina_dir / ".gitignore").write_text("*\n")
    draft = EventDraft(
        type="orchestration_started",
        summary=f"Orchestration {feature} initialized with {args.total_phases} phase(s)",
        detail={
            "branch": branch,
            "spec_doc": str(design),
            "total_phases": args.total_phases,
            "require_plan_approval": args.require_plan_approval,
            "review_consensus": args.review_consensus,
        },
    )
    with store.locked(worktree):
        store.save_state(worktree, state)
        store.append_events(worktree, store.make_entries(feature, (draft,), started))
    # The lookup goes last: whoever discovers it finds a complete worktree.
    store.save_lookup(
        SessionLookup(
            feature=feature, worktree_path=str(worktree), repo_root=str(repo), created_at=started
        )
    )
    sys.stdout.write(f"{worktree}\n")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# orchestrate


def cmd_next(args: argparse.Namespace) -> int:
    feature = check_feature(args.feature)
    state = _load(feature, worktree_for(feature))
    print_json(action_to_dict(next_action(state)))
    return EXIT_OK


def _event_kind(value: str) -> EventKind:
    try:
        return EventKind(value)
    except ValueError:
        raise CommandError(f"Unknown event '{value}'. Valid events: {VALID_EVENTS}") from None


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


def cmd_advance(args: argparse.Namespace) -> int:
    feature = check_feature(args.feature)
    kind = _event_kind(args.event)
    phase = args.phase if args.phase == VALIDATION_PHASE else check_phase(args.phase)
    if kind is EventKind.PLAN_COMPLETE and args.plan_path is None:
        raise CommandError("--plan-path is required for plan_complete event")
    if kind is EventKind.EXECUTE_COMPLETE and args.git_range is None:
        raise CommandError("--git-range is required for execute_complete event")
    if kind is EventKind.PLAN_REJECTED:
        issues = _feedback(args.issues)
        if not issues:
            raise CommandError("--issues is required for plan_rejected event (the feedback)")
    else:
        issues = _split_issues(args.issues)
    git_range = _git_range(args.git_range) if args.git_range is not None else None
    worktree = worktree_for(feature)
    plan_path = _existing_file(args.plan_path, worktree) if args.plan_path is not None else None
    event = Event(
        kind=kind,
        phase=phase,
        plan_path=plan_path,
        git_range=git_range,
        issues=issues,
        reason=_reason(args.issues),
    )
    finder = _plan_finder(worktree, feature)
    transition = _transition(
        feature, worktree, lambda state, stamp: apply(state, event, stamp, find_plan=finder)
    )
    print_json(action_to_dict(transition.action))
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# state


def _icon(status: PhaseStatus) -> str:
    return _ICONS.get(status, "○")


def _phase_number_key(key: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in key.split("."))
    except ValueError:  # pragma: no cover - keys are validated on read
        return (sys.maxsize,)


def render_state(state: SupervisorState) -> str:
    """``state show`` text without ``--phase`` (the original's layout)."""
    lines = [
        f"Orchestration: {state.feature}",
        f"  Design: {state.spec_doc}",
        f"  Worktree: {state.worktree_path}",
        f"  Branch: {state.branch}",
        f"  Status: {state.status.value.capitalize()}",
        f"  Phase: {state.current_phase}/{state.total_phases}",
        "",
        "Phases:",
    ]
    for number in range(1, state.total_phases + 1):
        phase = state.phase(str(number))
        if phase is None:
            lines.append(f"  ○ Phase {number}: pending")
        else:
            lines.append(f"  {_icon(phase.status)} Phase {number}: {phase.status.value}")
    for key in sorted((k for k in state.phases if "." in k), key=_phase_number_key):
        phase = state.phases[key]
        lines.append(f"  {_icon(phase.status)} Phase {key} (remediation): {phase.status.value}")
    return "\n".join(lines) + "\n"


def render_phase(key: str, phase: PhaseState | None) -> str:
    """``state show --phase`` text."""
    if phase is None:
        return f"Phase {key} (not started)\n"
    lines = [f"Phase {key}", f"  Status: {phase.status.value}"]
    if phase.plan_path is not None:
        lines.append(f"  Plan: {phase.plan_path}")
    if phase.git_range is not None:
        lines.append(f"  Git range: {phase.git_range}")
    if phase.blocked_reason is not None:
        lines.append(f"  Blocked: {phase.blocked_reason}")
    if phase.duration_mins is not None:
        lines.append(f"  Duration: {phase.duration_mins} mins")
    return "\n".join(lines) + "\n"


def cmd_state_show(args: argparse.Namespace) -> int:
    feature = check_feature(args.feature)
    key = check_phase(args.phase) if args.phase is not None else None
    state = _load(feature, worktree_for(feature))
    if key is not None:
        _refuse_beyond_total(state, key)
    found = state.phase(key) if key is not None else None
    if args.format == "json":
        if key is None:
            text = encode_supervisor_state(state).decode()
        elif found is None:
            text = "{}\n"
        else:
            text = json.dumps(unstructure(found), indent=2, ensure_ascii=False) + "\n"
    else:
        text = render_state(state) if key is None else render_phase(key, found)
    sys.stdout.write(text)
    return EXIT_OK


def _status(value: str) -> PhaseStatus:
    try:
        return PhaseStatus(value.lower())
    except ValueError:
        valid = ", ".join(status.value for status in PhaseStatus)
        raise CommandError(f"Invalid status value: {value}. Valid values: {valid}") from None


def cmd_state_update(args: argparse.Namespace) -> int:
    feature = check_feature(args.feature)
    phase = check_phase(args.phase)
    status = _status(args.status)
    worktree = worktree_for(feature)
    plan_path = None
    if status is PhaseStatus.PLANNED and args.plan_path is not None:
        plan_path = _existing_file(args.plan_path, worktree)
    _transition(
        feature,
        worktree,
        lambda state, stamp: update_status(state, phase, status, stamp, plan_path=plan_path),
    )
    sys.stdout.write(f"Updated phase {phase} status to '{status.value}'\n")
    return EXIT_OK


def cmd_state_phase_complete(args: argparse.Namespace) -> int:
    feature = check_feature(args.feature)
    phase = check_phase(args.phase)
    git_range = _git_range(args.git_range)
    worktree = worktree_for(feature)
    _transition(
        feature, worktree, lambda state, stamp: complete_phase(state, phase, git_range, stamp)
    )
    sys.stdout.write(f"Phase {phase} complete. Git range: {git_range}\n")
    return EXIT_OK


def cmd_state_blocked(args: argparse.Namespace) -> int:
    feature = check_feature(args.feature)
    phase = check_phase(args.phase)
    reason = args.reason.strip()
    if not reason:
        raise CommandError("--reason must not be empty")
    worktree = worktree_for(feature)
    _transition(feature, worktree, lambda state, stamp: block_phase(state, phase, reason, stamp))
    sys.stdout.write(f"Phase {phase} blocked: {args.reason}\n")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# list, cleanup


def _short_path(path: str) -> str:
    return f"...{path[-35:]}" if len(path) > 38 else path


def cmd_list(args: argparse.Namespace) -> int:
    try:
        lookups, errors = list_session_lookups(paths.sessions_dir())
    except ReadError as exc:  # the directory itself cannot be read
        raise CommandError(str(exc)) from None
    for error in errors:
        warn(f"Warning: skipped an unreadable session lookup: {error}")
    if not lookups:
        sys.stdout.write("No active orchestrations.\n")
        return EXIT_OK
    lines = [f"{'FEATURE':<20} {'CWD':<40} {'PHASE':<10} {'STATUS':<10}", "-" * 80]
    for lookup in sorted(lookups, key=lambda item: item.feature):
        try:
            state = read_supervisor_state(paths.state_path(Path(lookup.worktree_path)))
        except ReadError:
            phase, status = "?", "unknown"
        else:
            phase, status = f"{state.current_phase}/{state.total_phases}", state.status.value
        cwd = _short_path(lookup.worktree_path)
        lines.append(f"{lookup.feature:<20} {cwd:<40} {phase:<10} {status:<10}")
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK


def _journal_cleanup(feature: str, lookup_path: Path) -> None:
    """Record the cleanup in the worktree's journal, if the worktree is still there."""
    try:
        worktree = Path(read_session_lookup(lookup_path).worktree_path)
    except ReadError:
        return
    if not paths.tina_dir(worktree).is_dir():
        return
    draft = EventDraft(
        type="cleanup",
        summary=f"Orchestration {feature} cleaned up (session lookup removed)",
        detail={"lookup_path": str(lookup_path)},
    )
    with store.locked(worktree):
        store.append_events(worktree, store.make_entries(feature, (draft,)))


def cmd_cleanup(args: argparse.Namespace) -> int:
    feature = check_feature(args.feature)
    lookup_path = paths.session_lookup_path(feature)
    if not lookup_path.exists():
        sys.stdout.write(f"Feature '{feature}' not found.\n")
        return EXIT_FAILED
    try:
        _journal_cleanup(feature, lookup_path)
    except OSError as exc:
        warn(f"Warning: cleanup not recorded in the journal: {exc}")
    lookup_path.unlink(missing_ok=True)
    sys.stdout.write(f"Removed lookup file for '{feature}'\n")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# parsers


class _AppendText(argparse._AppendAction):
    """``action="append"`` for free text. Python's argparse drops an explicit value of exactly
    ``--`` (``--issues=--``), taking it for the end of the options, and hands the action an
    empty list: that value was ``--``."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        super().__call__(parser, namespace, "--" if values == [] else values, option_string)


def _register_init(commands: Any) -> None:
    init = command_parser(
        commands,
        "init",
        help="create the worktree and the orchestration state; prints the worktree path",
        description=(
            "Create <repo>/.worktrees/<feature> on a new branch, the orchestration state in it "
            "and the session lookup ~/.claude/tina-sessions/<feature>.json. Prints the worktree "
            "path (one line). If the branch cannot be created, a UTC timestamp is appended to "
            "it and git is tried once more."
        ),
        examples=[
            'tina-session init --feature billing-export --cwd "$PWD" \\',
            "    --design-doc docs/plans/2026-02-07-billing-export-design.md \\",
            "    --branch tina/billing-export --total-phases 3",
            "WORKTREE=$(tina-session init --feature F --cwd . --design-doc D --total-phases 2)",
        ],
    )
    add_feature(init)
    init.add_argument(
        "--cwd",
        required=True,
        metavar="DIR",
        help="the project: a git repository with at least one commit (any directory in it)",
    )
    init.add_argument(
        "--design-doc",
        "--spec-doc",
        dest="design_doc",
        required=True,
        metavar="PATH",
        help="the design (spec) document; must exist (--spec-doc is the same option)",
    )
    init.add_argument(
        "--branch", metavar="NAME", help="the branch to create (default: tina/<feature>)"
    )
    init.add_argument(
        "--total-phases",
        required=True,
        type=_total_phases,
        metavar="N",
        help=f"number of phases in the design, 1 to {MAX_TOTAL_PHASES}",
    )
    init.add_argument(
        "--require-plan-approval",
        action="store_true",
        help="hold every phase plan until an operator approves it (tina's plan-approval gate)",
    )
    init.add_argument(
        "--review-consensus",
        action="store_true",
        help="two reviewers must agree on each phase (model_policy.review_consensus)",
    )
    init.set_defaults(handler=cmd_init)


def _register_orchestrate(commands: Any) -> None:
    group = command_parser(
        commands,
        "orchestrate",
        help="drive the orchestration state machine (next, advance)",
        description="What the orchestrator should do next, as one compact JSON action.",
        examples=[
            "tina-session orchestrate next --feature billing-export",
            "tina-session orchestrate advance --feature billing-export --phase 1 "
            "--event execute_complete --git-range 4e1a9c0..b7d2f31",
        ],
    )
    sub = group.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    nxt = command_parser(
        sub,
        "next",
        help="print the next action (changes nothing)",
        description="Print the next action for the orchestration as one JSON line.",
        examples=[
            "tina-session orchestrate next --feature billing-export",
            "ACTION=$(tina-session orchestrate next --feature F | jq -r .action)",
        ],
    )
    add_feature(nxt)
    nxt.set_defaults(handler=cmd_next)

    advance = command_parser(
        sub,
        "advance",
        help="apply an event and print the next action",
        description=(
            "Record an event (a teammate finished, failed, an operator paused...) and print "
            f"the next action as one JSON line. Events: {VALID_EVENTS}."
        ),
        examples=[
            "tina-session orchestrate advance --feature F --phase validation "
            "--event validation_pass",
            "tina-session orchestrate advance --feature F --phase 1 --event plan_complete "
            "--plan-path docs/plans/2026-02-07-F-phase-1.md",
            "tina-session orchestrate advance --feature F --phase 1 --event review_gaps "
            '--issues "missing tests,no error handling"',
            "tina-session orchestrate advance --feature F --phase 1 --event pause",
        ],
    )
    add_feature(advance)
    add_phase(advance, help="phase number (1, 2, 1.5...), or 'validation' for validation events")
    advance.add_argument("--event", required=True, metavar="EVENT", help=f"one of {VALID_EVENTS}")
    advance.add_argument(
        "--plan-path",
        metavar="PATH",
        help="plan_complete: the plan file (a relative path is looked up in the worktree first)",
    )
    advance.add_argument(
        "--git-range", metavar="A..B", help="execute_complete: the commits of the phase"
    )
    advance.add_argument(
        "--issues",
        action=_AppendText,
        metavar="TEXT",
        help="review_gaps: comma-separated issues; plan_rejected: the feedback; "
        "error, retry, pause: the reason (may repeat)",
    )
    advance.set_defaults(handler=cmd_advance)


def _register_state(commands: Any) -> None:
    group = command_parser(
        commands,
        "state",
        help="show or manually change the orchestration state",
        description="Show the state, or move a phase by hand.",
        examples=[
            "tina-session state show --feature billing-export",
            "tina-session state blocked --feature billing-export --phase 2 --reason 'disk full'",
        ],
    )
    sub = group.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

    show = command_parser(
        sub,
        "show",
        help="print the state, or one phase",
        description="Print the orchestration (or one phase) as text or JSON.",
        examples=[
            "tina-session state show --feature billing-export",
            "tina-session state show --feature billing-export --phase 1 --format json",
        ],
    )
    add_feature(show)
    show.add_argument(
        "--phase", metavar="N", help="show only this phase (1, 2, 1.5...); default: everything"
    )
    show.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (default) or json: the state file, or the phase object ({} if absent)",
    )
    show.set_defaults(handler=cmd_state_show)

    statuses = ", ".join(status.value for status in PhaseStatus)
    update = command_parser(
        sub,
        "update",
        help="move a phase to another status",
        description=(
            "Move a phase along planning -> planned -> executing -> reviewing (or back from "
            "blocked). Use `state phase-complete` and `state blocked` for those statuses."
        ),
        examples=[
            "tina-session state update --feature F --phase 1 --status planned "
            "--plan-path docs/plans/2026-02-07-F-phase-1.md",
            "tina-session state update --feature F --phase 1 --status executing",
        ],
    )
    add_feature(update)
    add_phase(update)
    update.add_argument(
        "--status", required=True, metavar="STATUS", help=f"one of {statuses} (any case)"
    )
    update.add_argument(
        "--plan-path", metavar="PATH", help="with --status planned: the phase's plan file"
    )
    update.set_defaults(handler=cmd_state_update)

    done = command_parser(
        sub,
        "phase-complete",
        help="mark a reviewing phase complete",
        description="Mark a phase that is being reviewed complete, with its commits.",
        examples=[
            "tina-session state phase-complete --feature F --phase 1 --git-range 4e1a9c0..b7d2f31"
        ],
    )
    add_feature(done)
    add_phase(done)
    done.add_argument("--git-range", required=True, metavar="A..B", help="the phase's commits")
    done.set_defaults(handler=cmd_state_phase_complete)

    blocked = command_parser(
        sub,
        "blocked",
        help="block a phase (and the orchestration) with a reason",
        description="Block a phase and the orchestration; `orchestrate advance --event retry` "
        "unblocks it.",
        examples=["tina-session state blocked --feature F --phase 2 --reason 'tests need a GPU'"],
    )
    add_feature(blocked)
    add_phase(blocked)
    blocked.add_argument("--reason", required=True, metavar="TEXT", help="why it is blocked")
    blocked.set_defaults(handler=cmd_state_blocked)


def _register_list_and_cleanup(commands: Any) -> None:
    listing = command_parser(
        commands,
        "list",
        help="list the orchestrations on this machine",
        description="One row per session lookup in ~/.claude/tina-sessions: feature, worktree, "
        "current phase and status.",
        examples=["tina-session list"],
    )
    listing.set_defaults(handler=cmd_list)

    cleanup = command_parser(
        commands,
        "cleanup",
        help="forget a feature (removes its session lookup)",
        description="Remove ~/.claude/tina-sessions/<feature>.json. The worktree, its state "
        "and tmux sessions are left alone. Exit 1 if the feature is unknown.",
        examples=["tina-session cleanup --feature billing-export"],
    )
    add_feature(cleanup)
    cleanup.set_defaults(handler=cmd_cleanup)


def register(commands: Any) -> None:
    """Adds ``init``, ``orchestrate``, ``state``, ``list`` and ``cleanup`` to ``commands``."""
    _register_init(commands)
    _register_orchestrate(commands)
    _register_state(commands)
    _register_list_and_cleanup(commands)
