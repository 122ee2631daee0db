// Current tasks per phase and team, in pending / in progress / completed columns. A team's tasks
// come a page at a time (orchestrations:teamTasks), more as the board scrolls into view; a task's
// description is loaded when its card is opened.
import { usePaginatedQuery, useQuery } from "convex/react";
import { useEffect, useRef, useState } from "react";
import { api, type BoardTaskRow, type Id, type TeamDetail, type TeamDoc } from "../../api";
import { Button, EmptyState, Panel, Skeleton } from "../../components/ui";
import { comparePhaseNumbers } from "../../lib/phases";
import { useNow } from "../../hooks/useNow";
import { buildBoard, COLUMN_LABELS, taskTiming, visibleColumns } from "../../lib/tasks";
import s from "../detail.module.css";

/** Tasks per page of orchestrations:teamTasks (it may return fewer: each page is bounded in bytes). */
export const TASK_PAGE = 100;

/** Where the board is in its pages, as usePaginatedQuery says. */
export type PageStatus = "LoadingFirstPage" | "CanLoadMore" | "LoadingMore" | "Exhausted";

function TaskDescription({ taskId }: { taskId: Id<"tasks"> }) {
  const described = useQuery(api.orchestrations.taskDescription, { taskId });
  if (described === undefined) return <Skeleton height={16} />;
  if (described === null) return <p className={s.emptyColumn}>This task is gone.</p>;
  return <p className={s.taskDescription}>{described.description}</p>;
}

function DescriptionToggle({ taskId }: { taskId: Id<"tasks"> }) {
  const [open, setOpen] = useState(false);
  return (
    <details className={s.eventDetail} onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>description</summary>
      {open && <TaskDescription taskId={taskId} />}
    </details>
  );
}

/** Calls `onVisible` when the element scrolls into view (where the browser can tell). */
function useWhenVisible(onVisible: () => void, enabled: boolean) {
  const ref = useRef<HTMLDivElement>(null);
  const callback = useRef(onVisible);
  useEffect(() => {
    callback.current = onVisible;
  });
  useEffect(() => {
    const el = ref.current;
    if (!enabled || el === null || typeof IntersectionObserver === "undefined") return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) callback.current();
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [enabled]);
  return ref;
}

function totalOf(team: TeamDoc): number {
  const c = team.taskCounts;
  return c.pending + c.inProgress + c.completed + c.other;
}

export function TeamBoard({ team, tasks, status, onMore }: { team: TeamDoc; tasks: readonly BoardTaskRow[]; status: PageStatus; onMore: () => void }) {
  const now = useNow();
  const board = buildBoard(tasks);
  const columns = visibleColumns(board);
  const more = status === "CanLoadMore" || status === "LoadingMore";
  const sentinel = useWhenVisible(() => {
    if (status === "CanLoadMore") onMore();
  }, status === "CanLoadMore");
  const title = `${team.phaseNumber ? `Phase ${team.phaseNumber} · ` : ""}${team.teamName}`;
  return (
    <Panel title={title} label={`Tasks of ${team.teamName}`}>
      {team.removedAt !== undefined && <p className={s.note}>This team has ended; its tasks keep their last state.</p>}
      {status === "LoadingFirstPage" ? (
        <Skeleton height={120} />
      ) : tasks.length === 0 && !more ? (
        <p className={s.emptyColumn}>No tasks yet.</p>
      ) : (
        <div className={s.board} style={{ ["--cols" as string]: columns.length }} data-testid="task-board" data-team={team.dirName}>
          {columns.map((c) => (
            <div key={c} className={s.column} data-column={c}>
              <h4>
                {COLUMN_LABELS[c]} ({board[c].length})
              </h4>
              {board[c].length === 0 ? (
                <p className={s.emptyColumn}>none</p>
              ) : (
                <ul className={s.cards}>
                  {board[c].map(({ task, openBlockers }) => (
                    <li key={task._id} className={s.task} data-testid="task" data-task={task.taskId}>
                      <div className={s.taskHead}>
                        <span className={s.taskId}>#{task.taskId}</span>
                        <span className={s.taskSubject}>{task.subject}</span>
                      </div>
                      <div className={s.taskMeta}>
                        <span>{task.owner ? `owner ${task.owner}` : "unassigned"}</span>
                        {task.status === "in_progress" && task.activeForm && <span>{task.activeForm}</span>}
                        {c === "other" && <span>status {task.status}</span>}
                        {taskTiming(task, now) !== null && <span data-testid="task-timing">{taskTiming(task, now)}</span>}
                        {openBlockers.length > 0 && (
                          <span className={s.blockedBy}>blocked by {openBlockers.map((b) => `#${b}`).join(", ")}</span>
                        )}
                      </div>
                      {task.hasDescription && <DescriptionToggle taskId={task._id} />}
                    </li>
                  ))}
                </ul>
              )}
            </div>
          ))}
        </div>
      )}
      {more && (
        <div className={s.more} ref={sentinel} data-testid="tasks-more">
          <Button small disabled={status === "LoadingMore"} onClick={onMore}>
            {status === "LoadingMore" ? "Loading…" : `Showing ${tasks.length} of ${Math.max(totalOf(team), tasks.length)} tasks: load more`}
          </Button>
        </div>
      )}
    </Panel>
  );
}

/** One team's board, its tasks loaded page by page. */
function PagedTeamBoard({ team }: { team: TeamDoc }) {
  const { results, status, loadMore } = usePaginatedQuery(api.orchestrations.teamTasks, { teamId: team._id }, { initialNumItems: TASK_PAGE });
  return <TeamBoard team={team} tasks={results} status={status} onMore={() => loadMore(TASK_PAGE)} />;
}

export function TaskBoards({ teams }: { teams: TeamDetail[] }) {
  if (teams.length === 0) {
    return (
      <Panel title="Tasks">
        <EmptyState title="No agent team has joined yet.">
          <p>Teams and their tasks appear here when the orchestrator starts them.</p>
        </EmptyState>
      </Panel>
    );
  }
  const ordered = [...teams].sort(
    (a, b) =>
      comparePhaseNumbers(a.team.phaseNumber ?? "999", b.team.phaseNumber ?? "999") ||
      a.team.teamName.localeCompare(b.team.teamName),
  );
  return (
    <>
      {ordered.map((t) => (
        <PagedTeamBoard key={t.team._id} team={t.team} />
      ))}
    </>
  );
}
