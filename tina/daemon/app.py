"""The daemon's supervision tree: child specs from Config, channel wiring, ordered shutdown.

tina (root, one_for_one)
  convex       the Convex connection (trio client + typed gateway); stops last
  watch        the one file-watching hub
  presence     registration, heartbeats when needed, the sign-off at a clean stop
  syncer       coalescing, idempotent writes to Convex
  claude       ~/.claude/teams and ~/.claude/tasks
  worktrees    dynamic: one watcher per orchestration worktree
  discovery    ~/.claude/tina-sessions -> starts/stops worktree watchers
  dispatcher   claims and runs operator actions
  listener     the live pendingActions subscription
  hooks        Claude Code sessions from their hook events (`tina hook`)
  prompts      permission prompts: opens and settles sent to Convex, in order
  decisions    the live pendingDecisions subscription: answers to the waiting hooks
  needs        what needs a human on this laptop, and its Claude Code sessions (needs:syncLaptop)
  control      the local socket: status, hook events in, permission decisions out
  usage-watch  a second hub, for the transcripts only: their writes read together
  usage        Claude Code's transcripts (~/.claude/projects, and others) -> usage:recordUsage
  quota        the account's rate limits (status line, StopFailure hooks) -> usage:recordQuota
"""

from __future__ import annotations

import os
import resource
import sys
import time
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import structlog
import trio

import tina
from tina.convex import LatestValue
from tina.daemon import control
from tina.daemon import prompts as prompts_state
from tina.daemon.actions import ActionMessage, HandlerEnv
from tina.daemon.actors import (
    claude,
    discovery,
    dispatcher,
    hooks,
    listener,
    needs,
    presence,
    prompts,
    usage,
    worktree,
)
from tina.daemon.actors.connection import Connection
from tina.daemon.config import Config
from tina.daemon.credentials import Credential
from tina.daemon.debug.durations import duration
from tina.daemon.sync.outbox import Outbox
from tina.daemon.sync.syncer import Syncer
from tina.daemon.watch import WatchHub
from tina.messages import ActorSummary, Health, HookEvent
from tina.supervision import (
    Backoff,
    ChildSpec,
    ChildStatus,
    DynamicSupervisor,
    Intensity,
    Restart,
    Supervisor,
    inject_fault,
    parse_faults,
)
from tina.usage import (
    Facts,
    OrchestrationFacts,
    PriceError,
    PriceTable,
    SessionFacts,
    TeamFacts,
    held_id,
    load_prices,
)

log = structlog.get_logger("tina.app")


# Actions arrive one tap at a time; 16 absorbs a burst without ever blocking the subscription.
ACTION_BUFFER = 16


def _prices(override: Path | None) -> PriceTable:
    """tina's price table with the config's override; an unusable override is logged and
    left out (costs from tina's table) rather than stopping the daemon."""
    try:
        return load_prices(override)
    except PriceError as exc:
        log.error("usage.prices_invalid", error=str(exc))
        return load_prices()


def process_usage() -> dict[str, float]:
    """The daemon's CPU time so far, all its threads (including those gone), in seconds: the
    kernel's count to the microsecond (user and system split by its ticks), where a process's
    /proc ticks are 10 ms; and its peak resident memory in MB."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    peak_kb = used.ru_maxrss / (1024 if sys.platform == "darwin" else 1)  # macOS: bytes
    return {
        "cpu_user_s": used.ru_utime,
        "cpu_system_s": used.ru_stime,
        "peak_rss_mb": round(peak_kb / 1024, 1),
    }


class Daemon:
    def __init__(
        self, config: Config, credential: Credential, *, intensity: Intensity | None = None
    ) -> None:
        self.config = config
        self.credential = credential
        self.instance_id = f"{credential.node_name}.{uuid.uuid4().hex[:12]}"
        self.started_at = time.time()
        # One limiter for every blocking file operation of the daemon's actors.
        self.disk = trio.CapacityLimiter(worktree.DISK_THREADS)
        self.connection = Connection(
            config.require_url(), credential.token, on_reconnect=self._reconnected
        )
        self.gateway = self.connection.gateway
        self.outbox = Outbox(config.outbox_dir / "outbox.jsonl", disk=self.disk)
        self.syncer = Syncer(self.gateway, outbox=self.outbox)
        self.syncer.restore()
        self.hub = WatchHub(debounce_ms=config.debounce_ms)
        self.worktrees = DynamicSupervisor("worktrees", backoff=Backoff(initial=0.5, cap=30))
        self.worktrees_up = LatestValue(False)
        self.presence_state = presence.Presence()
        self.action_stats = dispatcher.ActionStats()
        self.henv = HandlerEnv.build(
            claude_dir=config.claude_dir,
            claude_code_dir=config.claude_code_dir,
            tina_session=config.tina_session,
            tmux_socket=config.tmux_socket,
            timeout=config.action_timeout_secs,
        )
        # The agents' liveness checks their panes on the tmux server the handlers type into.
        # Teams are read in every Claude Code config dir whose transcripts are (the usage
        # actor's directories: configured, or learnt from hooks, kept across restarts); until
        # that actor has said which, no team Convex knows is taken for gone.
        self.claude = claude.ClaudeWatcher(
            config.claude_code_dir,
            self.syncer,
            disk=self.disk,
            panes=claude.TmuxPanes(self.henv.tmux(), env=self.henv.env),
            settled=False,
        )
        # The dispatcher writes to a team's inboxes where the watcher reads it.
        self.henv = attrs.evolve(self.henv, locate_team=self.claude.team_path)
        # Hook events: the control socket offers them, the hooks actor takes them (its channel,
        # sized in `hooks.HOOK_BUFFER`, lives as long as the daemon).
        # A lead's hook liveness changing sends its team again (merged into the members').
        # The sessions are kept in the state directory across restarts.
        self.hooks = hooks.Hooks(
            team_of=self.claude.team_of_session,
            sessions_dir=config.tina_sessions_dir,
            disk=self.disk,
            on_session=self.claude.hook_changed,
            state_file=config.state_dir / hooks.STATE_FILE_NAME,
        )
        self.claude.session_of = self.hooks.lead_session
        # Needs: recomputed whenever the teams or the hook sessions change.
        self.needs = needs.Needs(self.claude, self.hooks, stall_after_mins=config.stall_after_mins)
        self.hooks.on_change = self.needs.poke
        self.claude.on_change = self.needs.poke
        # Permission prompts: the control socket waits in `ask`, the prompts actor sends the opens
        # and settles (its channel, sized in `prompts.OPS_BUFFER`, lives as long as the daemon).
        self.prompts = prompts_state.Prompts(
            wait_ms=config.permission_wait_ms,
            available=lambda: self.connection.state() == "connected",
            team_of=self.claude.team_of_session,
            orchestration_of=self._orchestration_of,
        )
        # Usage from the transcripts, and the account's quota (the status line's rate limits,
        # read beside each worktree watcher, and the hooks' StopFailure rate limits).
        self.quota = usage.Quota()
        self.usage = usage.Usage(
            config.state_dir / "usage.json",
            config.transcript_roots,
            _prices(config.usage_prices),
            create=config.default_transcript_dir
            if config.default_transcript_dir in config.transcript_roots
            else None,
            on_watching=self._transcripts_watched,
            facts=self._usage_facts,
            resolve=self._orchestration_id,
            disk=self.disk,
            idle_s=config.usage_idle_secs,
        )
        # The transcripts have a hub of their own, whose batches gather what is written within
        # `usage.SETTLE_MS` of a first write, and which looks again that much later while they
        # keep changing: a busy laptop's many transcripts cost a wake-up and a reading round per
        # batch, not per write, and the worktrees' hub keeps its latency. With no dashboard open
        # (the usage actor's pace is lazy) its batches gather for the lazy wait instead.
        self.transcripts_hub = WatchHub(
            debounce_ms=usage.SETTLE_MS,
            step_ms=usage.SETTLE_MS,
            linger=True,
            pace=self.usage.pace,
            appends_only=True,  # transcripts change by writes, renames, deletions: all watched
        )
        send, receive = trio.open_memory_channel[ActionMessage](ACTION_BUFFER)
        self._actions_send, self._actions_receive = send, receive
        self.root = Supervisor(
            "tina",
            self._children(),
            intensity=intensity or Intensity(max_restarts=10, within=60),
            # The cap keeps 10 restarts of one crash-looping actor well inside the 60 s window
            # (0.5 + 1 + 2 + 7 x 4 = 31.5 s, x 0.5-1.5 jitter), so it escalates: the process exits
            # and launchd starts it afresh. With a 30 s cap one actor could never exceed it.
            backoff=Backoff(initial=0.5, cap=4),
        )

    # --- wiring ----------------------------------------------------------------------------------

    def _children(self) -> list[ChildSpec]:
        faults = parse_faults(os.environ.get("TINA_INJECT_FAULTS", ""))
        return [
            inject_fault(spec, faults[spec.id]) if spec.id in faults else spec
            for spec in self._specs()
        ]

    def _specs(self) -> list[ChildSpec]:
        cfg = self.config
        return [
            ChildSpec(
                id="convex",
                run=self.connection.run,
                shutdown_timeout=3,
                detail=self.connection.detail,
            ),
            ChildSpec(
                id="watch",
                run=self.hub.run,
                shutdown_timeout=0.5,  # nothing to finish: a start rescans what it watches
                detail=self.hub.detail,
            ),
            ChildSpec(
                id="presence",
                run=partial(
                    presence.run,
                    self.gateway,
                    self.health,
                    self.instance_id,
                    self.presence_state,
                    interval=cfg.heartbeat_secs,
                    idle_interval=cfg.idle_heartbeat_secs,
                ),
                detail=self.presence_state.detail,
                # Stops after the syncer (children stop in reverse): its sign-off is the last call.
            ),
            ChildSpec(
                id="syncer", run=self.syncer.run, shutdown_timeout=2, detail=self.syncer.detail
            ),
            ChildSpec(
                id="claude",
                run=partial(
                    claude.run,
                    cfg.claude_code_dir,
                    self.hub,
                    self.syncer,
                    watcher=self.claude,
                    gateway=self.gateway,
                ),
                detail=self.claude.detail,
            ),
            ChildSpec(id="worktrees", run=self._run_worktrees, children=self.worktrees.statistics),
            ChildSpec(
                id="discovery",
                run=partial(
                    discovery.run,
                    cfg.tina_sessions_dir,
                    self.hub,
                    self.worktrees,
                    self._worktree_spec,
                    worktrees_up=self.worktrees_up,
                ),
                # It finishes nothing when stopped (a lookup scan at most); the 0.75 s below its
                # old 5 s are usage's and quota's, inside the service's stop timeout.
                shutdown_timeout=4.25,
            ),
            ChildSpec(
                id="dispatcher",
                run=partial(
                    dispatcher.dispatch,
                    self.gateway,
                    self._actions_receive,
                    self.henv,
                    self.instance_id,
                    self.action_stats,
                ),
                detail=self.action_stats.detail,
            ),
            ChildSpec(
                id="listener",
                run=partial(listener.listen, self.gateway, self._actions_send, self.action_stats),
            ),
            # hooks, prompts, decisions and needs await nothing when stopped; their 5 s between
            # them keep the ordered shutdown inside the service's stop timeout (`service/`).
            ChildSpec(
                id="hooks",
                run=partial(hooks.run, self.hooks, self.hub),
                shutdown_timeout=2,
                detail=self.hooks.detail,
            ),
            ChildSpec(
                id="prompts",
                run=partial(prompts.run, self.prompts, self.gateway),
                shutdown_timeout=1.5,  # nothing to finish: Convex expires what was not settled
                detail=self.prompts.detail,
            ),
            ChildSpec(
                id="decisions",
                run=partial(prompts.listen, self.prompts, self.gateway),
                shutdown_timeout=1,
            ),
            ChildSpec(
                id="needs",
                run=partial(needs.run, self.needs, self.gateway, self.syncer.reconcile),
                shutdown_timeout=0.5,  # nothing to finish: the next start sends the set again
                detail=self.needs.detail,
            ),
            ChildSpec(
                id="control",
                run=partial(
                    control.serve,
                    cfg.control_socket,
                    self.snapshot,
                    on_hook=self._on_hook,
                    on_permission=self.prompts.ask,
                ),
            ),
            ChildSpec(
                id="usage-watch",
                run=self.transcripts_hub.run,
                shutdown_timeout=0.5,  # the same
                detail=self.transcripts_hub.detail,
            ),
            # Last, so stopped first; ready once watching (the first reading of every
            # transcript comes after and holds nothing up).
            ChildSpec(
                id="usage",
                run=partial(usage.run, self.usage, self.transcripts_hub, self.gateway),
                # What is sealed is on disk and the next start sends it; a reading round in
                # its thread takes milliseconds (the first full scan, at worst seconds, is
                # left to finish on its own).
                shutdown_timeout=0.5,
                detail=self.usage.detail,
            ),
            ChildSpec(
                id="quota",
                run=partial(usage.run_quota, self.quota, self.gateway, self.syncer.reconcile),
                shutdown_timeout=0.25,  # nothing to finish: the next start sends it again
                detail=self.quota.detail,
            ),
        ]

    async def _run_worktrees(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """The worktrees supervisor, telling discovery when it runs (a restart loses its children)."""
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(self.worktrees.run)
                self.worktrees_up.set(True)
                task_status.started()
        finally:
            self.worktrees_up.set(False)

    def _worktree_spec(self, feature: str, path: Path, repo_root: str | None) -> ChildSpec:
        return ChildSpec(
            id=f"wt:{feature}",
            run=partial(self._run_worktree, path, repo_root),
            restart=Restart.PERMANENT,
        )

    async def _run_worktree(
        self,
        path: Path,
        repo_root: str | None,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """A worktree's watcher, and beside it the reader of its status line's rate limits."""
        async with trio.open_nursery() as nursery:
            await nursery.start(
                partial(usage.watch_rate_limits, path, self.hub, self.quota, disk=self.disk)
            )
            await nursery.start(
                partial(worktree.run, path, repo_root, self.hub, self.syncer, disk=self.disk)
            )
            task_status.started()

    def _transcripts_watched(self, roots: tuple[Path, ...]) -> None:
        """The usage actor reads these transcript directories: the teams and tasks of each one's
        Claude Code config dir (``<config dir>/projects``) are read too. Called at its start,
        then once per directory learnt."""
        for root in roots:
            if root.name == "projects":
                self.claude.add_config_dir(root.parent)
        self.claude.settle()

    def _on_hook(self, event: HookEvent) -> bool:
        """A hook event from the control socket: a rate limit hit is its account's quota too, and
        its transcript's directory is read if it was not yet (a ``CLAUDE_CONFIG_DIR`` of its own)."""
        if event.event == "StopFailure" and event.error == "rate_limit":
            self.quota.limited(event.received_at, event.error_details, event.transcript_path)
        self.usage.learn(event.transcript_path)
        return self.hooks.offer(event)

    def _orchestration_id(self, worktree: str) -> str | None:
        """The Convex id of the orchestration in `worktree`, once the syncer has it."""
        return {os.path.normpath(wt): oid for wt, oid in self.syncer.orchestration_ids.items()}.get(
            os.path.normpath(worktree)
        )

    def _usage_facts(self) -> Facts:
        """What usage attribution needs, from what the daemon knows now: the team configs, the
        orchestrations (by worktree; a held id until the syncer has the Convex one), the hook
        sessions' teams, and a pane teammate's session's team and agent (the member in the tmux
        pane, or the iTerm2 pane, its hooks ran in)."""
        ids = {os.path.normpath(wt): oid for wt, oid in self.syncer.orchestration_ids.items()}
        orchestrations: dict[str, tuple[str, str]] = {}
        for feature, wt in self.hooks.worktrees.items():
            root = os.path.normpath(wt)
            orchestrations[root] = (feature, ids.get(root) or held_id(root))
        for root, oid in ids.items():
            orchestrations.setdefault(root, ("", oid))  # no lookup: found by cwd only
        names = {d: team.team_name for d, (_, team, _) in self.claude.configs.items()}
        teams = tuple(
            TeamFacts(
                name=team.team_name,
                lead_session_id=self.claude.lead_sessions.get(d),
                members=tuple(m.agent_name for m in members),
            )
            for d, (_, team, members) in sorted(self.claude.configs.items())
        )
        by_id = self.hooks.sessions.by_id
        in_panes = self.claude.pane_members()  # once a round, not per session
        sessions: dict[str, SessionFacts] = {}
        for sid, state in by_id.items():
            if state.team is not None and state.team in names:
                sessions[sid] = SessionFacts(team=names[state.team])
            elif (
                pane := state.tmux_pane
                or (claude.iterm_key(state.iterm_session) if state.iterm_session else None)
            ) is not None and pane in in_panes:  # a pane teammate (tmux or iTerm2)
                member = claude.pane_member(
                    in_panes,
                    pane,
                    state.tmux_socket,
                    lambda lead: s.tmux_socket if (s := by_id.get(lead)) else None,
                )
                if member is not None and member[0] in names:
                    sessions[sid] = SessionFacts(team=names[member[0]], agent=member[1])
        return Facts(
            teams=teams,
            orchestrations=tuple(
                OrchestrationFacts(id=oid, feature=feature, worktree=root)
                for root, (feature, oid) in sorted(orchestrations.items())
            ),
            sessions=sessions,
        )

    def _orchestration_of(self, cwd: str) -> str | None:
        """The orchestration (its Convex id) whose worktree holds `cwd`, once synced."""
        ids = self.syncer.orchestration_ids
        return hooks.worktree_of(cwd, {oid: wt for wt, oid in ids.items()})

    def _reconnected(self) -> None:
        """After a reconnect every watcher re-sends what it knows (Convex may have lost it)."""
        self.syncer.reconcile.set(self.syncer.reconcile.value + 1)

    # --- observation -----------------------------------------------------------------------------

    def statistics(self) -> tuple[ChildStatus, ...]:
        return self.root.statistics()

    def health(self) -> Health:
        actors: list[ActorSummary] = []

        def walk(statuses: tuple[ChildStatus, ...]) -> None:
            for s in statuses:
                if len(actors) < 60:
                    actors.append(
                        ActorSummary(
                            id=s.id,
                            state=s.state.value,
                            restarts=float(s.restarts),
                            last_error=(s.last_error or None) and s.last_error[:300],
                        )
                    )
                walk(s.children)

        walk(self.statistics())
        last = self.syncer.last_sync_at
        oldest = self.syncer.oldest_unsynced_at
        return Health(
            daemon_version=tina.__version__,
            started_at=round(self.started_at * 1000, 3),
            uptime_secs=round(time.time() - self.started_at, 1),
            outbox_depth=float(self.syncer.depth),
            last_sync_at=None if last is None else round(last * 1000, 3),
            connection=self.connection.state(),
            actors=tuple(actors),
            oldest_unsynced_at=None if oldest is None else round(oldest * 1000, 3),
        )

    def info(self, used: dict[str, float] | None = None) -> dict[str, Any]:
        """The status header (`used`: `process_usage()`, read now if not given)."""
        used = process_usage() if used is None else used
        return {
            "node": self.credential.node_name,
            "convex": self.config.convex_url,
            "version": tina.__version__,
            "instance": self.instance_id,
            "uptime": duration(time.time() - self.started_at),
            "cpu": f"{used['cpu_user_s'] + used['cpu_system_s']:.1f} s",
            "connection": self.connection.state() or "none",
            "outbox": self.syncer.depth,
            "refused": self.presence_state.refused or self.syncer.blocked_reason or "",
        }

    def snapshot(self) -> dict[str, Any]:
        """What `tina daemon status` shows (no secrets: the credential is never included)."""
        used = process_usage()  # read once: the header's cpu and `process` agree
        return {
            "info": self.info(used),
            "tree": [s.to_json() for s in self.statistics()],
            "hooks": self.hooks.snapshot(),
            "needs": self.needs.snapshot(),
            "usage": {**self.usage.detail(), "quota": self.quota.detail()},
            "process": used,
        }

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        log.info(
            "daemon.starting",
            node=self.credential.node_name,
            instance=self.instance_id,
            convex=self.config.convex_url,
            claude_dir=str(self.config.claude_dir),
        )
        await self.root.run(task_status=task_status)
