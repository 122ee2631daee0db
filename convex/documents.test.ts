// @vitest-environment edge-runtime
import { describe, expect, test } from "vitest";
import { api } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import { DOCUMENT_MAX } from "./model/documents";
import { enroll, makeT, orchestration, phase, refusal, signedIn, T0, type T } from "./test.setup";

const HASH_A = "a".repeat(64);
const HASH_B = "b".repeat(64);
const PLAN_PATH = "/home/dev/acme/.worktrees/billing-export/docs/plans/2026-11-21-billing-export-phase-1.md";

function plan(overrides: Record<string, unknown> = {}) {
  return {
    kind: "plan" as const,
    phaseNumber: "1",
    path: PLAN_PATH,
    content: "# Phase 1\n\n1. write the exporter\n",
    hash: HASH_A,
    size: 33,
    truncated: false,
    modifiedAt: T0 + 1000,
    missing: false,
    ...overrides,
  };
}

async function setup(t: T) {
  const node = await enroll(t);
  const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, {
    nodeToken: node.token,
    orchestration: orchestration({ status: "executing" }),
    phases: [phase("1", "awaiting_approval")],
  });
  const sync = (document: Record<string, unknown>, token = node.token, id: Id<"orchestrations"> = orchestrationId) =>
    t.mutation(api.documents.syncDocument, { nodeToken: token, orchestrationId: id, document: document as never });
  const rows = () => t.run((ctx) => ctx.db.query("documents").collect());
  return { ...node, orchestrationId, sync, rows };
}

describe("syncDocument", () => {
  test("stores a plan, answers changed:false without a write for the same revision, replaces it on a new one", async () => {
    const t = makeT();
    const { sync, rows } = await setup(t);
    expect(await sync(plan())).toEqual({ changed: true });
    const [first] = await rows();
    expect(first).toMatchObject({ kind: "plan", phaseKey: "1", phaseNumber: "1", hash: HASH_A, path: PLAN_PATH, missing: false });
    // A re-send (after a reconnect or a reconcile): nothing written, not even syncedAt.
    expect(await sync(plan({ modifiedAt: T0 + 2000 }))).toEqual({ changed: false });
    expect(await rows()).toEqual([first]);
    expect(await sync(plan({ hash: HASH_B, content: "# Phase 1 (v2)\n", size: 15 }))).toEqual({ changed: true });
    const after = await rows();
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ _id: first._id, hash: HASH_B, content: "# Phase 1 (v2)\n" });
    // The file goes: missing, no content, no hash; and comes back.
    expect(await sync(plan({ hash: undefined, content: "", size: 0, missing: true, modifiedAt: undefined }))).toEqual({ changed: true });
    expect((await rows())[0]).toMatchObject({ missing: true, content: "" });
    expect((await rows())[0].hash).toBeUndefined();
    expect(await sync(plan())).toEqual({ changed: true });
  });

  test("a path or truncation change alone is a change", async () => {
    const t = makeT();
    const { sync } = await setup(t);
    await sync(plan());
    expect(await sync(plan({ path: `${PLAN_PATH}.moved` }))).toEqual({ changed: true });
    expect(await sync(plan({ path: `${PLAN_PATH}.moved`, truncated: true }))).toEqual({ changed: true });
  });

  test("one row per (kind, phase): plans of two phases and the design doc are separate", async () => {
    const t = makeT();
    const { sync, rows } = await setup(t);
    await sync(plan());
    await sync(plan({ phaseNumber: "1.5", hash: HASH_B }));
    await sync({ ...plan({ kind: "design", path: "/home/dev/acme/docs/plans/billing-export-design.md" }), phaseNumber: undefined });
    const stored = await rows();
    expect(stored.map((d) => [d.kind, d.phaseKey]).sort()).toEqual([
      ["design", ""],
      ["plan", "1"],
      ["plan", "1.5"],
    ]);
  });

  test("caps and shapes are enforced with the field named, and nothing is written", async () => {
    const t = makeT();
    const { sync, rows } = await setup(t);
    const cases: [Record<string, unknown>, string][] = [
      // 256 KiB is counted in UTF-8 bytes: 87,382 three-byte characters are 262,146 bytes.
      [plan({ content: "€".repeat(87_382) }), "document.content"],
      [plan({ content: "x".repeat(DOCUMENT_MAX + 1) }), "document.content"],
      [plan({ path: "/" + "p".repeat(4096) }), "document.path"],
      [plan({ hash: "A".repeat(64) }), "document.hash"],
      [plan({ hash: "a".repeat(63) }), "document.hash"],
      [plan({ hash: "sha256:" + "a".repeat(57) }), "document.hash"],
      [plan({ phaseNumber: "../1" }), "document.phaseNumber"],
      [plan({ phaseNumber: undefined }), "document.phaseNumber"],
      [plan({ kind: "design" }), "document.phaseNumber"],
      [plan({ size: -1 }), "document.size"],
      [plan({ modifiedAt: 1_770_890_733 }), "document.modifiedAt"],
      [plan({ missing: true }), "document.content"],
    ];
    for (const [document, field] of cases) {
      const err = await refusal(sync(document));
      expect(err, field).toMatchObject({ code: "invalid_argument", field });
      expect(err.message).toContain(field);
    }
    expect(await rows()).toEqual([]);
    // Exactly at the cap (in bytes) is fine.
    expect(await sync(plan({ content: "€".repeat(87_381) + "x", size: DOCUMENT_MAX, truncated: true }))).toEqual({ changed: true });
  });

  test("a full-size document fits Convex's limits on writes and reads", async () => {
    const t = makeT({});
    const { sync, orchestrationId } = await setup(t);
    expect(await sync(plan({ content: "x".repeat(DOCUMENT_MAX), size: 4 * DOCUMENT_MAX, truncated: true }))).toEqual({ changed: true });
    const doc = await (await signedIn(t)).query(api.documents.getDocument, { orchestrationId, kind: "plan", phase: "1" });
    expect(doc!.content).toHaveLength(DOCUMENT_MAX);
    expect(doc!.truncated).toBe(true);
  });

  test("a laptop writes only its own orchestrations' documents", async () => {
    const t = makeT();
    const { sync, rows, orchestrationId } = await setup(t);
    const other = await enroll(t, "laptop-b");
    const err = await refusal(sync(plan(), other.token));
    expect(err).toMatchObject({ code: "not_found", field: "orchestrationId" });
    // Its own orchestration: fine.
    const mine = await t.mutation(api.orchestrations.syncOrchestration, { nodeToken: other.token, orchestration: orchestration(), phases: [] });
    expect(await sync(plan(), other.token, mine.orchestrationId)).toEqual({ changed: true });
    expect((await rows()).map((d) => d.orchestrationId)).toEqual([mine.orchestrationId]);
    expect(orchestrationId).not.toBe(mine.orchestrationId);
  });
});

describe("getDocument and the detail view", () => {
  test("viewers read a document; null when never synced; no identity is refused", async () => {
    const t = makeT();
    const { sync, orchestrationId } = await setup(t);
    const viewer = await signedIn(t, { name: "V", email: "v@example.com", role: "viewer" });
    expect(await viewer.query(api.documents.getDocument, { orchestrationId, kind: "plan", phase: "1" })).toBeNull();
    await sync(plan());
    const doc = await viewer.query(api.documents.getDocument, { orchestrationId, kind: "plan", phase: "1" });
    expect(doc).toEqual({
      path: PLAN_PATH,
      content: "# Phase 1\n\n1. write the exporter\n",
      hash: HASH_A,
      size: 33,
      truncated: false,
      modifiedAt: T0 + 1000,
      syncedAt: expect.any(Number),
      missing: false,
    });
    expect(await viewer.query(api.documents.getDocument, { orchestrationId, kind: "design" })).toBeNull();
    expect((await refusal(t.query(api.documents.getDocument, { orchestrationId, kind: "plan", phase: "1" }))).code).toBe("unauthenticated");
    expect((await refusal(viewer.query(api.documents.getDocument, { orchestrationId, kind: "plan", phase: "1; rm" }))).field).toBe("phase");
  });

  test("each phase carries its plan's metadata, never its content, whichever of phase and plan came first", async () => {
    const t = makeT();
    const { token, sync, orchestrationId } = await setup(t);
    // Phase 2's plan arrives before phase 2 does.
    await sync(plan({ phaseNumber: "2", hash: HASH_B }));
    await sync(plan());
    const viewer = await signedIn(t);
    const detail = async () => (await viewer.query(api.orchestrations.getOrchestrationDetail, { orchestrationId }))!;
    const [p1] = (await detail()).phases;
    expect(p1.plan).toEqual({ hash: HASH_A, size: 33, modifiedAt: T0 + 1000, syncedAt: expect.any(Number), missing: false, truncated: false });
    expect(JSON.stringify(await detail())).not.toContain("write the exporter");
    await t.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: token,
      orchestration: orchestration({ status: "executing" }),
      phases: [phase("1", "executing"), phase("2", "planning")],
    });
    const phases = (await detail()).phases;
    expect(phases.map((p) => [p.phaseNumber, p.plan?.hash, p.status])).toEqual([
      ["1", HASH_A, "executing"],
      ["2", HASH_B, "planning"],
    ]);
    // A new revision reaches the phase; a repeat leaves it alone.
    await sync(plan({ hash: HASH_B }));
    expect((await detail()).phases[0].plan!.hash).toBe(HASH_B);
    const before = await t.run((ctx) => ctx.db.query("phases").collect());
    expect(await sync(plan({ hash: HASH_B }))).toEqual({ changed: false });
    expect(await t.run((ctx) => ctx.db.query("phases").collect())).toEqual(before);
  });

  test("the detail view reads no plan text: 30 full-size plans stay far below the read limit", async () => {
    // 30 plans of 256 KiB are 7.5 MiB: reading them would take half of a query's 16 MiB.
    const t = makeT({ bytesRead: 1 << 20 });
    const { token, sync, orchestrationId } = await setup(t);
    const numbers = Array.from({ length: 30 }, (_, i) => `${i + 1}`);
    await t.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: token,
      orchestration: orchestration({ status: "executing" }),
      phases: numbers.map((n) => phase(n, "planning")),
    });
    for (const n of numbers) await sync(plan({ phaseNumber: n, content: "x".repeat(DOCUMENT_MAX), size: DOCUMENT_MAX }));
    const detail = await (await signedIn(t)).query(api.orchestrations.getOrchestrationDetail, { orchestrationId });
    expect(detail!.phases.filter((p) => p.plan !== undefined)).toHaveLength(30);
  });
});
