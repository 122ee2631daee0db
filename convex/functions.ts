// The only builders public functions use: authorization lives here, in one place.
//
//   nodeQuery / nodeMutation       a laptop's daemon, by its `nodeToken` credential (each
//                                  mutation is a sign of life; nodeQuietMutation is not)
//   enrollmentMutation             a laptop enrolling, by `enrollmentSecret`: the deployment
//                                  secret or a one-time code from the dashboard
//   signedInQuery / signedInMutation  any signed-in identity, with or without a role
//                                  (only `users:me` and `users:acceptInvite`)
//   viewerQuery                    role viewer, operator or owner (read only)
//   viewerMutation                 role viewer or above, for a person's own view (needs:dismiss)
//   operatorMutation               role operator or owner (submit and cancel actions)
//   ownerQuery / ownerMutation     role owner (users, invitations, laptops)
//   notificationMutation           a notification's action, by the single-use `token` its
//                                  push payload carried (model/notifyAnswer.ts; notify:answer)
//
// Refusals are ConvexError({code, message, field?}): `unauthenticated` without a usable
// identity or credential, `forbidden` for a role that is too low, `revoked` for a revoked
// laptop. Mutations of dashboard users take an optional `client` (a short description of
// the client, e.g. its user agent) that goes into the audit log.
import { customMutation, customQuery } from "convex-helpers/server/customFunctions";
import { v } from "convex/values";
import { mutation, query, type MutationCtx } from "./_generated/server";
import { requestInfo, type Actor, type UserActor } from "./model/audit";
import { authenticateNode } from "./model/auth";
import { invalid } from "./model/errors";
import { authorizeEnrollment, touchPresence } from "./model/nodes";
import { authenticateAnswer } from "./model/notifyAnswer";
import { cleanText } from "./model/redact";
import { requireRole, resolveCaller, userActor, type User } from "./model/users";
import type { Role } from "./model/validators";

/** Who may call a function; each builder stamps it on what it builds (`tinaAccess`) for the tests. */
export type Access = "node" | "enrollment" | "signedIn" | "notification" | Role;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function stamp<B extends (definition: any) => object>(access: Access, builder: B): B {
  return ((definition: unknown) => Object.assign(builder(definition), { tinaAccess: access })) as B;
}

export const CLIENT_MAX_INPUT = 512;
const CLIENT_STORED = 200;

/** The `client` argument, validated (bounded) and cleaned (no control characters, no secrets). */
export function checkClient(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (raw.length > CLIENT_MAX_INPUT) invalid("client", `at most ${CLIENT_MAX_INPUT} characters`, `${raw.length}`);
  const clean = cleanText(raw, CLIENT_STORED).replace(/\s+/g, " ").trim();
  return clean === "" ? undefined : clean;
}

export const nodeQuery = stamp("node", customQuery(query, {
  args: { nodeToken: v.string() },
  input: async (ctx, { nodeToken }) => ({ ctx: { node: await authenticateNode(ctx, nodeToken) }, args: {} }),
}));

function nodeMutationBuilder(signOfLife: boolean) {
  return customMutation(mutation, {
    args: { nodeToken: v.string() },
    input: async (ctx, { nodeToken }) => {
      const authenticated = await authenticateNode(ctx, nodeToken);
      const node = signOfLife ? await touchPresence(ctx, authenticated) : authenticated;
      const actor: Actor = { kind: "node", node, request: await requestInfo(ctx) };
      return { ctx: { node, actor }, args: {} };
    },
  });
}

/** Every call counts as a sign of life (`presence`; model/nodes.ts `touchPresence`). */
export const nodeMutation = stamp("node", nodeMutationBuilder(true));
/** A node's call that is not a sign of life: the daemon signing off. */
export const nodeQuietMutation = stamp("node", nodeMutationBuilder(false));

export const enrollmentMutation = stamp("enrollment", customMutation(mutation, {
  args: { enrollmentSecret: v.string() },
  input: async (ctx, { enrollmentSecret }) => ({
    ctx: { enrollment: await authorizeEnrollment(ctx, enrollmentSecret), request: await requestInfo(ctx) },
    args: {},
  }),
}));

/** The token is the only credential: known, unused, unexpired (the rest is checked by the handler). */
export const notificationMutation = stamp("notification", customMutation(mutation, {
  args: { token: v.string() },
  input: async (ctx, { token }) => ({ ctx: { answer: await authenticateAnswer(ctx, token), request: await requestInfo(ctx) }, args: {} }),
}));

export const signedInQuery = stamp("signedIn", customQuery(query, {
  args: {},
  input: async (ctx) => ({ ctx: { caller: await resolveCaller(ctx) }, args: {} }),
}));

export const signedInMutation = stamp("signedIn", customMutation(mutation, {
  args: {},
  input: async (ctx) => ({ ctx: { caller: await resolveCaller(ctx), request: await requestInfo(ctx) }, args: {} }),
}));

function roleQuery(min: Role) {
  return stamp(
    min,
    customQuery(query, {
      args: {},
      input: async (ctx) => ({ ctx: { user: await requireRole(ctx, min) }, args: {} }),
    }),
  );
}

async function userWithClient(ctx: MutationCtx, min: Role, client: string | undefined): Promise<{ user: User; actor: UserActor }> {
  // The role first: a caller without one learns nothing, not even about their arguments.
  const base = await requireRole(ctx, min);
  const label = checkClient(client);
  const user: User = label === undefined ? base : { ...base, client: label };
  return { user, actor: userActor(user, await requestInfo(ctx)) };
}

function roleMutation(min: Role) {
  return stamp(
    min,
    customMutation(mutation, {
      args: { client: v.optional(v.string()) },
      input: async (ctx, { client }) => ({ ctx: await userWithClient(ctx, min, client), args: {} }),
    }),
  );
}

export const viewerQuery = roleQuery("viewer");
export const ownerQuery = roleQuery("owner");
export const viewerMutation = roleMutation("viewer");
export const operatorMutation = roleMutation("operator");
export const ownerMutation = roleMutation("owner");
