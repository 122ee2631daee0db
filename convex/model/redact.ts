// Secrets never leave the deployment in results, audit entries or health reports:
// anything shaped like a credential is masked before it is stored. The daemon masks
// the same shapes (tina/log.py); this is the second line of defence.
import { env } from "../_generated/server";

const PATTERNS: RegExp[] = [
  // tina node credentials.
  /tina_node_[A-Za-z0-9_-]+/g,
  // JWTs (Convex Auth access tokens and any other).
  /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g,
  // PEM private keys (JWT_PRIVATE_KEY is one, with newlines replaced by spaces).
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  // Common vendor tokens: Anthropic, OpenAI-style, GitHub, AWS access key ids, Slack.
  /\bsk-ant-[A-Za-z0-9_-]{8,}/g,
  /\bsk-[A-Za-z0-9_-]{20,}/g,
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g,
  /\bgithub_pat_[A-Za-z0-9_]{20,}/g,
  /\bAKIA[0-9A-Z]{16}\b/g,
  /\bxox[abprs]-[A-Za-z0-9-]{10,}/g,
];

// `password=...`, `token: ...`, `Authorization: Bearer ...`: keep the key, mask the value.
const KEYED = /\b((?:[A-Za-z0-9_]*_)?(?:token|secret|password|passwd|credential|api[_-]?key|authorization)s?)(["']?\s*[:=]\s*["']?)(?:bearer\s+)?[^\s"',;]{6,}/gi;
const BEARER = /\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}/gi;

export const MASK = "***";

/** `text` with every secret-shaped substring masked, and the deployment's own secrets. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const re of PATTERNS) out = out.replace(re, MASK);
  out = out.replace(KEYED, (_m, key: string, sep: string) => `${key}${sep}${MASK}`);
  out = out.replace(BEARER, (_m, word: string) => `${word} ${MASK}`);
  for (const name of ["TINA_ENROLLMENT_SECRET", "JWT_PRIVATE_KEY"]) {
    const value = env[name];
    if (value !== undefined && value.length >= 8) out = out.split(value).join(MASK);
  }
  return out;
}

/** Redacted, control characters replaced by spaces (newlines and tabs kept), at most `max` chars. */
export function cleanText(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  const clean = redactSecrets(text).replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, " ");
  return clean.length <= max ? clean : `${clean.slice(0, max - 1)}…`;
}
