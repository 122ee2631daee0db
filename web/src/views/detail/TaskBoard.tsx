// Current tasks per phase and team, in pending / in progress / completed columns.
import type { TeamDetail } from "../../api";
import { EmptyState, Panel } from "../../components/ui";
import { comparePhaseNumbers } from "../../lib/phases";
import { useNow } from "../../hooks/useNow";
import { buildBoard, COLUMN_LABELS, taskTiming, visibleColumns } from "../../lib/tasks";
import s from "../detail.module.css";

export function TeamBoard({ detail }: { detail: TeamDetail }) {
  const now = useNow();
  const board = buildBoard(detail.tasks);
  const columns = visibleColumns(board);
  const { team } = detail;
  const title = `${team.phaseNumber ? `Phase ${team.phaseNumber} · ` : ""}${team.teamName}`;
  return (
    <Panel title={title} label={`Tasks of ${team.teamName}`}>
      {team.removedAt !== undefined && <p className={s.note}>This team has ended; its tasks keep their last state.</p>}
      {detail.tasks.length === 0 ? (
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
                    </li>
                  ))}
                </ul>
              )}
            </div>
          ))}
        </div>
      )}
      {detail.tasksTruncated && <p className={s.note}>Showing the first 500 tasks.</p>}
    </Panel>
  );
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
        <TeamBoard key={t.team._id} detail={t} />
      ))}
    </>
  );
}
