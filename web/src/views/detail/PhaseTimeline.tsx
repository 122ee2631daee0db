// Phases in order with planning / waiting for approval / execution / review durations (the
// stage a blocked or paused phase stopped in with its time until then), blocks, pauses and remediation.
import type { Id, PhaseDetail } from "../../api";
import { Badge, EmptyState, Panel, Time, cx } from "../../components/ui";
import { useNow } from "../../hooks/useNow";
import { phaseDuration, phaseTitle, planReadyAt, remediationDepth, stageTimings, stopKind, type StageTiming } from "../../lib/phases";
import { phaseStatusLabel, phaseStatusTone, type Tone } from "../../lib/status";
import { formatDuration } from "../../lib/time";
import { PlanToggle } from "./Documents";
import { insideWorktree } from "./header";
import s from "../detail.module.css";

const TONE_VAR: Record<Tone, string> = {
  neutral: "var(--neutral-fg)",
  info: "var(--info-fg)",
  progress: "var(--progress-fg)",
  success: "var(--success-fg)",
  warning: "var(--warning-fg)",
  danger: "var(--danger-fg)",
  muted: "var(--muted-fg)",
};

const STAGE_LABEL = { planning: "Planning", approval: "Waiting for approval", execution: "Execution", review: "Review" } as const;

function stageText(st: StageTiming, stop: "paused" | "blocked" | null): string {
  if (st.ms === undefined) return "–";
  if (st.live) return `${formatDuration(st.ms)} …`;
  if (st.stopped) return `${formatDuration(st.ms)}, then ${stop ?? "stopped"}`;
  return formatDuration(st.ms);
}

export function PhaseItem({
  phase,
  orchestrationId,
  worktreePath,
}: {
  phase: PhaseDetail;
  orchestrationId?: Id<"orchestrations">;
  /** Paths inside it are shown relative to it. */
  worktreePath?: string;
}) {
  const now = useNow();
  const stages = stageTimings(phase, now);
  const total = phaseDuration(phase, now);
  const stop = stopKind(phase);
  const ready = phase.status === "awaiting_approval" ? planReadyAt(phase) : undefined;
  const tone = phaseStatusTone(phase.status);
  return (
    <li
      className={cx(s.phase, remediationDepth(phase.phaseNumber) > 0 && s.remediation)}
      style={{ ["--tone" as string]: TONE_VAR[tone] }}
      data-testid="phase"
      data-phase={phase.phaseNumber}
      data-status={phase.status}
    >
      <div className={s.phaseHead}>
        <h3>{phaseTitle(phase.phaseNumber)}</h3>
        <span style={{ display: "inline-flex", gap: 8, alignItems: "center" }}>
          {total.ms !== undefined && (
            <span className={s.note}>
              {formatDuration(total.ms)}
              {total.live || stop !== null ? " so far" : ""}
            </span>
          )}
          <Badge tone={tone}>{phaseStatusLabel(phase.status)}</Badge>
        </span>
      </div>
      <div className={s.stages} data-count={stages.length}>
        {stages.map((st) => (
          <div key={st.stage} className={cx(s.stage, st.live && s.stageLive)} data-testid="stage" data-stage={st.stage}>
            <span>{STAGE_LABEL[st.stage]}</span>
            <span>{stageText(st, stop)}</span>
          </div>
        ))}
      </div>
      {stop !== null && (
        <div className={cx(s.stop, stop === "paused" && s.stopPaused)} role="note" data-testid="phase-stop">
          {stop === "paused" ? "Paused" : "Blocked"}: {phase.blockedReason ?? "no reason recorded"}
          {phase.pausedFrom && ` (was ${phase.pausedFrom.replace(/_/g, " ")})`}
        </div>
      )}
      {phase.status === "awaiting_approval" && (
        <div className={cx(s.stop, s.stopPaused)} role="note" data-testid="phase-awaiting">
          {ready !== undefined ? (
            <>
              The plan is ready: waiting since <Time at={ready} /> for an operator to approve or reject it.
            </>
          ) : (
            "The plan is ready and waits for an operator to approve or reject it."
          )}
        </div>
      )}
      {phase.feedback && (
        <div className={s.note} data-testid="phase-feedback">
          Plan feedback: {phase.feedback}
        </div>
      )}
      {(phase.planPath || phase.gitRange) && (
        <div className={s.note}>
          {phase.planPath && (
            <>
              plan <code>{worktreePath !== undefined ? insideWorktree(phase.planPath, worktreePath) : phase.planPath}</code>{" "}
            </>
          )}
          {phase.gitRange && (
            <>
              commits <code>{phase.gitRange}</code>
            </>
          )}
        </div>
      )}
      {phase.completedAt !== undefined && (
        <div className={s.note}>
          completed <Time at={phase.completedAt} />
        </div>
      )}
      {orchestrationId !== undefined && (phase.plan !== undefined || phase.planPath) && (
        <PlanToggle orchestrationId={orchestrationId} phase={phase.phaseNumber} plan={phase.plan} />
      )}
    </li>
  );
}

export function PhaseTimeline({
  phases,
  totalPhases,
  orchestrationId,
  worktreePath,
}: {
  phases: PhaseDetail[];
  totalPhases: number;
  /** Set on the detail page: each phase with a plan can then be read. */
  orchestrationId?: Id<"orchestrations">;
  worktreePath?: string;
}) {
  return (
    <Panel title={`Phases (${phases.filter((p) => remediationDepth(p.phaseNumber) === 0).length} of ${totalPhases})`} flush label="Phase timeline">
      {phases.length === 0 ? (
        <EmptyState title="No phase has started yet.">
          <p>The orchestration is validating its design; phase 1 appears when planning starts.</p>
        </EmptyState>
      ) : (
        <ol className={s.timeline}>
          {phases.map((p) => (
            <PhaseItem key={p._id} phase={p} orchestrationId={orchestrationId} worktreePath={worktreePath} />
          ))}
        </ol>
      )}
    </Panel>
  );
}
