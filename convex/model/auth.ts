// Laptop credentials: generation, hashing, and resolving the calling laptop from its credential.
// (Dashboard users: model/users.ts.)
import type { Doc } from "../_generated/dataModel";
import type { QueryCtx } from "../_generated/server";
import { fail } from "./errors";

const CREDENTIAL_PREFIX = "tina_node_";

function toHex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export async function sha256Hex(text: string): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** A new random node credential (256 bits). Only its hash is ever stored. */
export function newCredential(): string {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return CREDENTIAL_PREFIX + toBase64Url(bytes);
}

/** Constant-time comparison of two strings (length is not secret). */
export function safeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The calling laptop, or a ConvexError: unauthenticated (missing/unknown) or revoked. */
export async function authenticateNode(ctx: QueryCtx, nodeToken: string): Promise<Doc<"nodes">> {
  if (!nodeToken) fail("unauthenticated", "missing node credential: run `tina daemon enroll`");
  if (!nodeToken.startsWith(CREDENTIAL_PREFIX) || nodeToken.length > 200) {
    fail("unauthenticated", "malformed node credential: run `tina daemon enroll`");
  }
  const hash = await sha256Hex(nodeToken);
  const node = await ctx.db
    .query("nodes")
    .withIndex("by_credential", (q) => q.eq("credentialHash", hash))
    .unique();
  if (node === null) fail("unauthenticated", "unknown node credential: run `tina daemon enroll`");
  if (node.revokedAt !== undefined) {
    fail(
      "revoked",
      `the credential of laptop "${node.name}" was revoked in the dashboard; to re-admit it, the owner creates an ` +
        `enrollment code for "${node.name}" (Laptops → Add a laptop) and you run \`tina daemon enroll\` with it`,
    );
  }
  return node;
}
