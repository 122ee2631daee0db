// Dashboard users: who is calling, with which role; sign-up policy, invitations, roles.
//
// A caller is a signed-in identity. Convex Auth identities (issuer = this deployment's
// CONVEX_SITE_URL, subject "<userId>|<sessionId>") are checked against the stored session,
// so signing out or being removed ends access at once, not when the JWT expires. Identities
// from another OIDC provider (convex/auth.config.ts) are found by their tokenIdentifier.
// Either way the role comes from `members`; a caller without a row there gets nothing.
import type { UserIdentity } from "convex/server";
import type { Doc, Id } from "../_generated/dataModel";
import { env, type MutationCtx, type QueryCtx } from "../_generated/server";
import { audit, type Actor, type UserActor } from "./audit";
import { hashCode, newCode, normalizeCode } from "./codes";
import { fail, invalid } from "./errors";
import { ROLE_RANK, type Role } from "./validators";

export const INVITE_TTL_MS = 7 * 24 * 60 * 60_000;
// Deliberately plainer than RFC 5322: no quoting, no shell or path metacharacters.
const EMAIL_RE = /^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}$/;
const LIST_LIMIT = 200;

export type Caller = {
  identity: UserIdentity;
  user: Doc<"users"> | null;
  member: Doc<"members"> | null;
};

/** A signed-in user with a role: what the role-checking wrappers put on `ctx.user`. */
export type User = {
  userId: Id<"users">;
  role: Role;
  name: string;
  email?: string;
  /** The client's own description of itself (optional `client` argument of mutations). */
  client?: string;
};

export function isConvexAuthIdentity(identity: UserIdentity): boolean {
  const site = env.CONVEX_SITE_URL;
  return site !== undefined && site !== "" && identity.issuer === site;
}

export function normalizeEmail(field: string, raw: unknown): string {
  if (typeof raw !== "string") invalid(field, "an email address");
  const email = raw.trim().toLowerCase();
  if (email.length > 254 || !EMAIL_RE.test(email) || email.includes("..")) invalid(field, "an email address", raw.length > 40 ? `${raw.length} chars` : JSON.stringify(raw));
  return email;
}

export function displayName(user: Doc<"users"> | null, identity?: UserIdentity): string {
  return user?.name ?? user?.email ?? identity?.name ?? identity?.email ?? "unknown user";
}

/** The signed-in caller (role not checked), or ConvexError("unauthenticated"). */
export async function resolveCaller(ctx: QueryCtx): Promise<Caller> {
  const identity = await ctx.auth.getUserIdentity();
  if (identity === null) fail("unauthenticated", "sign in to use the tina dashboard");
  if (isConvexAuthIdentity(identity)) {
    const [rawUser = "", rawSession = ""] = identity.subject.split("|");
    const userId = ctx.db.normalizeId("users", rawUser);
    const sessionId = ctx.db.normalizeId("authSessions", rawSession);
    if (userId === null || sessionId === null) fail("unauthenticated", "this sign-in is not valid here; sign in again");
    const session = await ctx.db.get("authSessions", sessionId);
    if (session === null || session.userId !== userId || session.expirationTime <= Date.now()) {
      fail("unauthenticated", "your session has ended; sign in again");
    }
    const user = await ctx.db.get("users", userId);
    if (user === null) fail("unauthenticated", "this account no longer exists; sign in again");
    const member = await ctx.db.query("members").withIndex("by_user", (q) => q.eq("userId", userId)).unique();
    return { identity, user, member };
  }
  const member = await ctx.db
    .query("members")
    .withIndex("by_token", (q) => q.eq("tokenIdentifier", identity.tokenIdentifier))
    .unique();
  const user = member === null ? null : await ctx.db.get("users", member.userId);
  return { identity, user, member };
}

/** The caller as a user with at least role `min`, or ConvexError unauthenticated / forbidden. */
export async function requireRole(ctx: QueryCtx, min: Role): Promise<User> {
  const { identity, user, member } = await resolveCaller(ctx);
  if (member === null || user === null) {
    fail("forbidden", "this account has no access to this tina deployment; ask its owner for an invite");
  }
  if (ROLE_RANK[member.role] < ROLE_RANK[min]) {
    fail("forbidden", `this needs the ${min} role; you are a ${member.role}`);
  }
  const email = user.email ?? identity.email;
  return { userId: user._id, role: member.role, name: displayName(user, identity), ...(email ? { email } : {}) };
}

export function userActor(user: User, request?: { userAgent?: string; ip?: string }): UserActor {
  return { kind: "user", userId: user.userId, name: user.name, ...(user.client ? { client: user.client } : {}), ...(request ? { request } : {}) };
}

async function anyMember(ctx: QueryCtx): Promise<boolean> {
  return (await ctx.db.query("members").first()) !== null;
}

/** The first owner may be pinned with TINA_OWNER_EMAIL, so nobody can race them to a fresh deployment. */
function checkFirstOwner(email: string | undefined): void {
  const pinned = env.TINA_OWNER_EMAIL?.trim().toLowerCase();
  if (pinned && email !== pinned) {
    fail("forbidden", "this deployment has no users yet and only its configured owner (TINA_OWNER_EMAIL) may create the first account");
  }
}

/** A usable invitation for this code, or ConvexError. */
async function findInvite(ctx: QueryCtx, code: unknown): Promise<Doc<"invites">> {
  const normalized = typeof code === "string" ? normalizeCode("invite", code) : null;
  if (normalized === null) {
    fail("forbidden", "signing up needs an invite code from the owner of this tina deployment", "inviteCode");
  }
  const codeHash = await hashCode("invite", normalized);
  const invite = await ctx.db.query("invites").withIndex("by_code", (q) => q.eq("codeHash", codeHash)).unique();
  if (invite === null || invite.revokedAt !== undefined) fail("forbidden", "unknown invite code", "inviteCode");
  if (invite.acceptedAt !== undefined) fail("forbidden", "this invite code was already used", "inviteCode");
  if (invite.expiresAt <= Date.now()) fail("forbidden", "this invite code has expired; ask for a new one", "inviteCode");
  return invite;
}

/**
 * Convex Auth's `createOrUpdateUser`: runs inside the sign-up transaction, before any
 * account exists. The first account on an empty deployment becomes the owner; every later
 * one needs a valid invite code for its email, or the sign-up fails and nothing is stored.
 */
export async function createUserOnSignUp(
  ctx: MutationCtx,
  args: { existingUserId: Id<"users"> | null; profile: Record<string, unknown> },
): Promise<Id<"users">> {
  if (args.existingUserId !== null) return args.existingUserId;
  const email = normalizeEmail("email", args.profile.email);
  const name = typeof args.profile.name === "string" && args.profile.name.trim() !== "" ? args.profile.name.trim() : undefined;
  const now = Date.now();
  if (!(await anyMember(ctx))) {
    checkFirstOwner(email);
    const userId = await ctx.db.insert("users", { email, ...(name ? { name } : {}) });
    await ctx.db.insert("members", { userId, role: "owner", createdAt: now, updatedAt: now });
    await audit(ctx, { kind: "user", userId, name: name ?? email }, { verb: "user.joined", targetUserId: userId, detail: `${email} created the first account and owns this deployment` });
    return userId;
  }
  const invite = await findInvite(ctx, args.profile.inviteCode);
  if (invite.email !== email) fail("forbidden", "this invite code is for another email address", "email");
  const userId = await ctx.db.insert("users", { email, ...(name ? { name } : {}) });
  await ctx.db.insert("members", { userId, role: invite.role, invitedBy: invite.createdBy, createdAt: now, updatedAt: now });
  await ctx.db.patch("invites", invite._id, { acceptedAt: now, acceptedBy: userId });
  await audit(ctx, { kind: "user", userId, name: name ?? email }, { verb: "user.joined", targetUserId: userId, detail: `${email} accepted an invite as ${invite.role}` });
  return userId;
}

/** Convex Auth's `beforeSessionCreation`: no session for an account without a role. */
export async function checkCanSignIn(ctx: QueryCtx, userId: Id<"users">): Promise<void> {
  const member = await ctx.db.query("members").withIndex("by_user", (q) => q.eq("userId", userId)).unique();
  if (member === null) fail("forbidden", "this account has no access to this tina deployment; ask its owner for an invite");
}

/**
 * For identities from an external OIDC provider (and any signed-in identity without a
 * role): join with an invite code, or as the owner of an empty deployment. Idempotent.
 */
export async function acceptInvite(ctx: MutationCtx, caller: Caller, code: string | undefined): Promise<{ role: Role }> {
  if (caller.member !== null) return { role: caller.member.role };
  const { identity } = caller;
  const email = identity.email === undefined ? undefined : normalizeEmail("email", identity.email);
  const name = displayName(caller.user, identity);
  const now = Date.now();
  const external = !isConvexAuthIdentity(identity);
  const userId =
    caller.user?._id ?? (await ctx.db.insert("users", { ...(email ? { email } : {}), ...(identity.name ? { name: identity.name } : {}) }));
  const token = external ? { tokenIdentifier: identity.tokenIdentifier } : {};
  if (!(await anyMember(ctx))) {
    checkFirstOwner(email);
    await ctx.db.insert("members", { userId, role: "owner", ...token, createdAt: now, updatedAt: now });
    await audit(ctx, { kind: "user", userId, name }, { verb: "user.joined", targetUserId: userId, detail: `${email ?? name} owns this deployment (first account)` });
    return { role: "owner" };
  }
  const invite = await findInvite(ctx, code);
  if (email === undefined || invite.email !== email) fail("forbidden", "this invite code is for another email address", "code");
  await ctx.db.insert("members", { userId, role: invite.role, ...token, invitedBy: invite.createdBy, createdAt: now, updatedAt: now });
  await ctx.db.patch("invites", invite._id, { acceptedAt: now, acceptedBy: userId });
  await audit(ctx, { kind: "user", userId, name }, { verb: "user.joined", targetUserId: userId, detail: `${email} accepted an invite as ${invite.role}` });
  return { role: invite.role };
}

export async function invite(
  ctx: MutationCtx,
  owner: User,
  actor: Actor,
  rawEmail: string,
  role: Role,
): Promise<{ inviteId: Id<"invites">; code: string; email: string; expiresAt: number }> {
  const email = normalizeEmail("email", rawEmail);
  const existing = await ctx.db.query("users").withIndex("email", (q) => q.eq("email", email)).first();
  if (existing !== null) {
    const member = await ctx.db.query("members").withIndex("by_user", (q) => q.eq("userId", existing._id)).unique();
    if (member !== null) fail("conflict", `${email} already has access (as ${member.role}); change their role instead`, "email");
  }
  // A new invite for the same email replaces the open ones.
  const open = await ctx.db
    .query("invites")
    .withIndex("by_email_created", (q) => q.eq("email", email))
    .order("desc")
    .take(20);
  const now = Date.now();
  for (const old of open) if (old.acceptedAt === undefined && old.revokedAt === undefined) await ctx.db.patch("invites", old._id, { revokedAt: now });
  const code = newCode("invite");
  const expiresAt = now + INVITE_TTL_MS;
  const inviteId = await ctx.db.insert("invites", {
    email,
    role,
    codeHash: await hashCode("invite", normalizeCode("invite", code)!),
    createdBy: owner.userId,
    createdAt: now,
    expiresAt,
  });
  await audit(ctx, actor, { verb: "user.invited", detail: `invited ${email} as ${role} (code expires in 7 days)` });
  return { inviteId, code, email, expiresAt };
}

export async function revokeInvite(ctx: MutationCtx, actor: Actor, inviteId: Id<"invites">): Promise<{ revoked: boolean }> {
  const inv = await ctx.db.get("invites", inviteId);
  if (inv === null) fail("not_found", "no such invite", "inviteId");
  if (inv.acceptedAt !== undefined || inv.revokedAt !== undefined) return { revoked: false };
  await ctx.db.patch("invites", inviteId, { revokedAt: Date.now() });
  await audit(ctx, actor, { verb: "user.invite_revoked", detail: `withdrew the invite of ${inv.email}` });
  return { revoked: true };
}

async function memberOf(ctx: QueryCtx, userId: Id<"users">): Promise<Doc<"members">> {
  const member = await ctx.db.query("members").withIndex("by_user", (q) => q.eq("userId", userId)).unique();
  if (member === null) fail("not_found", "no such user", "userId");
  return member;
}

async function checkNotLastOwner(ctx: QueryCtx, member: Doc<"members">, doing: string): Promise<void> {
  if (member.role !== "owner") return;
  const owners = await ctx.db.query("members").withIndex("by_role", (q) => q.eq("role", "owner")).take(2);
  if (owners.length < 2) fail("conflict", `cannot ${doing} the last owner; make someone else owner first`, "userId");
}

export async function setRole(ctx: MutationCtx, actor: Actor, userId: Id<"users">, role: Role): Promise<{ changed: boolean }> {
  const member = await memberOf(ctx, userId);
  if (member.role === role) return { changed: false };
  if (role !== "owner") await checkNotLastOwner(ctx, member, "demote");
  await ctx.db.patch("members", member._id, { role, updatedAt: Date.now() });
  const user = await ctx.db.get("users", userId);
  await audit(ctx, actor, { verb: "user.role_changed", targetUserId: userId, detail: `${displayName(user)}: ${member.role} → ${role}` });
  return { changed: true };
}

/** Removes a user: their role, sessions (signed out at once) and account; they may be invited again. */
export async function removeUser(ctx: MutationCtx, actor: Actor, userId: Id<"users">): Promise<{ removed: boolean }> {
  const member = await memberOf(ctx, userId);
  await checkNotLastOwner(ctx, member, "remove");
  const user = await ctx.db.get("users", userId);
  await ctx.db.delete("members", member._id);
  const sessions = await ctx.db.query("authSessions").withIndex("userId", (q) => q.eq("userId", userId)).take(LIST_LIMIT);
  for (const s of sessions) {
    const tokens = await ctx.db.query("authRefreshTokens").withIndex("sessionId", (q) => q.eq("sessionId", s._id)).take(LIST_LIMIT);
    for (const t of tokens) await ctx.db.delete("authRefreshTokens", t._id);
    await ctx.db.delete("authSessions", s._id);
  }
  const accounts = await ctx.db.query("authAccounts").withIndex("userIdAndProvider", (q) => q.eq("userId", userId)).take(20);
  for (const a of accounts) {
    const codes = await ctx.db.query("authVerificationCodes").withIndex("accountId", (q) => q.eq("accountId", a._id)).take(20);
    for (const c of codes) await ctx.db.delete("authVerificationCodes", c._id);
    await ctx.db.delete("authAccounts", a._id);
  }
  if (user !== null) await ctx.db.delete("users", userId);
  await audit(ctx, actor, { verb: "user.removed", targetUserId: userId, detail: `removed ${displayName(user)} (${member.role}); their sessions ended` });
  return { removed: true };
}

export async function listUsers(ctx: QueryCtx) {
  const members = await ctx.db.query("members").take(LIST_LIMIT);
  const users = [];
  for (const m of members) {
    const u = await ctx.db.get("users", m.userId);
    users.push({
      userId: m.userId,
      name: displayName(u),
      ...(u?.email ? { email: u.email } : {}),
      role: m.role,
      external: m.tokenIdentifier !== undefined,
      createdAt: m.createdAt,
    });
  }
  const now = Date.now();
  // Only open invitations are read: used, withdrawn or expired ones never crowd them out.
  const invites = (
    await ctx.db
      .query("invites")
      .withIndex("by_open_expires", (q) => q.eq("acceptedAt", undefined).eq("revokedAt", undefined).gt("expiresAt", now))
      .order("desc")
      .take(LIST_LIMIT)
  ).map((i) => ({ inviteId: i._id, email: i.email, role: i.role, createdAt: i.createdAt, expiresAt: i.expiresAt }));
  return { users, invites };
}
