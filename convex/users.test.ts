// @vitest-environment edge-runtime
// Sign-up policy, invitations and roles, through Convex Auth's real `auth:signIn`
// (password hashing makes each sign-up cost ~150 ms, so there are few of them).
import { afterEach, describe, expect, test } from "vitest";
import { api } from "./_generated/api";
import { INVITE_TTL_MS } from "./model/users";
import {
  addUser,
  enroll,
  makeT,
  OPERATOR,
  orchestration,
  OWNER,
  phase,
  refusal,
  SITE_URL,
  VIEWER,
  type T,
} from "./test.setup";

// The committed test-only key pair (tests/fixtures/auth-keys/README.md).
const keyFiles = import.meta.glob("../tests/fixtures/auth-keys/{JWT_PRIVATE_KEY,JWKS}", { eager: true, query: "?raw", import: "default" });
const key = (name: string) => (Object.entries(keyFiles).find(([path]) => path.endsWith(`/${name}`))![1] as string).trim();

function authT(): T {
  const t = makeT();
  process.env.JWT_PRIVATE_KEY = key("JWT_PRIVATE_KEY");
  process.env.JWKS = key("JWKS");
  return t;
}

afterEach(() => {
  delete process.env.TINA_OWNER_EMAIL;
});

/** The identity Convex derives from a Convex Auth access token. */
function identityOf(token: string) {
  const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))) as { sub: string; iss: string };
  expect(claims.iss).toBe(SITE_URL);
  return { subject: claims.sub, issuer: claims.iss, tokenIdentifier: `${claims.iss}|${claims.sub}` };
}

async function signUp(t: T, email: string, extra: Record<string, string> = {}) {
  const out = await t.action(api.auth.signIn, {
    provider: "password",
    params: { email, password: "correct horse battery", flow: "signUp", ...extra },
  });
  expect(out.tokens?.token).toBeTruthy();
  return t.withIdentity(identityOf(out.tokens!.token));
}

const countUsers = (t: T) => t.run(async (ctx) => (await ctx.db.query("users").collect()).length);

describe("sign-up", () => {
  test("the first account on an empty deployment becomes the owner; later ones need an invite", async () => {
    const t = authT();
    const owner = await signUp(t, "Oscar@Example.com", { name: "Oscar" });
    expect(await owner.query(api.users.me, {})).toMatchObject({ name: "Oscar", email: "oscar@example.com", role: "owner" });
    const err = await refusal(
      t.action(api.auth.signIn, { provider: "password", params: { email: "eve@example.com", password: "correct horse battery", flow: "signUp" } }),
    );
    expect(err).toMatchObject({ code: "forbidden", field: "inviteCode" });
    expect(await countUsers(t)).toBe(1);
    const audit = await owner.query(api.audit.list, { paginationOpts: { numItems: 10, cursor: null } });
    expect(audit.page.map((e) => e.verb)).toEqual(["user.joined"]);
  });

  test("TINA_OWNER_EMAIL pins who may create the first account", async () => {
    const t = authT();
    process.env.TINA_OWNER_EMAIL = "boss@example.com";
    const err = await refusal(
      t.action(api.auth.signIn, { provider: "password", params: { email: "early@example.com", password: "correct horse battery", flow: "signUp" } }),
    );
    expect(err.code).toBe("forbidden");
    expect(await countUsers(t)).toBe(0);
  });

  test("an invite code works once, only for its email, and not after it expires", async () => {
    const t = authT();
    const owner = await addUser(t, OWNER);
    const { code, email } = await owner.as.mutation(api.users.invite, { email: " Vera@Example.com ", role: "viewer" });
    expect(email).toBe("vera@example.com");
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
    // Another email with the code: refused, nothing stored.
    const wrong = await refusal(
      t.action(api.auth.signIn, { provider: "password", params: { email: "eve@example.com", password: "correct horse battery", flow: "signUp", inviteCode: code } }),
    );
    expect(wrong.code).toBe("forbidden");
    expect(await countUsers(t)).toBe(1);
    // The invitee, typing the code in lower case without dashes.
    const vera = await signUp(t, "vera@example.com", { inviteCode: code.toLowerCase().replace(/-/g, "") });
    expect(await vera.query(api.users.me, {})).toMatchObject({ role: "viewer" });
    // Used: a second account cannot reuse it.
    const again = await refusal(
      t.action(api.auth.signIn, { provider: "password", params: { email: "vera2@example.com", password: "correct horse battery", flow: "signUp", inviteCode: code } }),
    );
    expect(again.message).toMatch(/invite code/);
    // Expired.
    const late = await owner.as.mutation(api.users.invite, { email: "late@example.com", role: "operator" });
    await t.run((ctx) => ctx.db.patch("invites", late.inviteId, { expiresAt: Date.now() - 1 }));
    const expired = await refusal(
      t.action(api.auth.signIn, { provider: "password", params: { email: "late@example.com", password: "correct horse battery", flow: "signUp", inviteCode: late.code } }),
    );
    expect(expired.message).toMatch(/expired/);
    // Only a hash of each code is stored.
    const stored = JSON.stringify(await t.run((ctx) => ctx.db.query("invites").collect()));
    expect(stored).not.toContain(code);
    expect(stored).not.toContain(late.code);
  });

  test("signing out ends access at once, not when the token expires", async () => {
    const t = authT();
    const owner = await signUp(t, "oscar@example.com");
    await owner.action(api.auth.signOut, {});
    expect((await refusal(owner.query(api.users.me, {}))).code).toBe("unauthenticated");
  });

  test("an account that lost its role cannot start a session", async () => {
    const t = authT();
    await signUp(t, "oscar@example.com");
    await t.run(async (ctx) => {
      for (const m of await ctx.db.query("members").collect()) await ctx.db.delete("members", m._id);
      // Someone else owns the deployment now.
      const userId = await ctx.db.insert("users", { email: "new-owner@example.com" });
      await ctx.db.insert("members", { userId, role: "owner", createdAt: 0, updatedAt: 0 });
    });
    const err = await refusal(
      t.action(api.auth.signIn, { provider: "password", params: { email: "oscar@example.com", password: "correct horse battery", flow: "signIn" } }),
    );
    expect(err.code).toBe("forbidden");
  });
});

describe("invitations", () => {
  test("a new invite replaces the open one; an invite can be withdrawn; members cannot be invited", async () => {
    const t = makeT();
    const owner = await addUser(t, OWNER);
    await addUser(t, VIEWER);
    const first = await owner.as.mutation(api.users.invite, { email: "ann@example.com", role: "viewer" });
    const second = await owner.as.mutation(api.users.invite, { email: "ann@example.com", role: "operator" });
    const list = await owner.as.query(api.users.list, {});
    expect(list.invites.map((i) => [i.email, i.role])).toEqual([["ann@example.com", "operator"]]);
    expect(JSON.stringify(list)).not.toMatch(/codeHash|[0-9a-f]{64}/);
    expect(await t.run((ctx) => ctx.db.get("invites", first.inviteId))).toMatchObject({ revokedAt: expect.any(Number) });
    expect(await owner.as.mutation(api.users.revokeInvite, { inviteId: second.inviteId })).toEqual({ revoked: true });
    expect(await owner.as.mutation(api.users.revokeInvite, { inviteId: second.inviteId })).toEqual({ revoked: false });
    expect((await owner.as.query(api.users.list, {})).invites).toEqual([]);
    expect((await refusal(owner.as.mutation(api.users.invite, { email: VIEWER.email, role: "owner" }))).code).toBe("conflict");
    expect((await refusal(owner.as.mutation(api.users.invite, { email: "not an email", role: "viewer" }))).field).toBe("email");
    expect(second.expiresAt - Date.now()).toBeGreaterThan(INVITE_TTL_MS - 60_000);
  });

  test("an identity from another OIDC provider joins with an invite code for its email", async () => {
    const t = makeT();
    const external = (email: string, subject: string) =>
      t.withIdentity({ issuer: "https://idp.example.com/", subject, tokenIdentifier: `https://idp.example.com/|${subject}`, email, name: subject });
    // No users yet: the first external identity owns the deployment.
    const first = external("boss@example.com", "boss");
    expect(await first.query(api.users.me, {})).toMatchObject({ role: null, userId: null });
    expect(await first.mutation(api.users.acceptInvite, {})).toEqual({ role: "owner" });
    expect(await first.query(api.users.me, {})).toMatchObject({ role: "owner", email: "boss@example.com" });
    const { code } = await first.mutation(api.users.invite, { email: "dev@example.com", role: "operator" });
    // Without a code, with a code for another email: refused.
    const dev = external("dev@example.com", "dev");
    expect((await refusal(dev.mutation(api.users.acceptInvite, {}))).code).toBe("forbidden");
    expect((await refusal(external("eve@example.com", "eve").mutation(api.users.acceptInvite, { code }))).code).toBe("forbidden");
    expect((await refusal(dev.query(api.nodes.listNodes, {}))).code).toBe("forbidden");
    expect(await dev.mutation(api.users.acceptInvite, { code })).toEqual({ role: "operator" });
    expect(await dev.mutation(api.users.acceptInvite, { code })).toEqual({ role: "operator" });
    expect(await dev.query(api.nodes.listNodes, {})).toEqual([]);
  });
});

describe("roles", () => {
  test("the owner changes roles and they apply at once; the last owner cannot be demoted or removed", async () => {
    const t = makeT();
    const owner = await addUser(t, OWNER);
    const viewer = await addUser(t, VIEWER);
    const a = await enroll(t);
    const { orchestrationId } = await t.mutation(api.orchestrations.syncOrchestration, {
      nodeToken: a.token,
      orchestration: orchestration(),
      phases: [phase("1", "planning")],
    });
    const submit = () => viewer.as.mutation(api.actions.submitAction, { action: { type: "pause", orchestrationId, phase: "1" }, idempotencyKey: "role-change-1" });
    expect((await refusal(submit())).code).toBe("forbidden");
    expect(await owner.as.mutation(api.users.setRole, { userId: viewer.userId, role: "operator" })).toEqual({ changed: true });
    expect((await submit()).deduplicated).toBe(false);
    expect(await owner.as.mutation(api.users.setRole, { userId: viewer.userId, role: "operator" })).toEqual({ changed: false });
    // The only owner.
    expect(await refusal(owner.as.mutation(api.users.setRole, { userId: owner.userId, role: "viewer" }))).toMatchObject({ code: "conflict" });
    expect(await refusal(owner.as.mutation(api.users.remove, { userId: owner.userId }))).toMatchObject({ code: "conflict" });
    // With a second owner, the first may step down.
    await owner.as.mutation(api.users.setRole, { userId: viewer.userId, role: "owner" });
    expect(await owner.as.mutation(api.users.setRole, { userId: owner.userId, role: "viewer" })).toEqual({ changed: true });
    expect((await refusal(owner.as.query(api.users.list, {}))).code).toBe("forbidden");
    const verbs = (await viewer.as.query(api.audit.list, { paginationOpts: { numItems: 20, cursor: null } })).page.map((e) => e.verb);
    expect(verbs.filter((v) => v === "user.role_changed")).toHaveLength(3);
  });

  test("removing a user ends their sessions and deletes the account; they can be invited again", async () => {
    const t = authT();
    const owner = await addUser(t, OWNER);
    const { code } = await owner.as.mutation(api.users.invite, { email: "olga@example.com", role: "operator" });
    const olga = await signUp(t, "olga@example.com", { inviteCode: code });
    const { userId } = await olga.query(api.users.me, {});
    expect(await owner.as.mutation(api.users.remove, { userId: userId! })).toEqual({ removed: true });
    expect((await refusal(olga.query(api.nodes.listNodes, {}))).code).toBe("unauthenticated");
    const left = await t.run(async (ctx) => ({
      accounts: (await ctx.db.query("authAccounts").collect()).length,
      sessions: (await ctx.db.query("authSessions").collect()).filter((s) => s.userId === userId).length,
      user: await ctx.db.get("users", userId!),
    }));
    expect(left).toEqual({ accounts: 0, sessions: 0, user: null });
    // The old password does not bring the account back.
    await expect(
      t.action(api.auth.signIn, { provider: "password", params: { email: "olga@example.com", password: "correct horse battery", flow: "signIn" } }),
    ).rejects.toThrow();
    const again = await owner.as.mutation(api.users.invite, { email: "olga@example.com", role: "viewer" });
    const back = await signUp(t, "olga@example.com", { inviteCode: again.code });
    expect(await back.query(api.users.me, {})).toMatchObject({ role: "viewer" });
  });

  test("users:list shows members and roles to the owner only", async () => {
    const t = makeT();
    const owner = await addUser(t, OWNER);
    const operator = await addUser(t, OPERATOR);
    const list = await owner.as.query(api.users.list, {});
    expect(list.users.map((u) => [u.email, u.role, u.external])).toEqual([
      [OWNER.email, "owner", false],
      [OPERATOR.email, "operator", false],
    ]);
    expect((await refusal(operator.as.query(api.users.list, {}))).code).toBe("forbidden");
  });

  test("users:list: hundreds of used, withdrawn or expired invitations hide no open one", async () => {
    const t = makeT({ documentsRead: 1000 });
    const owner = await addUser(t, OWNER);
    const { inviteId } = await owner.as.mutation(api.users.invite, { email: "still-open@example.com", role: "viewer" });
    await t.run(async (ctx) => {
      const now = Date.now();
      for (let i = 0; i < 250; i++) {
        const closed = i % 3 === 0 ? { acceptedAt: now, acceptedBy: owner.userId } : i % 3 === 1 ? { revokedAt: now } : {};
        await ctx.db.insert("invites", {
          email: `closed-${i}@example.com`,
          role: "viewer",
          codeHash: `hash-${i}`,
          createdBy: owner.userId,
          // Newer than the open invite; the third kind has already expired.
          createdAt: now + 1 + i,
          expiresAt: i % 3 === 2 ? now - 1 : now + INVITE_TTL_MS + 1 + i,
          ...closed,
        });
      }
    });
    const list = await owner.as.query(api.users.list, {});
    expect(list.invites.map((i) => [i.inviteId, i.email])).toEqual([[inviteId, "still-open@example.com"]]);
  });
});
