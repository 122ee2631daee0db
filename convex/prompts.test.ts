// @vitest-environment edge-runtime
import { afterEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import { OPERATOR, OWNER, VIEWER, addUser, enroll, makeT, orchestration, phase, refusal, type T } from "./test.setup";

afterEach(() => {
  vi.useRealTimers();
});

const SUGGESTIONS = [{ type: "addRules", rules: [{ toolName: "Bash", ruleContent: "npm test" }], behavior: "allow", destination: "localSettings" }];
let counter = 0;
const newPromptId = () => (++counter).toString(16).padStart(32, "0");

function prompt(overrides: Record<string, unknown> = {}) {
  const openedAt = Date.now();
  return {
    promptId: newPromptId(),
    sessionId: "0b6f3a0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
    cwd: "/home/dev/acme/.worktrees/billing-export",
    toolName: "Bash",
    toolInput: '{"command":"npm test","description":"Run the tests"}',
    description: "Run the tests",
    suggestions: JSON.stringify(SUGGESTIONS),
    teamDir: "billing-export-phase-1",
    agentName: "executor-1",
    openedAt,
    expiresAt: openedAt + 20_000,
    ...overrides,
  };
}

/** Two laptops, an orchestration on A, an owner, an operator and a viewer. A accepts operators' answers unless `messaging` says otherwise. */
async function world(t: T, messaging: "owners" | "operators" | "nobody" | null = "operators") {
  const a = await enroll(t, "laptop-a");
  const b = await enroll(t, "laptop-b");
  const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, {
    nodeToken: a.token,
    orchestration: orchestration({ status: "executing" }),
    phases: [phase("1", "executing")],
  });
  const owner = await addUser(t, OWNER);
  const operator = await addUser(t, OPERATOR);
  const viewer = await addUser(t, VIEWER);
  if (messaging !== null) await owner.as.mutation(api.nodes.setMessaging, { nodeId: a.nodeId, messaging });
  const open = async (overrides: Record<string, unknown> = {}, token = a.token) => {
    const p = prompt(overrides);
    expect(await t.mutation(api.prompts.openPrompt, { nodeToken: token, ...p })).toEqual({ ok: true });
    return p.promptId;
  };
  return { a, b, orchestrationId, owner, operator, viewer, open };
}

const row = (t: T, promptId: string) =>
  t.run((ctx) => ctx.db.query("prompts").withIndex("by_prompt_node", (q) => q.eq("promptId", promptId)).unique());
const auditOf = (t: T, id: Id<"prompts">) =>
  t.run(async (ctx) => (await ctx.db.query("auditLog").withIndex("by_at").collect()).filter((e) => e.promptId === id));

describe("the round trip", () => {
  test("open → answer → pendingDecisions → settle applied; audited; never delivered twice", async () => {
    const t = makeT();
    const { a, orchestrationId, operator, viewer, open } = await world(t);
    const promptId = await open({ orchestrationId });
    const opened = (await row(t, promptId))!;
    expect(opened).toMatchObject({ nodeId: a.nodeId, status: "open", toolName: "Bash", inputTruncated: false, orchestrationId });
    expect(opened.expiresAt - opened.openedAt).toBe(20_000);

    const listed = await viewer.as.query(api.prompts.listOpen, {});
    expect(listed.open).toHaveLength(1);
    expect(listed.open[0]).toMatchObject({ promptId, nodeName: "laptop-a", featureName: "billing-export", status: "open" });
    expect(listed.recent).toEqual([]);
    expect(await t.query(api.prompts.pendingDecisions, { nodeToken: a.token })).toEqual([]);

    expect(await operator.as.mutation(api.prompts.answer, { promptId, decision: "allow_always", client: "phone" })).toEqual({ status: "answered" });
    const pending = await t.query(api.prompts.pendingDecisions, { nodeToken: a.token });
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ promptId, status: "answered", decision: "allow_always", answeredByName: OPERATOR.name, suggestions: JSON.stringify(SUGGESTIONS) });
    const waiting = await viewer.as.query(api.prompts.listOpen, {});
    expect(waiting.open).toEqual([]);
    expect(waiting.recent.map((p) => [p.promptId, p.status])).toEqual([[promptId, "answered"]]);

    expect(await t.mutation(api.prompts.settlePrompt, { nodeToken: a.token, promptId, outcome: "applied" })).toEqual({ ok: true, status: "applied" });
    expect(await t.query(api.prompts.pendingDecisions, { nodeToken: a.token })).toEqual([]);
    // A retried settle is a no-op; a different outcome after it is refused: applied only once.
    expect(await t.mutation(api.prompts.settlePrompt, { nodeToken: a.token, promptId, outcome: "applied" })).toEqual({ ok: true, status: "applied" });
    expect(await t.mutation(api.prompts.settlePrompt, { nodeToken: a.token, promptId, outcome: "too_late" })).toEqual({ ok: false, status: "applied" });
    expect(await t.mutation(api.prompts.settlePrompt, { nodeToken: a.token, promptId, outcome: "expired" })).toEqual({ ok: false, status: "applied" });
    const settled = (await row(t, promptId))!;
    expect(settled.status).toBe("applied");
    expect(settled.settledAt).toBeGreaterThanOrEqual(settled.answeredAt!);
    expect((await viewer.as.query(api.prompts.listOpen, {})).recent.map((p) => p.status)).toEqual(["applied"]);

    const log = await auditOf(t, settled._id);
    expect(log.map((e) => [e.verb, e.actorKind, e.outcome])).toEqual([
      ["prompt.answered", "user", "ok"],
      ["prompt.applied", "node", "ok"],
    ]);
    expect(log[0]).toMatchObject({ actorName: OPERATOR.name, client: "phone", nodeId: a.nodeId, nodeName: "laptop-a", orchestrationId });
    expect(log[0].detail).toBe('allow_always Bash on laptop "laptop-a" (agent executor-1)');
    expect(log[1].detail).toBe(`allow_always by ${OPERATOR.name}, Bash on laptop "laptop-a" (agent executor-1): handed to Claude Code`);
  });

  test("deny carries its message; too_late is recorded and audited as not applied", async () => {
    const t = makeT();
    const { a, owner, open } = await world(t);
    const promptId = await open();
    await owner.as.mutation(api.prompts.answer, { promptId, decision: "deny", message: "  use the unit tests only  " });
    expect(await row(t, promptId)).toMatchObject({ status: "answered", decision: "deny", message: "use the unit tests only", answeredByName: OWNER.name });
    expect(await t.mutation(api.prompts.settlePrompt, { nodeToken: a.token, promptId, outcome: "too_late" })).toEqual({ ok: true, status: "too_late" });
    const p = (await row(t, promptId))!;
    const last = (await auditOf(t, p._id)).at(-1)!;
    expect(last).toMatchObject({ verb: "prompt.too_late", outcome: "failed", actorKind: "node" });
    expect(last.detail).toMatch(/too late: answered at the laptop/);
  });

  test("the daemon expires an unanswered prompt at its deadline; answering it then is a conflict", async () => {
    const t = makeT();
    const { a, operator, open } = await world(t);
    const promptId = await open();
    expect(await t.mutation(api.prompts.settlePrompt, { nodeToken: a.token, promptId, outcome: "expired" })).toEqual({ ok: true, status: "expired" });
    // applied / too_late only follow an answer.
    expect(await t.mutation(api.prompts.settlePrompt, { nodeToken: a.token, promptId, outcome: "applied" })).toEqual({ ok: false, status: "expired" });
    const err = await refusal(operator.as.mutation(api.prompts.answer, { promptId, decision: "allow_once" }));
    expect(err).toMatchObject({ code: "conflict", message: "expired: answered at the laptop", field: "promptId" });
    const p = (await row(t, promptId))!;
    expect((await auditOf(t, p._id)).map((e) => [e.verb, e.outcome, e.actorKind])).toEqual([["prompt.expired", "ok", "node"]]);
  });

  test("open is idempotent by (laptop, promptId)", async () => {
    const t = makeT();
    const { a, open } = await world(t);
    const p = prompt();
    await t.mutation(api.prompts.openPrompt, { nodeToken: a.token, ...p });
    const first = (await row(t, p.promptId))!;
    expect(await t.mutation(api.prompts.openPrompt, { nodeToken: a.token, ...p, toolName: "Write" })).toEqual({ ok: true });
    expect(await row(t, p.promptId)).toEqual(first);
    await open();
    const rows = await t.run((ctx) => ctx.db.query("prompts").collect());
    expect(rows).toHaveLength(2);
    // One expiry per prompt, not per call.
    const scheduled = await t.run((ctx) => ctx.db.system.query("_scheduled_functions").collect());
    expect(scheduled.filter((s) => s.name.startsWith("prompts:expirePrompt"))).toHaveLength(2);
  });
});

describe("answer", () => {
  test("answering twice is a conflict naming the laptop and who answered", async () => {
    const t = makeT();
    const { a, operator, owner, open } = await world(t);
    const promptId = await open();
    await operator.as.mutation(api.prompts.answer, { promptId, decision: "allow_once" });
    const again = await refusal(owner.as.mutation(api.prompts.answer, { promptId, decision: "deny" }));
    expect(again).toMatchObject({ code: "conflict", message: `already answered on laptop-a by ${OPERATOR.name}`, field: "promptId" });
    await t.mutation(api.prompts.settlePrompt, { nodeToken: a.token, promptId, outcome: "applied" });
    expect((await refusal(owner.as.mutation(api.prompts.answer, { promptId, decision: "deny" }))).message).toBe(`already answered on laptop-a by ${OPERATOR.name}`);
    expect((await row(t, promptId))!.decision).toBe("allow_once");
  });

  test("a prompt past its deadline cannot be answered, even before the expiry ran", async () => {
    vi.useFakeTimers();
    const t = makeT();
    const { operator, open } = await world(t);
    const promptId = await open();
    vi.setSystemTime(Date.now() + 20_000);
    expect(await refusal(operator.as.mutation(api.prompts.answer, { promptId, decision: "allow_once" }))).toMatchObject({
      code: "conflict",
      message: "expired: answered at the laptop",
    });
    expect((await row(t, promptId))!.status).toBe("open");
  });

  test("allow_always needs the prompt's suggestions; a message goes only with deny, bounded, without control characters", async () => {
    const t = makeT();
    const { operator, open } = await world(t);
    const bare = await open({ suggestions: undefined });
    expect(await refusal(operator.as.mutation(api.prompts.answer, { promptId: bare, decision: "allow_always" }))).toMatchObject({
      code: "invalid_argument",
      field: "decision",
      message: "Bash offers no rule to allow always; allow once or deny",
    });
    const promptId = await open();
    const refused = async (args: Record<string, unknown>) => await refusal(operator.as.mutation(api.prompts.answer, { promptId, ...args } as never));
    expect(await refused({ decision: "allow_once", message: "ok" })).toMatchObject({ code: "invalid_argument", field: "message" });
    expect(await refused({ decision: "allow_once", message: "x".repeat(100_000) })).toMatchObject({ code: "invalid_argument", field: "message" });
    expect(await refused({ decision: "deny", message: "x".repeat(1001) })).toMatchObject({ code: "invalid_argument", field: "message" });
    expect(await refused({ decision: "deny", message: "\u001b]0;pwned\u0007" })).toMatchObject({ code: "invalid_argument", field: "message" });
    expect(await refused({ decision: "deny", promptId: "not-a-prompt" })).toMatchObject({ code: "invalid_argument", field: "promptId" });
    expect(await refused({ decision: "deny", promptId: "f".repeat(32) })).toMatchObject({ code: "not_found", field: "promptId" });
    expect((await row(t, promptId))!.status).toBe("open");
    await operator.as.mutation(api.prompts.answer, { promptId, decision: "deny", message: "x".repeat(1000) });
    expect((await row(t, promptId))!.message).toHaveLength(1000);
    // A blank message with an allow (an empty text field) is no message.
    const other = await open();
    await operator.as.mutation(api.prompts.answer, { promptId: other, decision: "allow_once", message: "  " });
    expect(await row(t, other)).toMatchObject({ status: "answered", decision: "allow_once" });
    expect((await row(t, other))!.message).toBeUndefined();
  });

  test("viewers cannot answer", async () => {
    const t = makeT();
    const { viewer, open } = await world(t);
    const promptId = await open();
    expect((await refusal(viewer.as.mutation(api.prompts.answer, { promptId, decision: "deny" }))).code).toBe("forbidden");
    expect((await refusal(t.mutation(api.prompts.answer, { promptId, decision: "deny" }))).code).toBe("unauthenticated");
    expect((await row(t, promptId))!.status).toBe("open");
  });

  test("the laptop's messaging rule decides who may answer", async () => {
    const t = makeT();
    const { a, owner, operator, open } = await world(t, null);
    const promptId = await open();
    // Default: owners only.
    const err = await refusal(operator.as.mutation(api.prompts.answer, { promptId, decision: "allow_once" }));
    expect(err.code).toBe("forbidden");
    expect(err.message).toMatch(/laptop "laptop-a" accepts messages to its agents only from owners \(allowing a tool runs it as the laptop's user/);
    expect(err.message).toMatch(/you are an operator/);
    await owner.as.mutation(api.nodes.setMessaging, { nodeId: a.nodeId, messaging: "nobody" });
    expect((await refusal(owner.as.mutation(api.prompts.answer, { promptId, decision: "deny" }))).message).toMatch(/accepts no messages/);
    await owner.as.mutation(api.nodes.setMessaging, { nodeId: a.nodeId, messaging: "operators" });
    await operator.as.mutation(api.prompts.answer, { promptId, decision: "allow_once" });
    expect((await row(t, promptId))!.status).toBe("answered");
  });

  test("a revoked laptop's prompts cannot be answered", async () => {
    const t = makeT();
    const { a, owner, open } = await world(t);
    const promptId = await open();
    await owner.as.mutation(api.nodes.revokeNode, { nodeId: a.nodeId });
    expect((await refusal(owner.as.mutation(api.prompts.answer, { promptId, decision: "deny" }))).code).toBe("forbidden");
  });
});

describe("laptops", () => {
  test("a node cannot open for, settle or see another node's prompts", async () => {
    const t = makeT();
    const { a, b, orchestrationId, owner, open } = await world(t);
    const promptId = await open();
    await owner.as.mutation(api.prompts.answer, { promptId, decision: "allow_once" });
    // B's pending decisions are its own; settling A's prompt looks like a missing one.
    expect(await t.query(api.prompts.pendingDecisions, { nodeToken: b.token })).toEqual([]);
    expect(await t.mutation(api.prompts.settlePrompt, { nodeToken: b.token, promptId, outcome: "applied" })).toEqual({ ok: false, status: "not_found" });
    expect((await row(t, promptId))!.status).toBe("answered");
    // B cannot reuse A's prompt id, nor attach a prompt to A's orchestration.
    expect(await refusal(t.mutation(api.prompts.openPrompt, { nodeToken: b.token, ...prompt({ promptId }) }))).toMatchObject({ code: "conflict", field: "promptId" });
    expect(await refusal(t.mutation(api.prompts.openPrompt, { nodeToken: b.token, ...prompt({ orchestrationId }) }))).toMatchObject({ code: "not_found", field: "orchestrationId" });
    // A still gets its decision.
    expect((await t.query(api.prompts.pendingDecisions, { nodeToken: a.token })).map((p) => p.promptId)).toEqual([promptId]);
  });

  test("open checks its arguments, naming the field", async () => {
    const t = makeT();
    const { a } = await world(t);
    const refused = async (overrides: Record<string, unknown>) =>
      await refusal(t.mutation(api.prompts.openPrompt, { nodeToken: a.token, ...prompt(overrides) } as never));
    expect((await refused({ toolInput: "x".repeat(16 * 1024 + 1) })).field).toBe("toolInput");
    // Bytes, not characters: 6,000 three-byte characters are over 16 KiB.
    expect((await refused({ toolInput: "€".repeat(6000) })).field).toBe("toolInput");
    expect((await refused({ suggestions: "[" + '"x",'.repeat(5000) + '"x"]' })).field).toBe("suggestions");
    expect((await refused({ suggestions: "not json" })).field).toBe("suggestions");
    expect((await refused({ suggestions: '{"rules":[]}' })).field).toBe("suggestions");
    expect((await refused({ promptId: "ABC" })).field).toBe("promptId");
    expect((await refused({ expiresAt: Date.now() - 1 })).field).toBe("expiresAt");
    expect((await refused({ expiresAt: Date.now() + 10 * 60_000 })).field).toBe("expiresAt");
    expect((await refused({ toolName: "Bash\u001b[2J" })).field).toBe("toolName");
    expect(await t.run((ctx) => ctx.db.query("prompts").collect())).toEqual([]);
    // Exactly 16 KiB is fine.
    expect(await t.mutation(api.prompts.openPrompt, { nodeToken: a.token, ...prompt({ toolInput: "x".repeat(16 * 1024), inputTruncated: true }) })).toEqual({ ok: true });
  });

  test("the laptop's clock does not matter: the lifetime is kept, from Convex's now", async () => {
    const t = makeT();
    const { open } = await world(t);
    const skewed = Date.now() - 3 * 60 * 60_000;
    const promptId = await open({ openedAt: skewed, expiresAt: skewed + 30_000 });
    const p = (await row(t, promptId))!;
    expect(p.expiresAt - p.openedAt).toBe(30_000);
    expect(p.openedAt).toBeGreaterThan(skewed + 60 * 60_000);
  });

  test("secrets in the tool input are masked before anyone sees them", async () => {
    const t = makeT();
    const { viewer, open } = await world(t);
    await open({ toolInput: JSON.stringify({ command: "curl -H 'Authorization: Bearer abcdefghijklmnop' https://x" }) });
    const [listed] = (await viewer.as.query(api.prompts.listOpen, {})).open;
    expect(listed.toolInput).not.toContain("abcdefghijklmnop");
  });
});

describe("expiry", () => {
  test("an unanswered prompt expires at expiresAt + 5 s, audited as the system", async () => {
    vi.useFakeTimers();
    const t = makeT();
    const { viewer, open } = await world(t);
    const promptId = await open();
    vi.advanceTimersByTime(24_000);
    await t.finishInProgressScheduledFunctions();
    expect((await row(t, promptId))!.status).toBe("open");
    vi.advanceTimersByTime(1_500);
    await t.finishInProgressScheduledFunctions();
    const p = (await row(t, promptId))!;
    expect(p).toMatchObject({ status: "expired" });
    expect((await viewer.as.query(api.prompts.listOpen, {})).recent.map((r) => r.status)).toEqual(["expired"]);
    expect((await auditOf(t, p._id)).map((e) => [e.verb, e.actorKind, e.actorId])).toEqual([["prompt.expired", "system", "prompts.expiry"]]);
  });

  test("the sweep expires overdue open prompts, and answered ones the laptop never settled a minute later", async () => {
    vi.useFakeTimers();
    const t = makeT();
    const { a, operator, open } = await world(t);
    const unanswered = await open();
    const answered = await open();
    await operator.as.mutation(api.prompts.answer, { promptId: answered, decision: "allow_once" });
    vi.setSystemTime(Date.now() + 25_001);
    expect(await t.mutation(internal.prompts.sweepPrompts, {})).toEqual({ expired: 1 });
    expect((await row(t, unanswered))!.status).toBe("expired");
    expect((await row(t, answered))!.status).toBe("answered");
    vi.setSystemTime(Date.now() + 60_000);
    expect(await t.mutation(internal.prompts.sweepPrompts, {})).toEqual({ expired: 1 });
    const p = (await row(t, answered))!;
    expect(p.status).toBe("expired");
    expect((await auditOf(t, p._id)).at(-1)).toMatchObject({ verb: "prompt.expired", outcome: "failed" });
    // Nothing left to deliver; a late settle cannot apply it.
    expect(await t.query(api.prompts.pendingDecisions, { nodeToken: a.token })).toEqual([]);
    expect(await t.mutation(api.prompts.settlePrompt, { nodeToken: a.token, promptId: answered, outcome: "applied" })).toEqual({ ok: false, status: "expired" });
    expect(await t.mutation(internal.prompts.sweepPrompts, {})).toEqual({ expired: 0 });
  });
});

describe("Needs you and the list", () => {
  test("open prompts are in Needs you and its count; recent ones leave after 10 minutes", async () => {
    vi.useFakeTimers();
    const t = makeT();
    const { a, viewer, operator, open, b } = await world(t);
    const first = await open();
    await open({}, b.token);
    const prompts = async () => (await viewer.as.query(api.needs.needsYou, {})).items.filter((i) => i.kind === "permission_prompt");
    const view = await viewer.as.query(api.needs.needsYou, {});
    expect((await prompts()).map((i) => i.nodeName).sort()).toEqual(["laptop-a", "laptop-b"]);
    expect((await prompts()).map((i) => i.prompt?.promptId).sort()).toEqual((await viewer.as.query(api.prompts.listOpen, {})).open.map((p) => p.promptId).sort());
    expect(view.count).toBe(view.items.length);
    await operator.as.mutation(api.prompts.answer, { promptId: first, decision: "allow_once" });
    await t.mutation(api.prompts.settlePrompt, { nodeToken: a.token, promptId: first, outcome: "applied" });
    expect(await prompts()).toHaveLength(1);
    expect((await viewer.as.query(api.prompts.listOpen, {})).recent).toHaveLength(1);
    vi.setSystemTime(Date.now() + 10 * 60_000 + 1);
    expect((await viewer.as.query(api.prompts.listOpen, {})).recent).toEqual([]);
  });
});
