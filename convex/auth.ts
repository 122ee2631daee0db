// Convex Auth: email + password sign-in for the dashboard. The library's functions are
// exported as it requires (`auth:signIn`, `auth:signOut`, `auth:store`, `auth:isAuthenticated`).
//
// Sign-up policy (convex/model/users.ts): the first account on a deployment without users
// becomes the owner; after that, signing up needs an invite code for the same email
// (`params.inviteCode`). An account without a role gets no session at all.
import { Password } from "@convex-dev/auth/providers/Password";
import { convexAuth } from "@convex-dev/auth/server";
import type { Value } from "convex/values";
import type { DataModel, Id } from "./_generated/dataModel";
import type { MutationCtx } from "./_generated/server";
import { invalid } from "./model/errors";
import { cleanText } from "./model/redact";
import { checkCanSignIn, createUserOnSignUp, normalizeEmail } from "./model/users";

export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 256;
const NAME_MAX = 100;

function checkPasswordLength(field: string, value: Value | undefined): void {
  if (value === undefined) return;
  if (typeof value !== "string") invalid(field, "a string");
  // Bounded before it reaches scrypt, in every flow (sign-in too).
  if (value.length > PASSWORD_MAX) invalid(field, `at most ${PASSWORD_MAX} characters`, `${value.length}`);
}

/** Checks every sign-in flow's params before anything is hashed or stored. */
function profile(params: Record<string, Value | undefined>) {
  const email = normalizeEmail("email", params.email);
  checkPasswordLength("password", params.password);
  checkPasswordLength("newPassword", params.newPassword);
  const out: { email: string; name?: string; inviteCode?: string } = { email };
  if (params.name !== undefined) {
    if (typeof params.name !== "string" || params.name.length > NAME_MAX) invalid("name", `a name of at most ${NAME_MAX} characters`);
    const name = cleanText(params.name, NAME_MAX).trim();
    if (name !== "") out.name = name;
  }
  if (params.inviteCode !== undefined) {
    if (typeof params.inviteCode !== "string" || params.inviteCode.length > 64) invalid("inviteCode", "an invite code");
    out.inviteCode = params.inviteCode;
  }
  // `inviteCode` is read by createOrUpdateUser below and never stored.
  return out as { email: string; name?: string };
}

export const { auth, signIn, signOut, store, isAuthenticated } = convexAuth({
  providers: [
    Password<DataModel>({
      profile,
      validatePasswordRequirements(password: string) {
        if (typeof password !== "string" || password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
          invalid("password", `a password of ${PASSWORD_MIN} to ${PASSWORD_MAX} characters`);
        }
      },
    }),
  ],
  callbacks: {
    async createOrUpdateUser(ctx, args) {
      return await createUserOnSignUp(ctx as unknown as MutationCtx, {
        existingUserId: args.existingUserId as Id<"users"> | null,
        profile: args.profile,
      });
    },
    async beforeSessionCreation(ctx, { userId }) {
      await checkCanSignIn(ctx as unknown as MutationCtx, userId as Id<"users">);
    },
  },
});
