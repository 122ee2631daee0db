// Dashboard users and roles. The first account on an empty deployment is the owner;
// the owner invites everyone else (an invite code for one email, single use, 7 days).
import { v } from "convex/values";
import { ownerMutation, ownerQuery, signedInMutation, signedInQuery } from "./functions";
import { checkOptionalString } from "./model/checks";
import * as model from "./model/users";
import { role } from "./model/validators";

/** Who is signed in, and with which role (null: signed in but not a member; see acceptInvite). */
export const me = signedInQuery({
  args: {},
  returns: v.object({
    userId: v.union(v.id("users"), v.null()),
    name: v.string(),
    email: v.optional(v.string()),
    role: v.union(role, v.null()),
  }),
  handler: async (ctx) => {
    const { identity, user, member } = ctx.caller;
    const email = user?.email ?? identity.email;
    return {
      userId: user?._id ?? null,
      name: model.displayName(user, identity),
      ...(email ? { email } : {}),
      role: member?.role ?? null,
    };
  },
});

/**
 * For identities from an external OIDC provider (password sign-ups get their role at
 * sign-up): join with an invite code for the identity's email, or as the owner of a
 * deployment without users. Returns the caller's role; idempotent.
 */
export const acceptInvite = signedInMutation({
  args: { code: v.optional(v.string()) },
  returns: v.object({ role }),
  handler: (ctx, { code }) => model.acceptInvite(ctx, ctx.caller, checkOptionalString("code", code, 64)),
});

/** Members with their roles, and the invitations not used yet. */
export const list = ownerQuery({
  args: {},
  returns: v.object({
    users: v.array(
      v.object({
        userId: v.id("users"),
        name: v.string(),
        email: v.optional(v.string()),
        role,
        external: v.boolean(),
        createdAt: v.number(),
      }),
    ),
    invites: v.array(
      v.object({ inviteId: v.id("invites"), email: v.string(), role, createdAt: v.number(), expiresAt: v.number() }),
    ),
  }),
  handler: (ctx) => model.listUsers(ctx),
});

/**
 * Invite someone by email with a role. Returns the invite code, shown once: they sign up
 * with that email and code (`auth:signIn` params `inviteCode`). A new invite for the same
 * email replaces the open one.
 */
export const invite = ownerMutation({
  args: { email: v.string(), role },
  returns: v.object({ inviteId: v.id("invites"), code: v.string(), email: v.string(), expiresAt: v.number() }),
  handler: (ctx, { email, role }) => model.invite(ctx, ctx.user, ctx.actor, email, role),
});

/** Withdraw an invitation that was not used yet. */
export const revokeInvite = ownerMutation({
  args: { inviteId: v.id("invites") },
  returns: v.object({ revoked: v.boolean() }),
  handler: (ctx, { inviteId }) => model.revokeInvite(ctx, ctx.actor, inviteId),
});

/** Change a member's role. The last owner cannot be demoted. */
export const setRole = ownerMutation({
  args: { userId: v.id("users"), role },
  returns: v.object({ changed: v.boolean() }),
  handler: (ctx, { userId, role }) => model.setRole(ctx, ctx.actor, userId, role),
});

/** Remove a member: their role, sessions (signed out at once) and account. Not the last owner. */
export const remove = ownerMutation({
  args: { userId: v.id("users") },
  returns: v.object({ removed: v.boolean() }),
  handler: (ctx, { userId }) => model.removeUser(ctx, ctx.actor, userId),
});
