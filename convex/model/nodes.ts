// Laptops: enrollment (deployment secret or one-time code), revocation.
import type { Doc, Id } from "../_generated/dataModel";
import { env, type MutationCtx } from "../_generated/server";
import { audit, describeAction, type Actor, type RequestInfo, type UserActor } from "./audit";
import { newCredential, safeEqual, sha256Hex } from "./auth";
import { checkPattern } from "./checks";
import { hashCode, newCode, normalizeCode } from "./codes";
import { fail } from "./errors";
import { interrupt, targets } from "./actions";
import { requestNotify } from "./notify";
import { forgetQuota } from "./usage";
import { internal } from "../_generated/api";

export const NODE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
// What the daemon reports as its platform ("darwin", "linux").
export const OS_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
export const ENROLLMENT_CODE_TTL_MS = 15 * 60_000;
const NODE_NAME_EXPECTED = "a laptop name (letters, digits, '.', '_', '-'; at most 63)";
const REVOKE_BATCH = 200;

export function checkNodeName(field: string, name: string): string {
  return checkPattern(field, name, NODE_NAME_RE, NODE_NAME_EXPECTED);
}

export function checkOs(os: string): string {
  return checkPattern("os", os, OS_RE, "an operating system name like \"darwin\"");
}

/** How an enrollment was authorized: the deployment secret, or a one-time code from the dashboard. */
export type EnrollmentGrant = { kind: "secret" } | { kind: "code"; code: Doc<"enrollmentCodes"> };

/**
 * `enrollmentSecret` is either the deployment's TINA_ENROLLMENT_SECRET or a one-time
 * enrollment code ("add a laptop" in the dashboard). Anything else is refused.
 */
export async function authorizeEnrollment(ctx: MutationCtx, presented: string): Promise<EnrollmentGrant> {
  const expected = env.TINA_ENROLLMENT_SECRET;
  if (expected && safeEqual(presented, expected)) return { kind: "secret" };
  const normalized = normalizeCode("enroll", presented);
  if (normalized !== null) {
    const codeHash = await hashCode("enroll", normalized);
    const code = await ctx.db.query("enrollmentCodes").withIndex("by_code", (q) => q.eq("codeHash", codeHash)).unique();
    if (code === null) fail("unauthenticated", "unknown enrollment code; create a new one in the dashboard (Laptops → Add a laptop)");
    if (code.usedAt !== undefined) fail("unauthenticated", "this enrollment code was already used; create a new one in the dashboard");
    if (code.expiresAt <= Date.now()) fail("unauthenticated", "this enrollment code has expired (codes last 15 minutes); create a new one");
    return { kind: "code", code };
  }
  if (!expected) {
    fail("forbidden", "enrollment with a secret is disabled (TINA_ENROLLMENT_SECRET is not set); use a one-time code from the dashboard");
  }
  fail("unauthenticated", "wrong enrollment secret or code");
}

export async function createEnrollmentCode(
  ctx: MutationCtx,
  actor: UserActor,
  nodeName: string | undefined,
): Promise<{ code: string; expiresAt: number; nodeName?: string }> {
  if (nodeName !== undefined) checkNodeName("nodeName", nodeName);
  const code = newCode("enroll");
  const now = Date.now();
  const expiresAt = now + ENROLLMENT_CODE_TTL_MS;
  await ctx.db.insert("enrollmentCodes", {
    codeHash: await hashCode("enroll", normalizeCode("enroll", code)!),
    ...(nodeName === undefined ? {} : { nodeName }),
    createdBy: actor.userId,
    createdByName: actor.name,
    createdAt: now,
    expiresAt,
  });
  await audit(ctx, actor, {
    verb: "node.enrollment_code_created",
    ...(nodeName === undefined ? {} : { nodeName }),
    detail: `one-time enrollment code${nodeName === undefined ? "" : ` for laptop "${nodeName}"`}, valid 15 minutes`,
  });
  return { code, expiresAt, ...(nodeName === undefined ? {} : { nodeName }) };
}

/**
 * A new credential for a laptop. A new name becomes a new laptop (`node.enrolled`). An
 * existing name is re-keyed (same node, the old credential stops working; `node.rekeyed`),
 * but only with the deployment secret or a code created for exactly that name: a code
 * created without a name only adds laptops, so whoever holds it cannot take over an
 * existing laptop and its queued actions. A revoked name is refused, except with a code
 * created for exactly that name, which re-admits it.
 */
export async function enroll(
  ctx: MutationCtx,
  grant: EnrollmentGrant,
  request: RequestInfo,
  rawName: string,
  rawOs: string,
): Promise<{ nodeId: Id<"nodes">; credential: string; name: string }> {
  const name = checkNodeName("name", rawName);
  const os = checkOs(rawOs);
  const boundName = grant.kind === "code" ? grant.code.nodeName : undefined;
  if (boundName !== undefined && boundName !== name) {
    fail("forbidden", `this enrollment code is for laptop "${boundName}"`, "name");
  }
  const credential = newCredential();
  const credentialHash = await sha256Hex(credential);
  const now = Date.now();
  const how =
    grant.kind === "secret"
      ? "with the deployment's enrollment secret"
      : `with a one-time code${boundName === undefined ? "" : ` for "${boundName}"`} from ${grant.code.createdByName ?? "the owner"}`;
  const existing = await ctx.db.query("nodes").withIndex("by_name", (q) => q.eq("name", name)).unique();
  let nodeId: Id<"nodes">;
  let verb: "node.enrolled" | "node.rekeyed";
  let detail: string;
  if (existing !== null) {
    if (existing.revokedAt !== undefined && boundName !== name) {
      fail("forbidden", `laptop "${name}" was revoked; enroll it under another name, or re-admit it with a code created for "${name}"`, "name");
    }
    if (grant.kind === "code" && boundName === undefined) {
      fail(
        "forbidden",
        `laptop "${name}" is already enrolled; this one-time code was created without a laptop name, so it can only add a new laptop. ` +
          `To re-key "${name}", create a code for "${name}" (Laptops → Add a laptop, with that name), or enroll under a new name`,
        "name",
      );
    }
    nodeId = existing._id;
    verb = "node.rekeyed";
    detail = existing.revokedAt !== undefined ? `re-admitted after revocation ${how}` : `re-keyed ${how}; the previous credential stopped working`;
    await ctx.db.patch("nodes", nodeId, { credentialHash, os, revokedAt: undefined });
  } else {
    nodeId = await ctx.db.insert("nodes", { name, os, credentialHash, status: "offline", enrolledAt: now, lastHeartbeat: 0 });
    verb = "node.enrolled";
    detail = `enrolled ${how}`;
  }
  if (grant.kind === "code") await ctx.db.patch("enrollmentCodes", grant.code._id, { usedAt: now, usedByNode: nodeId });
  const node = (await ctx.db.get("nodes", nodeId))!;
  await audit(ctx, { kind: "node", node, request }, { verb, nodeId, nodeName: name, detail });
  return { nodeId, credential, name };
}

/**
 * Cut a laptop off: its credential stops working at once; its queued actions will never run; its
 * quota rows (at most `QUOTA.accounts`) are deleted.
 */
export async function revoke(ctx: MutationCtx, actor: Actor, nodeId: Id<"nodes">): Promise<{ revoked: boolean }> {
  const node = await ctx.db.get("nodes", nodeId);
  if (node === null) fail("not_found", "no such laptop", "nodeId");
  if (node.revokedAt !== undefined) return { revoked: false };
  const now = Date.now();
  await ctx.db.patch("nodes", nodeId, { revokedAt: now, status: "offline" });
  await leavePresence(ctx, nodeId);
  // Its quota is of no more use (fleetQuota left it out): re-admitted, it reports again.
  await forgetQuota(ctx, nodeId);
  let cancelled = 0;
  let interrupted = 0;
  for (const status of ["pending", "claimed", "running"] as const) {
    const rows = await ctx.db
      .query("inboundActions")
      .withIndex("by_node_status_created", (q) => q.eq("nodeId", nodeId).eq("status", status))
      .take(REVOKE_BATCH);
    for (const a of rows) {
      if (status === "pending") {
        await ctx.db.patch("inboundActions", a._id, {
          status: "cancelled",
          finishedAt: now,
          result: { ok: false, code: "node_revoked", message: "the laptop's credential was revoked before it picked this action up" },
        });
        await audit(ctx, actor, { ...targets(a), verb: "action.cancelled", outcome: "failed", detail: `${describeAction(a)}: the laptop was revoked` });
        cancelled++;
      } else {
        await interrupt(ctx, a, "the laptop's credential was revoked while this action was in progress", actor);
        interrupted++;
      }
    }
  }
  const tail = cancelled + interrupted === 0 ? "" : `; ${cancelled} queued action(s) cancelled, ${interrupted} in progress interrupted`;
  await audit(ctx, actor, { verb: "node.revoked", nodeId, nodeName: node.name, detail: `revoked laptop "${node.name}"${tail}` });
  return { revoked: true };
}

/**
 * A node is offline this long after its last sign of life, unless the deployment says
 * otherwise. Twice the daemon's idle heartbeat (60 s): one lost beat does not flip it.
 */
export const OFFLINE_AFTER_MS = 120_000;
/** The shortest threshold `TINA_OFFLINE_AFTER_MS` may set (a laptop heartbeats at least this often). */
export const MIN_OFFLINE_AFTER_MS = 2_000;

/**
 * The offline threshold: the deployment's `TINA_OFFLINE_AFTER_MS` (milliseconds, at least
 * `MIN_OFFLINE_AFTER_MS`), else 120 s. Read on every call, so changing the variable needs no
 * deploy. Daemons learn it at registration (`registerNode`) and beat at least twice per threshold.
 */
export function offlineAfterMs(): number {
  const raw = env.TINA_OFFLINE_AFTER_MS;
  const value = raw === undefined || raw.trim() === "" ? NaN : Number(raw);
  return Number.isFinite(value) ? Math.max(MIN_OFFLINE_AFTER_MS, Math.round(value)) : OFFLINE_AFTER_MS;
}

/** Online as the dashboards show it: the stored status, pushed on every transition. */
export function isOnline(node: Doc<"nodes"> | null): boolean {
  return node !== null && node.revokedAt === undefined && node.status === "online";
}

/**
 * How fresh a node's `presence.lastBeatAt` is kept: calls closer together than this write
 * nothing. A tenth of the threshold, at most 10 s: the stored beat lags the last call by less.
 */
export function presenceRefreshMs(offlineAfter: number): number {
  return Math.min(10_000, Math.floor(offlineAfter / 10));
}

async function presenceOf(ctx: MutationCtx, nodeId: Id<"nodes">): Promise<Doc<"presence"> | null> {
  return await ctx.db.query("presence").withIndex("by_node", (q) => q.eq("nodeId", nodeId)).unique();
}

/**
 * Cancels the node's pending offline check. Before its time it is known to be pending (only this
 * module cancels it, and then replaces or clears it), so it is cancelled without being read;
 * past its time (or stored by an older version, without a time) it is read first.
 */
async function cancelCheck(ctx: MutationCtx, row: Doc<"presence"> | null): Promise<void> {
  if (row?.offlineCheck === undefined) return;
  if (row.offlineCheckAt !== undefined && row.offlineCheckAt > Date.now()) {
    await ctx.scheduler.cancel(row.offlineCheck);
    return;
  }
  const job = await ctx.db.system.get("_scheduled_functions", row.offlineCheck);
  if (job !== null && job.state.kind === "pending") await ctx.scheduler.cancel(row.offlineCheck);
}

/**
 * A sign of life from a node (every node mutation calls this, heartbeats included). Writes
 * only `presence`, which no dashboard query reads, and at most once per `presenceRefreshMs`;
 * the node's pending offline check moves to the new deadline (cancelled and scheduled again,
 * so it runs only when the node really went quiet). `nodes` is patched only on a transition
 * to online. Returns the node as it is now.
 */
export async function touchPresence(ctx: MutationCtx, node: Doc<"nodes">): Promise<Doc<"nodes">> {
  const now = Date.now();
  const offlineAfter = offlineAfterMs();
  const row = await presenceOf(ctx, node._id);
  const wentOnline = node.status !== "online";
  if (!wentOnline && row !== null && row.online && now - row.lastBeatAt < presenceRefreshMs(offlineAfter)) return node;
  await cancelCheck(ctx, row);
  const offlineCheckAt = now + offlineAfter;
  const offlineCheck = await ctx.scheduler.runAt(offlineCheckAt, internal.nodes.checkOffline, { nodeId: node._id });
  if (row === null) await ctx.db.insert("presence", { nodeId: node._id, lastBeatAt: now, online: true, offlineCheck, offlineCheckAt });
  else await ctx.db.patch("presence", row._id, { lastBeatAt: now, online: true, offlineCheck, offlineCheckAt });
  if (!wentOnline) return node;
  await ctx.db.patch("nodes", node._id, { status: "online", lastHeartbeat: now });
  await requestNotify(ctx);
  return { ...node, status: "online", lastHeartbeat: now };
}

/** The node went offline: `nodes.lastHeartbeat` becomes its last sign of life. */
async function markOffline(ctx: MutationCtx, nodeId: Id<"nodes">, row: Doc<"presence"> | null, lastSeen: number): Promise<boolean> {
  if (row !== null) await ctx.db.patch("presence", row._id, { online: false, offlineCheck: undefined, offlineCheckAt: undefined });
  const node = await ctx.db.get("nodes", nodeId);
  if (node === null || node.status !== "online") return false;
  await ctx.db.patch("nodes", nodeId, { status: "offline", lastHeartbeat: Math.max(lastSeen, node.lastHeartbeat) });
  await requestNotify(ctx);
  return true;
}

/** A node's scheduled offline check: offline when quiet for the threshold, else checked again later. */
export async function checkOffline(ctx: MutationCtx, nodeId: Id<"nodes">): Promise<boolean> {
  const row = await presenceOf(ctx, nodeId);
  if (row === null || !row.online) return false;
  const offlineAfter = offlineAfterMs();
  const now = Date.now();
  if (now - row.lastBeatAt >= offlineAfter) return await markOffline(ctx, nodeId, row, row.lastBeatAt);
  // Not due (the threshold changed, or a check outlived its cancellation): the new deadline.
  const offlineCheckAt = row.lastBeatAt + offlineAfter;
  const offlineCheck = await ctx.scheduler.runAt(offlineCheckAt, internal.nodes.checkOffline, { nodeId });
  await ctx.db.patch("presence", row._id, { offlineCheck, offlineCheckAt });
  return false;
}

/** A clean daemon stop, or a revocation: offline now, no check left pending. */
export async function leavePresence(ctx: MutationCtx, nodeId: Id<"nodes">): Promise<boolean> {
  const row = await presenceOf(ctx, nodeId);
  await cancelCheck(ctx, row);
  return await markOffline(ctx, nodeId, row, Date.now());
}

const SWEEP_LIMIT = 200;

/**
 * The safety net behind the scheduled checks (a rare cron): online nodes quiet for the
 * threshold, by their presence, and online nodes that have no presence row at all.
 */
export async function sweepStale(ctx: MutationCtx): Promise<number> {
  const now = Date.now();
  const offlineAfter = offlineAfterMs();
  let flipped = 0;
  const stale = await ctx.db
    .query("presence")
    .withIndex("by_online_beat", (q) => q.eq("online", true).lt("lastBeatAt", now - offlineAfter))
    .take(SWEEP_LIMIT);
  for (const row of stale) {
    await cancelCheck(ctx, row);
    if (await markOffline(ctx, row.nodeId, row, row.lastBeatAt)) flipped++;
  }
  const online = await ctx.db
    .query("nodes")
    .withIndex("by_status_revoked_heartbeat", (q) => q.eq("status", "online").eq("revokedAt", undefined).lt("lastHeartbeat", now - offlineAfter))
    .take(SWEEP_LIMIT);
  for (const node of online) {
    if ((await presenceOf(ctx, node._id)) === null && (await markOffline(ctx, node._id, null, node.lastHeartbeat))) flipped++;
  }
  return flipped;
}

type Health = NonNullable<Doc<"nodes">["health"]>;

/**
 * What a person sees of a daemon's health: not the uptime (dashboards count it from
 * `startedAt`), and the last sync only while observations wait (with an empty outbox the
 * laptop is simply up to date).
 */
function visibleHealth(h: Health): unknown {
  return [
    h.daemonVersion,
    h.startedAt,
    h.outboxDepth,
    h.outboxDepth > 0 ? (h.lastSyncAt ?? null) : null,
    h.outboxDepth > 0 ? (h.oldestUnsyncedAt ?? null) : null,
    h.connection ?? null,
    h.actors.map((a) => [a.id, a.state, a.restarts, a.lastError ?? null]),
  ];
}

export function sameVisibleHealth(stored: Health | undefined, reported: Health): boolean {
  return stored !== undefined && JSON.stringify(visibleHealth(stored)) === JSON.stringify(visibleHealth(reported));
}
