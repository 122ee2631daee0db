"""Usage and quota: Claude Code's transcripts -> ``usage:recordUsage``; the account's rate
limits -> ``usage:recordQuota``.

**Usage.** The actor subscribes a watch hub to each transcript directory
(`tina.claude_dirs`: ``projects`` in Claude Code's config dir and the others the config names or finds, and
those the hooks' ``transcript_path`` shows, via :meth:`Usage.learn`; no polling; the daemon
gives the transcripts a hub of their own, see `SETTLE_MS`): a change reads only the
changed transcripts (from their marks), a rescan request (the hub's, at a
start or after lost events) lists them all and reads those whose size or inode moved. Each round,
in a worker thread, counts the new lines (attributed with the daemon's `facts`: the Claude
watcher's team configs, the orchestrations the daemon knows, with their Convex ids where the
syncer has them) and seals them into batches, saved with the marks (`tina.usage.UsageLedger`).
Rounds are at most one per `min_gap`, so a burst of writes is read once, while someone has
the dashboard open; otherwise at most one per `Usage.pace`'s lazy wait (`IDLE_S`, the
`usage_idle_secs` setting): the actor follows ``presence:watchedUntil`` (a dashboard that is
open says so every 20 s) and goes quick the moment it changes, cutting its wait short (and the
transcripts' hub's, `tina.daemon.pace`). Until Convex has answered (or when the deployment has
no such query) it stays quick, as before pacing existed. Usage of an
orchestration without a Convex id yet is held in the ledger and sealed once `resolve` knows the
id (after `tina.usage.ledger.HOLD_MS`: unattributed); while rows are held the actor looks again
every `held_interval`.

A sender task sends the waiting batches oldest first through the gateway; an answered batch
is dropped in memory and saved with the next round (or as the actor stops). A batch whose send
fails stays and is sent again, under the same id, after a backoff: Convex ignores a batch it
applied before. A batch Convex refuses (a ``ConvexError`` other than a refused credential) is
dropped and counted in ``ledger.refused``: sent again it would be refused again and hold back
every later batch.

**Quota.** The status line writes ``<worktree>/.claude/tina/rate-limits.json``
(`tina.session.statusline`); `watch_rate_limits` runs beside each worktree watcher and hands
what it reads to :class:`Quota`; the hooks' ``StopFailure`` rate limits come through
:meth:`Quota.limited`. Each account (the Claude Code config dir of the session, from its
transcript's path) has its own state and Convex row, which carries the key of the account the
config dir is logged in to (`tina.usage.account`, looked up as the file is read). `run_quota`
sends ``usage:recordQuota`` for an account when it changed, at most once per 30 s unless a
window crosses 80 % or 100 % or a limit is hit (`tina.usage.quota.QuotaState`), and again after
a reconnect.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import structlog
import trio

from tina.claude_dirs import ALREADY_READ, MAX_LEARNED, acceptable, account_of, root_of
from tina.convex import LatestValue
from tina.convex.errors import ConvexError, error_data, refusal
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actors.listener import follow
from tina.daemon.pace import Pace
from tina.daemon.watch import Inbox, WatchHub
from tina.local.files import FileRefused, read_file
from tina.local.paths import tina_dir
from tina.supervision import Backoff
from tina.usage import Facts, PriceTable, UsageLedger
from tina.usage.account import AccountKeys
from tina.usage.ledger import HELD_PREFIX, HOLD_MS
from tina.usage.quota import (
    ACCOUNTS_MAX,
    FILE_MAX,
    FILE_NAME,
    Observation,
    QuotaState,
    parse_rate_limits,
)

log = structlog.get_logger("tina.usage")

__all__ = [
    "Quota",
    "Usage",
    "read_round",
    "run",
    "run_quota",
    "scan_once",
    "watch_rate_limits",
]

SETTLE_MS = 600
"""The transcripts' hub (the daemon gives them one of their own) hands over what was written
within this long of a first write, as one batch: a streamed answer's lines and a busy laptop's
many transcripts are read in one round (a round costs a wake-up, a thread hop, a journal append
and a mutation). A new message waits at most this long, inside the 1 s it has to reach the
dashboard; with nothing written the hub sleeps on the OS."""
MIN_GAP = 0.5
"""At most one reading round per this long, whatever the hub hands over (a rescan, a hub with
a shorter settle)."""
IDLE_S = 30.0
"""With no dashboard open, what is written is read and sent at most once per this long."""
WATCH_S = 90.0
"""How long a changed ``presence:watchedUntil`` counts as someone watching, whatever the
laptop's clock says of its time (a dashboard refreshes it every 30 s or so)."""
SAVE_AT_STOP = 0.25
"""How long a stopping actor waits to save its last acknowledgements (a journal line)."""
HELD_INTERVAL = 5.0
"""How often held usage looks for its orchestration's id (only while some is held)."""
RECONSIDER = 30.0
"""A transcript directory a hook showed that could not be read yet is looked at again after this
long, at the next hook that shows it."""
CALL_TIMEOUT = 15.0
BACKOFF = Backoff(initial=1.0, cap=30.0, jitter=0.2)

Resolve = Callable[[str], str | None]
"""A worktree -> its orchestration's Convex id, once the syncer has it."""


def _changed(ledger: UsageLedger, path: Path) -> bool:
    """Whether `path` may hold lines not read yet (its mark is not its size and inode)."""
    mark = ledger.reader.marks.get(str(path))
    try:
        st = path.stat()
    except OSError:
        return False
    return mark is None or (mark.dev, mark.inode, mark.offset) != (st.st_dev, st.st_ino, st.st_size)


def _transcripts(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.jsonl") if p.is_file()) if root.is_dir() else []


def read_round(
    ledger: UsageLedger,
    roots: Sequence[Path],
    paths: Iterable[Path] | None,
    facts: Facts,
    prices: PriceTable,
    resolve: Resolve | None = None,
    *,
    hold_ms: int = HOLD_MS,
) -> int:
    """One round (blocking): read `paths` (None: every transcript under `roots`), forget the
    ones gone, seal. The number of new batches."""
    if paths is None:
        found = sorted({p for root in roots for p in _transcripts(root)})
        ledger.forget_missing(str(p) for p in found)
        todo = [p for p in found if _changed(ledger, p)]
    else:
        todo = []
        for path in sorted(set(paths), key=str):
            if path.suffix == ".jsonl":
                # No look first: a transcript gone is forgotten by its read, and one that is
                # not a file is read as an error (a directory so named: walked below).
                todo.append(path)
            elif path.is_dir():  # a new directory: what it held before it was watched
                todo.extend(p for p in _transcripts(path) if _changed(ledger, p))
            elif str(path) in ledger.reader.marks and not path.exists():
                ledger.reader.forget(str(path))  # gone
    for path in todo:
        if ledger.read(path, facts).error == "IsADirectoryError":
            for inner in _transcripts(path):
                if _changed(ledger, inner):
                    ledger.read(inner, facts)
    return len(ledger.seal(prices, resolve, hold_ms=hold_ms))


def scan_once(ledger: UsageLedger, roots: Sequence[Path], facts: Facts, prices: PriceTable) -> int:
    """Read every transcript under `roots` (blocking): the number of new batches."""
    return read_round(ledger, roots, None, facts, prices)


class Usage:
    """The usage actor's state; it outlives the actor's restarts (the ledger is loaded once)."""

    def __init__(
        self,
        state_file: Path,
        roots: Sequence[Path],
        prices: PriceTable,
        *,
        create: Path | None = None,
        on_watching: Callable[[tuple[Path, ...]], None] | None = None,
        facts: Callable[[], Facts] = Facts,
        resolve: Resolve | None = None,
        disk: trio.CapacityLimiter | None = None,
        hold_ms: int = HOLD_MS,
        ledger: UsageLedger | None = None,
        idle_s: float = IDLE_S,
        wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.state_file = state_file
        self.roots = tuple(roots)  # the configured transcript directories
        self.create = create  # made at start when missing (the default directory)
        # Told every transcript directory read, at start and as one is learnt (the daemon has
        # their config dirs' teams watched too).
        self.on_watching = on_watching
        self.watched: tuple[Path, ...] = self.roots  # and the learnt ones, once loaded
        # What a transcript path read already starts with: the directories watched, and other
        # spellings of them hooks used (a link to one: `_alias`).
        self._prefixes = tuple(f"{r}/" for r in self.roots)
        self._aliases: tuple[str, ...] = ()
        # Transcript directories the hooks named, offered to `run` (see `learn`).
        self.offered: list[Path] = []
        self.offers: LatestValue[int] = LatestValue(0)
        self._considered: dict[Path, float] = {}  # offered, and when (monotonic seconds)
        self.prices = prices
        self.facts = facts
        self.resolve = resolve
        self.disk = disk or trio.CapacityLimiter(1)
        self.hold_ms = hold_ms
        self.ledger = ledger
        self.lock = trio.Lock()  # one thread at a time on the ledger
        self.sealed: LatestValue[int] = LatestValue(0)  # bumped when batches are sealed
        # Quick while someone has the dashboard open (or nobody said yet), lazy otherwise.
        self.pace = Pace(lazy_s=idle_s)
        self.watched_until: int | None = None  # server ms; None: Convex has not said
        self.watch_changed: float | None = None  # trio time it last changed
        self.wall_ms = wall_ms
        self.pausing = False  # changes are in hand and wait out the gap between rounds
        self.rounds = 0
        self.sent = 0
        self.failures = 0
        self.last_error: str | None = None

    async def load(self) -> UsageLedger:
        if self.ledger is None:
            self.ledger = await trio.to_thread.run_sync(
                partial(UsageLedger.load, self.state_file, cuts=self.prices.cuts),
                limiter=self.disk,
            )
            if self.ledger.recovered:
                log.warning("usage.state_reset", error=self.ledger.recovered)
        return self.ledger

    def learn(self, transcript: str | None) -> None:
        """A hook's ``transcript_path``: offer its ``projects`` directory to `run` if it is not
        read yet (never blocks; a path under a directory read already costs a prefix test)."""
        if not transcript or transcript.startswith(self._prefixes):
            return
        root = root_of(transcript)
        if root is None:
            return
        now = time.monotonic()
        at = self._considered.get(root)
        if at is None and len(self._considered) >= 4 * MAX_LEARNED:
            return
        if at is not None and now - at < RECONSIDER:
            return  # refused a moment ago (e.g. not made yet): asked again later, not per hook
        self._considered[root] = now
        self.offered.append(root)
        self.offers.set(self.offers.value + 1)

    def _watching(self, roots: Sequence[Path]) -> None:
        self.watched = tuple(roots)
        self._prefixes = (*(f"{r}/" for r in roots), *self._aliases)
        if self.on_watching is not None:
            self.on_watching(self.watched)

    def _alias(self, root: Path) -> None:
        """`root` is a directory read already, spelt another way: its paths need no look."""
        self._aliases = (*self._aliases, f"{root}/")
        self._prefixes = (*self._prefixes, f"{root}/")

    def _resolved(self, ledger: UsageLedger, facts: Facts) -> Resolve | None:
        """`resolve`'s answers, asked here for every worktree the round may hold usage of (the
        held rows', and the orchestrations without an id yet): `resolve` reads the daemon's state,
        which only the trio thread may iterate, never the reading thread."""
        if self.resolve is None:
            return None
        worktrees = set(ledger.held_worktrees())
        worktrees.update(
            o.id.removeprefix(HELD_PREFIX)
            for o in facts.orchestrations
            if o.id.startswith(HELD_PREFIX)
        )
        return {wt: self.resolve(wt) for wt in sorted(worktrees)}.get

    async def read(self, paths: set[Path] | None) -> int:
        """One reading round in a worker thread (None: every transcript)."""
        ledger = await self.load()
        facts = self.facts()
        async with self.lock:
            sealed = await trio.to_thread.run_sync(
                partial(
                    read_round,
                    ledger,
                    self.watched,
                    paths,
                    facts,
                    self.prices,
                    self._resolved(ledger, facts),
                    hold_ms=self.hold_ms,
                ),
                limiter=self.disk,
            )
        self.rounds += 1
        if sealed or ledger.pending():
            if sealed:
                log.debug("usage.sealed", batches=sealed, counted=ledger.counted)
            self.sealed.set(self.sealed.value + 1)
        return sealed

    async def acknowledge(self, batch_id: str) -> None:
        """Drop an answered batch; saved with the next round's journal line (no thread hop and
        no wake-up of its own per batch), or by :meth:`save_acknowledged` at a stop."""
        ledger = await self.load()
        async with self.lock:
            ledger.acknowledge(batch_id, save=False)

    async def save_acknowledged(self) -> None:
        """Save what was acknowledged since the last round (at a stop: shielded, briefly)."""
        ledger = self.ledger
        if ledger is None or not ledger.unsaved_acknowledgements():
            return
        with trio.CancelScope(shield=True, deadline=trio.current_time() + SAVE_AT_STOP):
            async with self.lock:
                await trio.to_thread.run_sync(ledger.save_acknowledged, limiter=self.disk)

    def detail(self) -> dict[str, Any]:
        ledger = self.ledger
        return {
            "directories": [str(r) for r in self.watched],
            "transcripts": 0 if ledger is None else len(ledger.reader.marks),
            "counted": 0 if ledger is None else ledger.counted,
            # message keys remembered to count each once (at most KEEP, the oldest forgotten)
            "remembered": 0 if ledger is None else len(ledger.dedupe),
            # later lines of a streamed message that added to it (its output as it grew)
            "grown": 0 if ledger is None else ledger.dedupe.grown,
            # records of a resumed session's history, counted from its own file
            "copied": 0 if ledger is None else ledger.copied,
            "pending": 0 if ledger is None else len(ledger.pending()),
            "held": 0 if ledger is None else ledger.held(),
            "held_expired": 0 if ledger is None else ledger.held_expired,
            "refused": 0 if ledger is None else ledger.refused,
            "moved": 0 if ledger is None else ledger.moved,
            "pace": "quick" if self.pace.quick else "lazy",
            # Changes in hand, waiting for the next round (in the actor or the hub's batch).
            "waiting": self.pausing or self.pace.holding > 0,
            "rounds": self.rounds,
            "sent": self.sent,
            "failures": self.failures,
        }


async def _send_pending(
    usage: Usage,
    gateway_cell: LatestValue[GatewayProtocol | None],
    *,
    call_timeout: float,
    backoff: Backoff,
) -> None:
    """Send the waiting batches whenever some are sealed; retry with backoff."""
    rng = random.Random()
    seen = -1
    failures = 0
    while True:
        seen, _ = await usage.sealed.wait_newer(seen)
        ledger = await usage.load()
        while pending := ledger.pending():
            gateway = gateway_cell.value
            if gateway is None:
                await gateway_cell.wait_for(lambda g: g is not None)
                continue
            batch = pending[0]
            try:
                with trio.fail_after(call_timeout):
                    applied = await gateway.record_usage(batch.id, list(batch.rows))
            except ConvexError as exc:
                if refusal(exc) is None:
                    # Refused data: sent again it is refused again, and it would hold back
                    # every batch after it. Dropped, counted, logged (its code, never its rows).
                    ledger.refused += 1
                    log.error("usage.refused", batch=batch.id, code=error_data(exc).code)
                    await usage.acknowledge(batch.id)
                    continue
                error = f"refused: {refusal(exc)}"  # the credential: nothing goes until fixed
            except Exception as exc:  # a lost reply or an outage: the same batch again
                error = type(exc).__name__
            else:
                failures = 0
                usage.sent += 1
                usage.last_error = None
                await usage.acknowledge(batch.id)
                log.debug("usage.sent", batch=batch.id, rows=len(batch.rows), applied=applied)
                continue
            failures += 1
            usage.failures += 1
            if error != usage.last_error:
                log.warning("usage.send_failed", batch=batch.id, error=error, failures=failures)
            usage.last_error = error
            await trio.sleep(backoff.delay(failures, rng))


def _learnt(ledger: UsageLedger, roots: Sequence[Path]) -> list[Path]:
    """The learnt directories still to be read (blocking); the others are forgotten (gone, or
    read as configured ones now)."""
    kept: list[Path] = []
    for name in list(ledger.learned):
        root = Path(name)
        why = acceptable(root, (*roots, *kept))
        if why is None:
            kept.append(root)
        else:
            ledger.unlearn(name)
            log.info("usage.directory_forgotten", directory=name, reason=why)
    return kept


async def run(
    usage: Usage,
    hub: WatchHub,
    gateway_cell: LatestValue[GatewayProtocol | None],
    *,
    min_gap: float = MIN_GAP,
    held_interval: float = HELD_INTERVAL,
    call_timeout: float = CALL_TIMEOUT,
    backoff: Backoff = BACKOFF,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Read the transcripts as the hub says they change; send what is sealed; watch the
    directories the hooks show too. Ready once the ledger is loaded and the hub is asked to
    watch: the first reading of every transcript (at a first start, the whole history) comes
    after, so it holds up no other actor."""
    if usage.create is not None:
        await trio.to_thread.run_sync(
            partial(usage.create.mkdir, parents=True, exist_ok=True), limiter=usage.disk
        )
    ledger = await usage.load()
    async with usage.lock:
        kept = await trio.to_thread.run_sync(
            partial(_learnt, ledger, usage.roots), limiter=usage.disk
        )
    usage._watching((*usage.roots, *kept))
    inboxes: list[tuple[Path, Inbox]] = []
    try:
        paths: set[Path] = set()
        rescan = True  # every transcript, once
        wake = trio.Event()
        wake.set()
        async with trio.open_nursery() as nursery:

            async def pump(inbox: Inbox) -> None:
                nonlocal rescan
                while True:
                    changed, again = await inbox.get()
                    paths.update(changed)
                    rescan |= again
                    wake.set()

            def watch(root: Path) -> None:
                inbox = hub.subscribe(root)
                inboxes.append((root, inbox))
                nursery.start_soon(pump, inbox)

            async def learner() -> None:
                """Watch each directory a hook showed, once it is found acceptable; the hub
                then asks for a rescan, which reads what it holds."""
                seen = -1  # and what was offered before this start
                while True:
                    seen, _ = await usage.offers.wait_newer(seen)
                    while usage.offered:
                        root = usage.offered.pop(0)
                        why = await trio.to_thread.run_sync(
                            acceptable, root, usage.watched, limiter=usage.disk
                        )
                        if why is None:
                            async with usage.lock:
                                if not ledger.learn(str(root)):
                                    why = f"{MAX_LEARNED} learnt directories already"
                        if why == ALREADY_READ:
                            usage._alias(root)
                        elif why is not None:
                            log.info("usage.directory_skipped", directory=str(root), reason=why)
                        if why is not None:
                            continue
                        usage._watching((*usage.watched, root))
                        watch(root)
                        log.info("usage.directory_learned", directory=str(root))

            held = trio.Event()  # set while usage is held: the only timer, and only then

            async def held_timer() -> None:
                while True:
                    await held.wait()
                    await trio.sleep(held_interval)
                    wake.set()

            for root in usage.watched:
                watch(root)
            nursery.start_soon(learner)
            nursery.start_soon(held_timer)
            nursery.start_soon(_follow_presence, usage, gateway_cell)
            nursery.start_soon(
                partial(
                    _send_pending, usage, gateway_cell, call_timeout=call_timeout, backoff=backoff
                )
            )
            task_status.started()
            last = -math.inf
            while True:
                if ledger.held():
                    held.set()
                elif held.is_set():
                    held = trio.Event()
                await wake.wait()
                wake = trio.Event()
                gap = last + usage.pace.wait_s(min_gap) - trio.current_time()
                if gap > 0:
                    # What comes meanwhile is read in this round; a dashboard opening cuts the
                    # lazy wait short.
                    usage.pausing = True
                    try:
                        await usage.pace.pause(gap)
                    finally:
                        usage.pausing = False
                    wake = trio.Event()
                last = trio.current_time()
                taken, paths = paths, set()
                whole, rescan = rescan, False
                await usage.read(None if whole else taken)
                if ledger.unfinished:  # read up to a round's budget: the rest in the next ones
                    paths.update(ledger.unfinished)
                    wake.set()
    finally:
        for root, inbox in inboxes:
            hub.unsubscribe(root, inbox)
        await usage.save_acknowledged()


def _watching_left(usage: Usage) -> float | None:
    """Seconds someone is still watching (0: nobody); None: not known (Convex has not said)."""
    until = usage.watched_until
    if until is None:
        return None
    by_clock = (until - usage.wall_ms()) / 1000
    changed = usage.watch_changed
    by_change = 0.0 if changed is None else changed + WATCH_S - trio.current_time()
    return max(by_clock, by_change, 0.0)


async def _follow_presence(usage: Usage, gateway_cell: LatestValue[GatewayProtocol | None]) -> None:
    """Keep `usage.pace` quick while someone has the dashboard open: from the time
    ``presence:watchedUntil`` gives, and for `WATCH_S` after it changes (a laptop whose clock is
    off still sees a dashboard open); lazy once that runs out."""
    poked: LatestValue[int] = LatestValue(0)

    async def seen(until: int) -> None:
        if usage.watched_until is not None and until > usage.watched_until:
            usage.watch_changed = trio.current_time()
        usage.watched_until = until
        poked.set(poked.value + 1)

    async def clock() -> None:
        version = 0
        while True:
            left = _watching_left(usage)
            usage.pace.set_quick(left is None or left > 0)
            if left:
                with trio.move_on_after(left):
                    version, _ = await poked.wait_newer(version)
            else:
                version, _ = await poked.wait_newer(version)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(clock)
        await follow(
            gateway_cell,
            lambda gateway: gateway.watched_until(),
            seen,
            name="dashboard_presence",
        )


# --- quota --------------------------------------------------------------------------------------


def _now_ms() -> int:
    return int(time.time() * 1000)


class Quota:
    """This laptop's Claude accounts' quota as last observed (one :class:`QuotaState` per
    account, the least recently observed first), and the sending of it."""

    def __init__(self, *, clock: Callable[[], int] = _now_ms, home: Path | None = None) -> None:
        self.accounts: dict[str | None, QuotaState] = {}
        self.clock = clock
        self.home = Path.home() if home is None else home
        self.keys = AccountKeys(self.home)  # which account each config dir is logged in to
        # Accounts a rate-limit stop named before any status line of theirs said which account
        # they are logged in to: the actor looks their keys up (`look_up_keys`).
        self.unkeyed: list[str] = []
        self.wake: LatestValue[int] = LatestValue(0)
        self.sends = 0
        self.failures = 0
        self.last_error: str | None = None

    def _poke(self) -> None:
        self.wake.set(self.wake.value + 1)

    def _state(self, account: str | None) -> QuotaState:
        """`account`'s state, now the most recently observed; a new account past
        :data:`ACCOUNTS_MAX` replaces the least recently observed one (as Convex does)."""
        state = self.accounts.pop(account, None)
        if state is None:
            state = QuotaState(account=account)
            if len(self.accounts) >= ACCOUNTS_MAX:
                gone = next(iter(self.accounts))
                del self.accounts[gone]
                log.warning("quota.account_dropped", account=gone, kept=ACCOUNTS_MAX)
        self.accounts[account] = state
        return state

    def observe_file(self, data: bytes, account_key: str | None = None) -> bool:
        """The bytes of a ``rate-limits.json``, and the key of the account its config dir is
        logged in to; whether they said something new."""
        obs = self.parse(data)
        return obs is not None and self.observe(obs, account_key)

    def parse(self, data: bytes) -> Observation | None:
        """What a ``rate-limits.json`` says (None: not that file's shape)."""
        return parse_rate_limits(data, now_ms=self.clock(), home=self.home)

    def observe(self, obs: Observation, account_key: str | None = None) -> bool:
        """An observation, and the key of the account its config dir is logged in to
        (`AccountKeys`); whether they said something new."""
        state = self._state(obs.account)
        changed = account_key != state.account_key
        state.account_key, state.key_known = account_key, True
        if not state.observe(obs) and not changed:
            return False
        self._poke()
        return True

    def limited(self, at_ms: float, text: str | None, transcript_path: str | None = None) -> None:
        """A ``StopFailure`` rate limit of the session whose transcript is `transcript_path`
        (never blocks: an account with no key yet has it looked up before its report goes)."""
        account = account_of(transcript_path, self.home)
        state = self._state(account)
        if (
            account is not None
            and not state.key_known
            and account not in self.unkeyed
            and len(self.unkeyed) < ACCOUNTS_MAX
        ):
            self.unkeyed.append(account)
        if state.limited(int(at_ms), text):
            self._poke()

    async def look_up_keys(self) -> None:
        """Find the keys of the accounts a rate-limit stop named with none known (the config
        file is read in a worker thread)."""
        while self.unkeyed:
            account = self.unkeyed.pop(0)
            key = await trio.to_thread.run_sync(self.keys.key, account)
            state = self.accounts.get(account)
            if state is not None and not state.key_known:  # a status line may have said since
                state.account_key, state.key_known = key, True  # goes with the stop's report

    def resend(self) -> None:
        for state in self.accounts.values():
            state.resend()
        self._poke()

    def detail(self) -> dict[str, Any]:
        return {
            "accounts": len(self.accounts),
            "observations": sum(s.observations for s in self.accounts.values()),
            "sends": self.sends,
            "failures": self.failures,
        }


def _read_limits(path: Path, quota: Quota) -> tuple[Observation, str | None] | None:
    """What the file says and the key of its account, read once (blocking: the account's
    config file may be read too); None: no file, or not a ``rate-limits.json``."""
    try:
        found = read_file(path, limit=FILE_MAX)
    except FileRefused:
        return None
    obs = None if found is None else quota.parse(found.data)
    return None if obs is None else (obs, quota.keys.key(obs.account))


async def watch_rate_limits(
    worktree: Path,
    hub: WatchHub,
    quota: Quota,
    *,
    disk: trio.CapacityLimiter | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Hand `quota` the worktree's ``rate-limits.json`` each time it changes (and once now)."""
    root = tina_dir(worktree)
    path = root / FILE_NAME
    limiter = disk or trio.CapacityLimiter(1)
    inbox = hub.subscribe(root)
    try:
        task_status.started()
        changed = True
        while True:
            if changed:
                read = await trio.to_thread.run_sync(_read_limits, path, quota, limiter=limiter)
                if read is not None:
                    quota.observe(*read)
            paths, rescan = await inbox.get()
            changed = rescan or path in paths
    finally:
        hub.unsubscribe(root, inbox)


async def run_quota(
    quota: Quota,
    gateway_cell: LatestValue[GatewayProtocol | None],
    reconcile: LatestValue[int] | None = None,
    *,
    call_timeout: float = CALL_TIMEOUT,
    backoff: Backoff = BACKOFF,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Send ``usage:recordQuota`` when it is due (`QuotaState.due_in`); again after a reconnect."""
    rng = random.Random()
    quota.resend()  # a (re)started actor sends what it knows once

    async def on_reconcile() -> None:
        assert reconcile is not None
        seen = reconcile.version
        while True:
            seen, _ = await reconcile.wait_newer(seen)
            quota.resend()

    async with trio.open_nursery() as nursery:
        if reconcile is not None:
            nursery.start_soon(on_reconcile)
        task_status.started()
        seen = quota.wake.version
        failures = 0
        while True:
            await quota.look_up_keys()
            now = quota.clock()
            dues = [
                (due, state)
                for state in quota.accounts.values()
                if (due := state.due_in(now)) is not None
            ]
            due, state = min(dues, key=lambda d: d[0], default=(None, None))
            if due is None or due > 0 or state is None:
                with trio.move_on_after(math.inf if due is None else due / 1000):
                    seen, _ = await quota.wake.wait_newer(seen)
                continue
            gateway = gateway_cell.value
            if gateway is None:
                await gateway_cell.wait_for(lambda g: g is not None)
                continue
            report = state.report(quota.clock())
            assert report is not None
            error: str | None = None
            try:
                with trio.fail_after(call_timeout):
                    await gateway.record_quota(report)
            except ConvexError as exc:
                if refusal(exc) is None:  # refused data: not sent again until it changes
                    state.sent(report, quota.clock())
                    log.error("quota.refused", code=error_data(exc).code)
                    continue
                error = f"refused: {refusal(exc)}"
            except Exception as exc:  # down, slow: the newest report, after a backoff
                error = str(exc) or type(exc).__name__
            if error is not None:
                failures += 1
                quota.failures += 1
                if error != quota.last_error:
                    log.warning("quota.send_failed", error=error, failures=failures)
                quota.last_error = error
                await trio.sleep(backoff.delay(failures, rng))
                continue
            failures = 0
            quota.sends += 1
            quota.last_error = None
            state.sent(report, quota.clock())
            log.info(
                "quota.sent",
                account=report.account,
                five_hour=None if report.five_hour is None else report.five_hour.used_pct,
                seven_day=None if report.seven_day is None else report.seven_day.used_pct,
                limited=report.limited_at is not None,
            )
