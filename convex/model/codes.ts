// One-time codes people type: laptop enrollment codes and invitation codes.
// Crockford base32 (no I, L, O, U), grouped by four; only a SHA-256 is stored.
import { sha256Hex } from "./auth";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export type CodeKind = "enroll" | "invite";
const LENGTH: Record<CodeKind, number> = { enroll: 12, invite: 16 };

/** A fresh random code, e.g. "7Q4M-ZK2D-9XWB" (60 bits) or four groups for invites (80 bits). */
export function newCode(kind: CodeKind): string {
  const bytes = new Uint8Array(LENGTH[kind]);
  crypto.getRandomValues(bytes);
  // 256 is a multiple of 32, so `b % 32` is uniform.
  const chars = Array.from(bytes, (b) => ALPHABET[b % 32]).join("");
  return chars.match(/.{4}/g)!.join("-");
}

/** The canonical form of a typed code, or null when it cannot be one: case, dashes, spaces and look-alikes forgiven. */
export function normalizeCode(kind: CodeKind, typed: string): string | null {
  if (typed.length > 64) return null;
  const s = typed.toUpperCase().replace(/[\s-]/g, "").replace(/[IL]/g, "1").replace(/O/g, "0");
  if (s.length !== LENGTH[kind]) return null;
  for (const c of s) if (!ALPHABET.includes(c)) return null;
  return s;
}

export async function hashCode(kind: CodeKind, normalized: string): Promise<string> {
  return sha256Hex(`tina-${kind}-code:${normalized}`);
}
