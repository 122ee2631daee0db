// @vitest-environment edge-runtime
import { afterEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "./_generated/api";
import { ENROLLMENT_SECRET, OPERATOR, enroll, makeT, refusal } from "./test.setup";

const health = {
  daemonVersion: "0.1.0",
  startedAt: Date.UTC(2026, 10, 21),
  uptimeSecs: 12,
  outboxDepth: 0,
  actors: [{ id: "heartbeat", state: "running", restarts: 0 }],
};

afterEach(() => {
  vi.useRealTimers();
});

describe("enrollNode", () => {
  test("a wrong or missing secret is refused and creates nothing", async () => {
    const t = makeT();
    const err = await refusal(t.mutation(api.nodes.enrollNode, { enrollmentSecret: "nope", name: "a", os: "darwin" }));
    expect(err.code).toBe("unauthenticated");
    delete process.env.TINA_ENROLLMENT_SECRET;
    const disabled = await refusal(t.mutation(api.nodes.enrollNode, { enrollmentSecret: "", name: "a", os: "darwin" }));
    expect(disabled.code).toBe("forbidden");
    expect(await t.run((ctx) => ctx.db.query("nodes").collect())).toHaveLength(0);
  });

  test("stores only a hash of the credential", async () => {
    const t = makeT();
    const { nodeId, token } = await enroll(t);
    const node = await t.run((ctx) => ctx.db.get(nodeId));
    expect(token).toMatch(/^tina_node_[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(node)).not.toContain(token);
    expect(node!.credentialHash).toMatch(/^[0-9a-f]{64}$/);
  });

  test("enrolling the same laptop again keeps one node and re-keys it", async () => {
    const t = makeT();
    const first = await enroll(t, "laptop-a");
    const second = await enroll(t, "laptop-a");
    expect(second.nodeId).toBe(first.nodeId);
    expect(await t.run((ctx) => ctx.db.query("nodes").collect())).toHaveLength(1);
    const err = await refusal(t.mutation(api.nodes.registerNode, { nodeToken: first.token, os: "darwin" }));
    expect(err.code).toBe("unauthenticated");
  });

  test("rejects unsafe names", async () => {
    const t = makeT();
    for (const name of ["", "../x", "a b", "x".repeat(64), "a;rm -rf /"]) {
      const err = await refusal(t.mutation(api.nodes.enrollNode, { enrollmentSecret: ENROLLMENT_SECRET, name, os: "darwin" }));
      expect(err).toMatchObject({ code: "invalid_argument", field: "name" });
    }
  });
});

describe("node credentials", () => {
  test("missing, malformed, unknown and revoked credentials are refused", async () => {
    const t = makeT();
    const { nodeId, token } = await enroll(t);
    for (const [nodeToken, code] of [
      ["", "unauthenticated"],
      ["garbage", "unauthenticated"],
      ["tina_node_" + "A".repeat(43), "unauthenticated"],
    ] as const) {
      expect((await refusal(t.mutation(api.nodes.heartbeat, { nodeToken, health }))).code).toBe(code);
    }
    await t.withIdentity(OPERATOR).mutation(api.nodes.revokeNode, { nodeId });
    const err = await refusal(t.mutation(api.nodes.heartbeat, { nodeToken: token, health }));
    expect(err.code).toBe("revoked");
    const reEnroll = await refusal(
      t.mutation(api.nodes.enrollNode, { enrollmentSecret: ENROLLMENT_SECRET, name: "laptop-a", os: "darwin" }),
    );
    expect(reEnroll.code).toBe("forbidden");
  });
});

describe("registerNode and heartbeat", () => {
  test("registerNode twice leaves the same state", async () => {
    const t = makeT();
    const { nodeId, token } = await enroll(t);
    const a = await t.mutation(api.nodes.registerNode, { nodeToken: token, os: "darwin" });
    const b = await t.mutation(api.nodes.registerNode, { nodeToken: token, os: "darwin" });
    expect(a.nodeId).toBe(nodeId);
    expect(b.nodeId).toBe(nodeId);
    const nodes = await t.run((ctx) => ctx.db.query("nodes").collect());
    expect(nodes).toHaveLength(1);
    expect(nodes[0].status).toBe("online");
  });

  test("heartbeat stores health; a node goes offline 60 s after its last heartbeat", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.UTC(2026, 10, 21, 12));
    const t = makeT();
    const { token } = await enroll(t);
    await t.mutation(api.nodes.heartbeat, { nodeToken: token, health });
    const list = () => t.withIdentity(OPERATOR).query(api.nodes.listNodes, {});
    expect(await list()).toMatchObject([{ name: "laptop-a", online: true, health }]);
    vi.advanceTimersByTime(30_000);
    await t.mutation(api.nodes.heartbeat, { nodeToken: token, health: { ...health, uptimeSecs: 42 } });
    // The check scheduled by the first heartbeat fires, but a newer heartbeat exists.
    vi.advanceTimersByTime(32_000);
    await t.finishInProgressScheduledFunctions();
    expect((await t.run((ctx) => ctx.db.query("nodes").first()))!.status).toBe("online");
    vi.advanceTimersByTime(30_000);
    await t.finishInProgressScheduledFunctions();
    expect((await t.run((ctx) => ctx.db.query("nodes").first()))!.status).toBe("offline");
    expect(await list()).toMatchObject([{ online: false }]);
  });

  test("the cron flips stale online nodes and leaves fresh ones", async () => {
    const t = makeT();
    const a = await enroll(t, "a");
    await enroll(t, "b");
    await t.run((ctx) => ctx.db.patch(a.nodeId, { lastHeartbeat: Date.now() - 120_000 }));
    expect(await t.mutation(internal.nodes.markStaleOffline, {})).toBe(1);
    const nodes = await t.run((ctx) => ctx.db.query("nodes").collect());
    expect(Object.fromEntries(nodes.map((n) => [n.name, n.status]))).toEqual({ a: "offline", b: "online" });
  });

  test("health is validated", async () => {
    const t = makeT();
    const { token } = await enroll(t);
    const err = await refusal(t.mutation(api.nodes.heartbeat, { nodeToken: token, health: { ...health, outboxDepth: -1 } }));
    expect(err).toMatchObject({ code: "invalid_argument", field: "health.outboxDepth" });
    const many = Array.from({ length: 100 }, (_, i) => ({ id: `a${i}`, state: "running", restarts: 0 }));
    expect((await refusal(t.mutation(api.nodes.heartbeat, { nodeToken: token, health: { ...health, actors: many } }))).field).toBe(
      "health.actors",
    );
  });
});

describe("dashboard access", () => {
  test("listNodes needs a signed-in user and never returns credential hashes", async () => {
    const t = makeT();
    await enroll(t);
    expect((await refusal(t.query(api.nodes.listNodes, {}))).code).toBe("unauthenticated");
    const nodes = await t.withIdentity(OPERATOR).query(api.nodes.listNodes, {});
    expect(JSON.stringify(nodes)).not.toContain("credentialHash");
  });
});
