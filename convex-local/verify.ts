// Token verification (`--verify-tokens`), as a Convex deployment does it: a
// user token must come from a provider of the functions' `auth.config.ts`,
// signed with a key of that provider's JWKS, for its application, unexpired.
//
//   OIDC provider      { domain, applicationID }: issuer = domain, audience = applicationID,
//                      keys from `<domain>/.well-known/openid-configuration` → `jwks_uri`
//   custom JWT         { type: "customJwt", issuer, jwks, algorithm, applicationID? }:
//                      keys from `jwks`; audience checked only if applicationID is set
//
// With Convex Auth the domain is the backend's own site URL, so the keys come
// from the functions' own HTTP routes (`convex/http.ts`). Issuers are compared
// ignoring one trailing slash. Without `--verify-tokens` tokens are decoded
// only (auth.ts).
import { existsSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { identityFromClaims, TokenError, type Identity, type TokenAuth } from "./auth.js";

/** Algorithms accepted from OIDC providers: asymmetric signatures only (never `none` or HMAC). */
const OIDC_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
const CUSTOM_JWT_ALGORITHMS = new Set(["RS256", "ES256"]);
const FETCH_TIMEOUT_MS = 5_000;
const CONFIG_FILES = ["auth.config.ts", "auth.config.js", "auth.config.mjs"];

export type AuthProvider = {
  kind: "oidc" | "customJwt";
  issuer: string;
  /** Required `aud`; undefined for a custom JWT provider without applicationID. */
  audience?: string;
  algorithms: string[];
  /** OIDC: the discovery document; custom JWT: the JWKS itself. */
  keysFrom: URL;
};

/** `auth.config.ts` is missing or unusable. */
export class AuthConfigError extends Error {
  override name = "AuthConfigError";
}

function trimSlash(url: string): string {
  return url.endsWith("/") ? url.slice(0, -1) : url;
}

function parseUrl(value: unknown, what: string, file: string): URL {
  if (typeof value !== "string" || value === "") {
    throw new AuthConfigError(`${file}: ${what} is missing (an environment variable not set?)`);
  }
  try {
    return new URL(value);
  } catch {
    throw new AuthConfigError(`${file}: ${what} ${JSON.stringify(value)} is not a URL`);
  }
}

/** The providers of a parsed `auth.config.ts` default export. */
export function parseAuthConfig(config: unknown, file: string): AuthProvider[] {
  const providers = (config as { providers?: unknown } | null | undefined)?.providers;
  if (!Array.isArray(providers)) {
    throw new AuthConfigError(`${file}: the default export has no \`providers\` array`);
  }
  return providers.map((raw: unknown, index: number): AuthProvider => {
    const entry = (raw ?? {}) as Record<string, unknown>;
    const where = `providers[${index}]`;
    if (entry.type === "customJwt") {
      parseUrl(entry.issuer, `${where}.issuer`, file);
      if (typeof entry.algorithm !== "string" || !CUSTOM_JWT_ALGORITHMS.has(entry.algorithm)) {
        throw new AuthConfigError(`${file}: ${where}.algorithm must be RS256 or ES256`);
      }
      if (entry.applicationID !== undefined && typeof entry.applicationID !== "string") {
        throw new AuthConfigError(`${file}: ${where}.applicationID must be a string`);
      }
      return {
        kind: "customJwt",
        issuer: trimSlash(String(entry.issuer)),
        audience: entry.applicationID as string | undefined,
        algorithms: [entry.algorithm],
        keysFrom: parseUrl(entry.jwks, `${where}.jwks`, file),
      };
    }
    if (entry.type !== undefined && entry.type !== "oidc") {
      throw new AuthConfigError(`${file}: ${where}.type ${JSON.stringify(entry.type)} is not supported`);
    }
    parseUrl(entry.domain, `${where}.domain`, file);
    if (typeof entry.applicationID !== "string" || entry.applicationID === "") {
      throw new AuthConfigError(`${file}: ${where}.applicationID is missing`);
    }
    const issuer = trimSlash(String(entry.domain));
    return {
      kind: "oidc",
      issuer,
      audience: entry.applicationID,
      algorithms: OIDC_ALGORITHMS,
      keysFrom: new URL(`${issuer}/.well-known/openid-configuration`),
    };
  });
}

function audienceOf(claims: Record<string, unknown>): string[] {
  const { aud } = claims;
  if (typeof aud === "string") return [aud];
  if (Array.isArray(aud)) return aud.filter((a): a is string => typeof a === "string");
  return [];
}

function describeFailure(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "Token expired";
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return "Could not verify token: the signature does not match the provider's keys";
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return `Could not verify token: ${error.message}`;
  if (error instanceof errors.JWKSNoMatchingKey) {
    return "Could not verify token: no key of the provider's JWKS matches it";
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    return `Could not verify token: claim \`${error.claim}\` ${error.reason === "check_failed" ? "is invalid" : error.reason}`;
  }
  return `Could not verify token: ${(error as Error)?.message ?? error}`;
}

/** Verifies user tokens against the providers of `auth.config.ts`. */
export class TokenVerifier implements TokenAuth {
  readonly verifies = true;
  private readonly keySets = new Map<AuthProvider, Promise<JWTVerifyGetKey>>();

  constructor(readonly providers: AuthProvider[]) {}

  /** Reads `auth.config.ts` of a functions folder (after the environment is set up). */
  static async load(functionsDir: string): Promise<TokenVerifier> {
    const found = CONFIG_FILES.map((name) => path.join(functionsDir, name)).find((file) => existsSync(file));
    if (found === undefined) {
      throw new AuthConfigError(
        `--verify-tokens needs ${path.join(functionsDir, "auth.config.ts")}, which lists the token providers`,
      );
    }
    let module: { default?: unknown };
    try {
      module = (await import(pathToFileURL(found).href)) as { default?: unknown };
    } catch (error) {
      throw new AuthConfigError(`cannot load ${found}: ${(error as Error)?.message ?? error}`);
    }
    return new TokenVerifier(parseAuthConfig(module.default, found));
  }

  identity(token: string): Promise<Identity> {
    return this.verify(token);
  }

  private async verify(token: string): Promise<Identity> {
    let claims: Record<string, unknown>;
    try {
      claims = decodeJwt(token);
    } catch {
      throw new TokenError("Could not parse token as a JWT");
    }
    const issuer = typeof claims.iss === "string" ? trimSlash(claims.iss) : undefined;
    const audiences = audienceOf(claims);
    const provider = this.providers.find(
      (p) => p.issuer === issuer && (p.audience === undefined || audiences.includes(p.audience)),
    );
    if (provider === undefined) {
      const known = this.providers.map((p) => `${p.issuer} (audience ${p.audience ?? "any"})`).join(", ");
      throw new TokenError(
        `No auth provider found matching the given token (issuer ${JSON.stringify(claims.iss)}, ` +
          `audience ${JSON.stringify(claims.aud)}). Configured providers: ${known || "none"}`,
      );
    }
    const keys = await this.keySet(provider);
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: [provider.issuer, `${provider.issuer}/`],
        audience: provider.audience,
        algorithms: provider.algorithms,
      });
      return identityFromClaims(payload as Record<string, unknown>);
    } catch (error) {
      if (error instanceof TokenError) throw error;
      throw new TokenError(describeFailure(error));
    }
  }

  /** The provider's keys, fetched once (a failed fetch is retried on the next token). */
  private keySet(provider: AuthProvider): Promise<JWTVerifyGetKey> {
    let keys = this.keySets.get(provider);
    if (keys === undefined) {
      keys = this.fetchKeySet(provider);
      this.keySets.set(provider, keys);
      keys.catch(() => this.keySets.delete(provider));
    }
    return keys;
  }

  private async fetchKeySet(provider: AuthProvider): Promise<JWTVerifyGetKey> {
    if (provider.kind === "customJwt") return createRemoteJWKSet(provider.keysFrom);
    let jwksUri: unknown;
    try {
      const response = await fetch(provider.keysFrom, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      jwksUri = ((await response.json()) as { jwks_uri?: unknown }).jwks_uri;
      if (typeof jwksUri !== "string") throw new Error("no jwks_uri in it");
      return createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: FETCH_TIMEOUT_MS });
    } catch (error) {
      throw new TokenError(
        `Could not verify token: cannot read the OpenID configuration at ${provider.keysFrom.href}: ` +
          `${(error as Error)?.message ?? error}`,
      );
    }
  }
}
