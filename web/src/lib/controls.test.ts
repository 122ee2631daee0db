import { describe, expect, test } from "vitest";
import type { ActionDoc, PhaseStatus } from "../api";
import {
  applicableControls,
  controlHelp,
  isFinishedOrchestration,
  PHASE_CONTROLS,
  defaultTargetPhase,
  messageAvailability,
  messageTextProblem,
  needsConfirmation,
  phaseControlAvailability,
  phaseStateReason,
  messageRoutes,
  planApprovalReason,
  type ActContext,
  type PhaseControl,
} from "./controls";

const ctx = (over: Partial<ActContext> = {}): ActContext => ({
  role: "operator",
  laptopName: "alpha",
  laptopOnline: true,
  laptopMessaging: "operators",
  actions: [],
  ...over,
});

const phase = (status: PhaseStatus, phaseNumber = "2") => ({ phaseNumber, status });

type A = Pick<ActionDoc, "type" | "status" | "payload">;
const action = (type: A["type"], status: A["status"], phase = "2"): A => ({ type, status, payload: { phase } });

describe("phase controls", () => {
  const applies: Record<PhaseControl, PhaseStatus[]> = {
    approve_plan: ["awaiting_approval"],
    reject_plan: ["awaiting_approval"],
    pause: ["planning", "planned", "awaiting_approval", "executing", "reviewing"],
    resume: ["paused"],
    retry: ["blocked", "paused"],
  };
  const all: PhaseStatus[] = ["planning", "planned", "awaiting_approval", "executing", "reviewing", "complete", "blocked", "paused"];

  test.each(Object.entries(applies))("%s applies exactly to its statuses", (control, statuses) => {
    for (const status of all) {
      const a = phaseControlAvailability(control as PhaseControl, phase(status), ctx());
      expect(a.enabled, `${control} on ${status}`).toBe(statuses.includes(status));
    }
  });

  test("each refusal names the phase and why", () => {
    expect(phaseStateReason("approve_plan", "2", "executing")).toBe("no plan is waiting for approval in phase 2");
    expect(phaseStateReason("retry", "1.5", "executing")).toBe("phase 1.5 is not blocked");
    expect(phaseStateReason("resume", "3", "blocked")).toBe("phase 3 is not paused");
    expect(phaseStateReason("pause", "2", "paused")).toBe("phase 2 is already paused");
    expect(phaseStateReason("pause", "2", "blocked")).toBe("phase 2 is blocked; retry it instead");
    expect(phaseStateReason("pause", "2", "complete")).toBe("phase 2 is complete");
  });

  test("an offline laptop disables a control that would otherwise apply", () => {
    const a = phaseControlAvailability("retry", phase("blocked"), ctx({ laptopOnline: false }));
    expect(a).toEqual({ enabled: false, reason: "alpha is offline; actions would wait and expire" });
  });

  test("the phase's own state is explained before the laptop being offline", () => {
    const a = phaseControlAvailability("retry", phase("executing"), ctx({ laptopOnline: false }));
    expect(a).toEqual({ enabled: false, reason: "phase 2 is not blocked" });
  });

  test("viewers and a role still loading cannot act", () => {
    expect(phaseControlAvailability("pause", phase("executing"), ctx({ role: "viewer" }))).toMatchObject({ enabled: false, reason: expect.stringContaining("viewers") });
    expect(phaseControlAvailability("pause", phase("executing"), ctx({ role: undefined }))).toMatchObject({ enabled: false, reason: "checking your permissions…" });
    expect(phaseControlAvailability("pause", phase("executing"), ctx({ role: "owner" })).enabled).toBe(true);
  });

  test("no phase yet", () => {
    expect(phaseControlAvailability("pause", undefined, ctx())).toEqual({ enabled: false, reason: "no phase has started yet" });
  });

  test("the same control already on its way for the same phase blocks a second one", () => {
    const busy = ctx({ actions: [action("pause", "claimed")] });
    expect(phaseControlAvailability("pause", phase("executing"), busy)).toEqual({
      enabled: false,
      reason: "a pause for phase 2 is already on its way",
    });
    // Another phase, or a finished one, does not count.
    expect(phaseControlAvailability("pause", phase("executing", "3"), busy).enabled).toBe(true);
    expect(phaseControlAvailability("pause", phase("executing"), ctx({ actions: [action("pause", "failed")] })).enabled).toBe(true);
  });

  test("approve and reject exclude each other while one is pending", () => {
    const busy = ctx({ actions: [action("approve_plan", "pending")] });
    expect(phaseControlAvailability("reject_plan", phase("awaiting_approval"), busy)).toEqual({
      enabled: false,
      reason: "an approval for phase 2 is already on its way",
    });
  });
});

describe("messages", () => {
  const member = { agentName: "executor-1", agentId: "executor-1@team" };
  test("allowed to a present agent of a live team on an online laptop", () => {
    expect(messageAvailability(member, {}, ctx())).toEqual({ enabled: true });
  });
  test("refused with the reason", () => {
    expect(messageAvailability({ ...member, removedAt: 1 }, {}, ctx())).toEqual({ enabled: false, reason: "executor-1 has left the team" });
    expect(messageAvailability(member, { removedAt: 1 }, ctx())).toEqual({ enabled: false, reason: "this team has ended" });
    expect(messageAvailability(member, {}, ctx({ laptopOnline: false })).enabled).toBe(false);
    expect(messageAvailability(member, {}, ctx({ role: "viewer" })).enabled).toBe(false);
    expect(messageAvailability(undefined, {}, ctx())).toEqual({ enabled: false, reason: "choose an agent" });
  });
  test("the laptop's rule: who may message its agents", () => {
    const as = (role: ActContext["role"], laptopMessaging: ActContext["laptopMessaging"]) => messageAvailability(member, {}, ctx({ role, laptopMessaging }));
    expect(as("operator", "owners")).toEqual({ enabled: false, reason: "only owners may message agents on alpha; an owner can allow operators on the Fleet page" });
    expect(as("owner", "owners")).toEqual({ enabled: true });
    expect(as("operator", "operators")).toEqual({ enabled: true });
    expect(as("owner", "nobody")).toEqual({ enabled: false, reason: "messages to agents on alpha are turned off; an owner can turn them on on the Fleet page" });
    expect(as("operator", "nobody").enabled).toBe(false);
    // A viewer hears about their role, not the rule.
    expect(as("viewer", "operators")).toMatchObject({ enabled: false, reason: expect.stringContaining("viewers") });
    // The rule is about the user, so it is said before the agent's or laptop's state.
    expect(messageAvailability(member, {}, ctx({ laptopMessaging: "owners", laptopOnline: false }))).toMatchObject({ reason: expect.stringContaining("only owners") });
  });
  test("a member with no route cannot be messaged, and says why; any live member still has its inbox", () => {
    expect(messageAvailability({ ...member, reach: "in_process" }, {}, ctx())).toEqual({ enabled: true });
    expect(messageAvailability({ ...member, reach: "none" }, {}, ctx())).toEqual({ enabled: true });
    expect(messageAvailability({ ...member, liveness: "shut_down" }, {}, ctx())).toEqual({ enabled: false, reason: "executor-1 has shut down" });
    expect(messageAvailability({ ...member, liveness: "gone", livenessReason: "its tmux pane %4 is gone" }, {}, ctx())).toEqual({
      enabled: false,
      reason: "executor-1 is gone: its tmux pane %4 is gone",
    });
    // Having left is said before its liveness; its liveness before the laptop being offline.
    expect(messageAvailability({ ...member, liveness: "gone", removedAt: 1 }, {}, ctx())).toMatchObject({ reason: "executor-1 has left the team" });
    expect(messageAvailability({ ...member, liveness: "shut_down" }, {}, ctx({ laptopOnline: false }))).toMatchObject({ reason: "executor-1 has shut down" });
  });
  test("text is checked like the server does", () => {
    expect(messageTextProblem("  ")).toBe("write something to send");
    expect(messageTextProblem("x".repeat(4001))).toBe("at most 4000 characters (4001 now)");
    expect(messageTextProblem("bell\u0007")).toBe("remove control characters");
    expect(messageTextProblem("line one\nline two\twith a tab")).toBeNull();
  });
});

test("only resume and messages go without confirmation", () => {
  expect(["approve_plan", "reject_plan", "pause", "resume", "retry", "send_message"].filter((c) => needsConfirmation(c as PhaseControl))).toEqual([
    "approve_plan",
    "reject_plan",
    "pause",
    "retry",
  ]);
});

describe("default target phase", () => {
  const phases = [phase("complete", "1"), phase("complete", "1.5"), phase("executing", "2")];
  test("the attention phase wins", () => {
    expect(defaultTargetPhase([...phases, phase("planning", "3")], "2")?.phaseNumber).toBe("2");
  });
  test("then a phase that waits or is stopped", () => {
    expect(defaultTargetPhase([phase("complete", "1"), phase("blocked", "1.5"), phase("planning", "2")], undefined)?.phaseNumber).toBe("1.5");
  });
  test("then the last open phase, then the last phase", () => {
    expect(defaultTargetPhase(phases, undefined)?.phaseNumber).toBe("2");
    expect(defaultTargetPhase([phase("complete", "1"), phase("complete", "2")], undefined)?.phaseNumber).toBe("2");
    expect(defaultTargetPhase([], undefined)).toBeUndefined();
  });
  test("an attention phase that is not listed falls back", () => {
    expect(defaultTargetPhase(phases, "9")?.phaseNumber).toBe("2");
  });
});

describe("message routes (the same rule as convex/model/messaging.ts)", () => {
  const phaseTeam = { orchestrationId: "o1", phaseNumber: "2", leadAgentId: "team-lead@t" };
  const m = (over: Partial<Parameters<typeof messageRoutes>[0]> = {}) => ({ agentId: "worker@t", agentName: "worker", ...over });

  test("a pane teammate: its pane, then its inbox", () => {
    expect(messageRoutes(m({ reach: "pane" }), phaseTeam)).toEqual({
      routes: ["pane", "inbox"],
      unavailable: { lead_session: "it is not its team's lead" },
    });
  });

  test("the lead of a phase team: the tmux session first; the lead is known by reach or by the team's leadAgentId", () => {
    expect(messageRoutes(m({ reach: "lead" }), phaseTeam).routes).toEqual(["lead_session", "inbox"]);
    expect(messageRoutes(m({ agentId: "team-lead@t" }), phaseTeam).routes).toEqual(["lead_session", "inbox"]);
    expect(messageRoutes(m({ reach: "lead" }), phaseTeam).unavailable.pane).toBe("the lead has no tmux pane of its own");
  });

  test("a lead outside any orchestration phase has no session to type into", () => {
    const offer = messageRoutes(m({ reach: "lead" }), { leadAgentId: "x" });
    expect(offer.routes).toEqual(["inbox"]);
    expect(offer.unavailable.lead_session).toBe("its team works on no orchestration phase, so there is no lead session for it");
    expect(messageRoutes(m({ reach: "lead" }), { orchestrationId: "o1" }).routes).toEqual(["inbox"]);
  });

  test("in-process, unknown and older daemons: the inbox only", () => {
    expect(messageRoutes(m({ reach: "in_process" }), phaseTeam)).toEqual({
      routes: ["inbox"],
      unavailable: { lead_session: "it is not its team's lead", pane: "it runs inside the lead's process, without a tmux pane of its own" },
    });
    expect(messageRoutes(m({ reach: "none" }), phaseTeam).routes).toEqual(["inbox"]);
    expect(messageRoutes(m(), phaseTeam).unavailable.pane).toBe("it has no tmux pane tina knows of");
  });

  test("shut down or gone: no route at all, each saying why", () => {
    const down = messageRoutes(m({ reach: "pane", liveness: "shut_down" }), phaseTeam);
    expect(down.routes).toEqual([]);
    expect(down.unavailable).toEqual({ lead_session: "worker has shut down", pane: "worker has shut down", inbox: "worker has shut down" });
    expect(messageRoutes(m({ liveness: "gone", livenessReason: "its tmux pane %3 is gone" }), phaseTeam).unavailable.inbox).toBe(
      "worker is gone: its tmux pane %3 is gone",
    );
    expect(messageRoutes(m({ liveness: "gone" }), phaseTeam).unavailable.inbox).toBe("worker is gone");
  });

  test("working, idle and waiting members keep every route they have", () => {
    for (const liveness of ["working", "idle", "waiting"] as const) {
      expect(messageRoutes(m({ reach: "pane", liveness }), phaseTeam).routes).toEqual(["pane", "inbox"]);
    }
  });
});

test("a plan is approved only as the dashboard has it", () => {
  expect(planApprovalReason(undefined, "2")).toBe("loading the plan…");
  expect(planApprovalReason(null, "2")).toBe("the plan has not reached the dashboard yet");
  expect(planApprovalReason({ missing: false }, "2")).toBe("the plan has not reached the dashboard yet");
  expect(planApprovalReason({ missing: true }, "2")).toBe("the plan of phase 2 is gone from the laptop");
  expect(planApprovalReason({ missing: false, hash: "a".repeat(64) }, "2")).toBeNull();
});

describe("which controls apply (issue 21)", () => {
  const at = (status: PhaseStatus) => ({ phaseNumber: "2", status });
  test("only the controls that apply to the phase's state", () => {
    expect(applicableControls(at("awaiting_approval"))).toEqual(["approve_plan", "reject_plan", "pause"]);
    expect(applicableControls(at("executing"))).toEqual(["pause"]);
    expect(applicableControls(at("paused"))).toEqual(["resume", "retry"]);
    expect(applicableControls(at("blocked"))).toEqual(["retry"]);
    expect(applicableControls(at("complete"))).toEqual([]);
    expect(applicableControls(undefined)).toEqual([]);
  });

  test("each says in one line what it does; resume and retry tell their difference", () => {
    const paused = { phaseNumber: "2", status: "paused" as const, pausedFrom: "reviewing" };
    expect(controlHelp("resume", paused)).toBe("Continues phase 2 where it stopped (review), keeping the work done so far.");
    expect(controlHelp("retry", paused)).toBe("Instead of continuing, starts review of phase 2 again from its beginning with a fresh agent.");
    expect(controlHelp("retry", at("blocked"))).toBe("Starts phase 2's blocked step again with a fresh agent; fix what blocked it first.");
    for (const c of PHASE_CONTROLS) expect(controlHelp(c, at("executing"))).toMatch(/^[A-Z].*\.$/);
  });

  test("only a complete orchestration is finished", () => {
    expect(isFinishedOrchestration("complete")).toBe(true);
    for (const s of ["planning", "executing", "reviewing", "blocked", "paused"] as const) expect(isFinishedOrchestration(s)).toBe(false);
  });
});
