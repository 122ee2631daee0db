"""Usage: Claude Code's transcripts -> batches of hourly rows -> ``usage:recordUsage``.

Not wired into the supervision tree yet (issue 22): it polls the projects directory instead of
taking changes from the watch hub, and the gateway has no ``record_usage`` method yet, so the
caller passes `send` (a batch -> whether Convex applied it now; both answers mean done).

Each round, in a worker thread: list the transcripts under `projects_dir`, forget the ones that
are gone, read the new complete lines of each, seal them into batches (saved with the marks);
then send the waiting batches oldest first. A batch whose send fails stays and is sent again,
under the same id, next round: Convex ignores a batch it applied before. A batch Convex refuses
(a ``ConvexError`` other than a refused credential) is dropped and counted in
``ledger.refused``: sent again it would be refused again and hold back every later batch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog
import trio

from tina.convex.errors import ConvexError, error_data, refusal
from tina.usage import Batch, Facts, PriceTable, UsageLedger

log = structlog.get_logger("tina.usage")

__all__ = ["run", "scan_once"]


def scan_once(ledger: UsageLedger, projects_dir: Path, facts: Facts, prices: PriceTable) -> int:
    """One round of reading (blocking): the number of new batches sealed."""
    paths = sorted(projects_dir.rglob("*.jsonl")) if projects_dir.is_dir() else []
    ledger.forget_missing(str(p) for p in paths)
    for path in paths:
        mark = ledger.reader.marks.get(str(path))
        try:
            st = path.stat()
        except OSError:
            continue
        if mark is not None and (mark.dev, mark.inode, mark.offset) == (
            st.st_dev,
            st.st_ino,
            st.st_size,
        ):
            continue  # nothing new: not even opened
        ledger.read(path, facts)
    return len(ledger.seal(prices))


async def run(
    ledger: UsageLedger,
    projects_dir: Path,
    facts: Callable[[], Facts],
    send: Callable[[Batch], Awaitable[bool]],
    *,
    prices: PriceTable,
    interval: float = 2.0,
    disk: trio.CapacityLimiter | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    limiter = disk or trio.CapacityLimiter(1)
    task_status.started()
    while True:
        sealed = await trio.to_thread.run_sync(
            scan_once, ledger, projects_dir, facts(), prices, limiter=limiter
        )
        if sealed:
            log.info("usage.sealed", batches=sealed, counted=ledger.counted)
        for batch in ledger.pending():
            try:
                applied = await send(batch)
            except ConvexError as exc:
                if refusal(exc) is not None:  # the credential: nothing goes until it is fixed
                    log.warning("usage.send_failed", batch=batch.id, error=refusal(exc))
                    break
                # Refused data: sent again it is refused again, and it would hold back every
                # batch after it. Dropped, counted and logged (its code, never its rows).
                ledger.refused += 1
                log.error("usage.refused", batch=batch.id, code=error_data(exc).code)
                await trio.to_thread.run_sync(ledger.acknowledge, batch.id, limiter=limiter)
                continue
            except Exception as exc:  # a lost reply or an outage: the same batch next round
                log.warning("usage.send_failed", batch=batch.id, error=type(exc).__name__)
                break
            await trio.to_thread.run_sync(ledger.acknowledge, batch.id, limiter=limiter)
            log.info("usage.sent", batch=batch.id, rows=len(batch.rows), applied=applied)
        await trio.sleep(interval)
