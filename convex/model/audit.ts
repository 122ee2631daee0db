// The audit log: one row per security-relevant step, written in the same transaction
// as the step itself (so a refused call, which changes nothing, writes nothing either).
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import { cleanText } from "./redact";
import type { ActionType, AuditKind, AuditVerb } from "./validators";

const DETAIL_MAX = 500;
const CLIENT_MAX = 200;

/** What the deployment knows about the request, when it knows it (not on the local backend). */
export type RequestInfo = { userAgent?: string; ip?: string };

export type Actor =
  | { kind: "user"; userId: Id<"users">; name: string; client?: string; request?: RequestInfo }
  | { kind: "node"; node: Doc<"nodes">; request?: RequestInfo }
  | { kind: "system"; job: string };

export type UserActor = Extract<Actor, { kind: "user" }>;

export type AuditEntry = {
  verb: AuditVerb;
  outcome?: "ok" | "failed";
  nodeId?: Id<"nodes">;
  nodeName?: string;
  orchestrationId?: Id<"orchestrations">;
  actionId?: Id<"inboundActions">;
  actionType?: ActionType;
  targetUserId?: Id<"users">;
  promptId?: Id<"prompts">;
  detail?: string;
  /** A later step of something already in the log (set for an answered prompt's settling). */
  folded?: boolean;
};

/** What an entry is about, by its verb. */
export function kindOf(verb: AuditVerb): AuditKind {
  if (verb.startsWith("action.")) return "action";
  if (verb.startsWith("prompt.")) return "prompt";
  if (verb.startsWith("node.")) return "laptop";
  // An operator's control of an orchestration, like its actions.
  if (verb.startsWith("orchestration.")) return "action";
  return "people";
}

/**
 * Whether an entry is a later step of an action or of an answered prompt, shown on its first
 * step's row. Entries written before `folded` existed are judged by their verb alone.
 */
export function isFolded(e: Pick<Doc<"auditLog">, "verb" | "folded" | "kind" | "actionId">): boolean {
  if (e.folded) return true;
  if (e.kind !== undefined) return false;
  return (e.actionId !== undefined && e.verb !== "action.submitted") || e.verb === "prompt.applied";
}

/** The request's user agent and address, if this runtime reports them. */
export async function requestInfo(ctx: MutationCtx): Promise<RequestInfo> {
  try {
    const meta = await ctx.meta.getRequestMetadata();
    return {
      ...(meta.userAgent ? { userAgent: cleanText(meta.userAgent, CLIENT_MAX) } : {}),
      ...(meta.ip ? { ip: cleanText(meta.ip, 64) } : {}),
    };
  } catch {
    // Older or self-hosted backends may not implement request metadata.
    return {};
  }
}

function actorFields(actor: Actor) {
  switch (actor.kind) {
    case "user":
      return {
        actorKind: "user" as const,
        actorId: actor.userId as string,
        actorName: actor.name,
        ...(actor.client ? { client: actor.client } : {}),
        ...actor.request,
      };
    case "node":
      return {
        actorKind: "node" as const,
        actorId: actor.node._id as string,
        actorName: actor.node.name,
        ...actor.request,
      };
    case "system":
      return { actorKind: "system" as const, actorId: actor.job };
  }
}

export async function audit(ctx: MutationCtx, actor: Actor, entry: AuditEntry): Promise<Id<"auditLog">> {
  const { outcome = "ok", detail, folded, ...targets } = entry;
  // An action's claim, completion, expiry or cancellation sits on its submission's row.
  const later = folded ?? (targets.actionId !== undefined && entry.verb !== "action.submitted");
  const nodeName = targets.nodeName ?? (actor.kind === "node" && targets.nodeId === actor.node._id ? actor.node.name : undefined);
  return await ctx.db.insert("auditLog", {
    at: Date.now(),
    ...actorFields(actor),
    ...targets,
    ...(nodeName === undefined ? {} : { nodeName }),
    outcome,
    ...(detail === undefined ? {} : { detail: cleanText(detail, DETAIL_MAX) }),
    kind: kindOf(entry.verb),
    ...(later ? { folded: true as const } : {}),
  });
}

/** A short, secret-free description of an action for the log. */
export function describeAction(a: Pick<Doc<"inboundActions">, "type" | "payload">): string {
  const p = a.payload;
  const where = p.feature ? ` ${p.feature}${p.phase ? ` phase ${p.phase}` : ""}` : "";
  if (a.type === "send_message") {
    const via = p.via ? ` via ${p.via}` : "";
    return `send_message to ${p.agentName ?? "?"} in ${p.teamDir ?? "?"}${where ? ` (${where.trim()})` : ""}${via}, ${p.text?.length ?? 0} chars`;
  }
  return `${a.type}${where}${p.planHash ? ` (plan revision ${p.planHash.slice(0, 12)})` : ""}`;
}
