// Realistic orchestrations and teams for the tests and the benchmark.
import type { OrchestrationFile, TeamFiles } from "./laptop";

const MIN = 60_000;

export function orchestration(feature: string, worktreeRoot: string, now = Date.now()): OrchestrationFile {
  return {
    feature,
    branch: `tina/${feature}`,
    worktreePath: `${worktreeRoot}/${feature}`,
    specDocPath: `docs/specs/${feature}.md`,
    totalPhases: 3,
    currentPhase: 2,
    status: "executing",
    startedAt: now - 95 * MIN,
    phases: {
      "1": {
        status: "complete",
        planPath: `docs/plans/${feature}-phase-1.md`,
        gitRange: "4f1c2aa..9b0e3d1",
        planningStartedAt: now - 95 * MIN,
        executionStartedAt: now - 82 * MIN,
        reviewStartedAt: now - 50 * MIN,
        completedAt: now - 42 * MIN,
        planningMins: 13,
        executionMins: 32,
        reviewMins: 8,
        durationMins: 53,
      },
      "1.5": {
        status: "complete",
        planningStartedAt: now - 42 * MIN,
        executionStartedAt: now - 38 * MIN,
        reviewStartedAt: now - 30 * MIN,
        completedAt: now - 27 * MIN,
        planningMins: 4,
        executionMins: 8,
        reviewMins: 3,
        durationMins: 15,
      },
      "2": {
        status: "executing",
        planPath: `docs/plans/${feature}-phase-2.md`,
        planningStartedAt: now - 27 * MIN,
        executionStartedAt: now - 15 * MIN,
        planningMins: 12,
      },
    },
  };
}

/** The same orchestration with phase 2's plan waiting at the approval gate. */
export function awaitingApproval(base: OrchestrationFile): OrchestrationFile {
  const phase = base.phases["2"]!;
  const { executionStartedAt: _e, ...rest } = phase;
  return { ...base, status: "planning", phases: { ...base.phases, "2": { ...rest, status: "awaiting_approval" } } };
}

export function team(feature: string, worktree: string, paneId: string | undefined, now = Date.now()): TeamFiles {
  return {
    dirName: `${feature}-phase-2`,
    teamName: `${feature}-phase-2`,
    members: [
      // The lead, as Claude Code records it: no pane of its own ("").
      { agentId: `lead@${feature}`, name: "team-lead", agentType: "team-lead", model: "claude-opus-4-1", joinedAt: now - 15 * MIN, cwd: worktree, tmuxPaneId: "" },
      {
        agentId: `exec@${feature}`,
        name: "executor-1",
        agentType: "executor",
        model: "claude-sonnet-4-5",
        joinedAt: now - 14 * MIN,
        cwd: worktree,
        backendType: "tmux",
        color: "blue",
        ...(paneId ? { tmuxPaneId: paneId } : {}),
      },
      // Claude Code's default teammate: in-process, idle between turns; reached through its inbox.
      { agentId: `rev@${feature}`, name: "reviewer", agentType: "reviewer", model: "claude-sonnet-4-5", joinedAt: now - 14 * MIN, cwd: worktree, tmuxPaneId: "in-process", backendType: "in-process", color: "green", isActive: false },
      // A teammate whose recorded tmux pane no longer exists: gone, so nothing can reach it.
      { agentId: `design@${feature}`, name: "designer", agentType: "designer", model: "claude-sonnet-4-5", joinedAt: now - 13 * MIN, cwd: worktree, tmuxPaneId: "%9999", backendType: "tmux" },
      // An in-process teammate whose inbox file is not an inbox (see the tests): a message to it fails.
      { agentId: `test@${feature}`, name: "tester", agentType: "tester", model: "claude-sonnet-4-5", joinedAt: now - 12 * MIN, cwd: worktree, tmuxPaneId: "in-process", backendType: "in-process", color: "yellow" },
    ],
    tasks: [
      { id: "1", subject: "Add the session table", status: "completed", owner: "executor-1" },
      { id: "2", subject: "Wire the login endpoint", status: "in_progress", owner: "executor-1", blockedBy: ["1"], activeForm: "Wiring the login endpoint" },
      { id: "3", subject: "Refresh tokens on expiry", status: "pending", blockedBy: ["2"] },
      { id: "4", subject: "Review the auth flow", status: "pending", owner: "reviewer", blockedBy: ["2", "3"] },
    ],
  };
}
