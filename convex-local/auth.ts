// Identity from a user token. By default this server DECODES tokens and never
// verifies them: any well-formed JWT is accepted, forged or expired. With
// `--verify-tokens` they are verified against `auth.config.ts` (verify.ts).
// Either way it is a test and demo backend, not a security boundary.

/** The `UserIdentity` a function sees through `ctx.auth.getUserIdentity()`. */
export type Identity = {
  tokenIdentifier: string;
  subject: string;
  issuer: string;
  [claim: string]: unknown;
};

// Standard OIDC claims, renamed the way Convex renames them in UserIdentity.
const IDENTITY_NAME_BY_CLAIM: Record<string, string> = {
  name: "name",
  given_name: "givenName",
  family_name: "familyName",
  nickname: "nickname",
  preferred_username: "preferredUsername",
  profile: "profileUrl",
  picture: "pictureUrl",
  email: "email",
  email_verified: "emailVerified",
  gender: "gender",
  birthdate: "birthday",
  zoneinfo: "timezone",
  locale: "language",
  phone_number: "phoneNumber",
  phone_number_verified: "phoneNumberVerified",
  address: "address",
  updated_at: "updatedAt",
};

// Registered JWT claims that are not part of the identity.
const DROPPED_CLAIMS = new Set(["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "azp"]);

export class TokenError extends Error {
  override name = "TokenError";
}

function base64UrlDecode(segment: string): string {
  if (!/^[A-Za-z0-9_-]*$/.test(segment)) {
    throw new TokenError("Could not decode token: invalid base64url");
  }
  return Buffer.from(segment, "base64url").toString("utf8");
}

/** The claims of a JWT, decoded without checking its signature or expiry. */
export function decodeJwtClaims(token: string): Record<string, unknown> {
  const parts = token.split(".");
  if (parts.length !== 3) {
    throw new TokenError("Could not parse token as a JWT: expected three dot-separated parts");
  }
  let claims: unknown;
  try {
    claims = JSON.parse(base64UrlDecode(parts[1]));
  } catch (error) {
    if (error instanceof TokenError) throw error;
    throw new TokenError("Could not parse token as a JWT: payload is not JSON");
  }
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) {
    throw new TokenError("Could not parse token as a JWT: payload is not an object");
  }
  return claims as Record<string, unknown>;
}

export function identityFromClaims(claims: Record<string, unknown>): Identity {
  const { iss, sub } = claims;
  if (typeof iss !== "string" || iss === "") {
    throw new TokenError("Token is missing the `iss` claim");
  }
  if (typeof sub !== "string" || sub === "") {
    throw new TokenError("Token is missing the `sub` claim");
  }
  const identity: Identity = { tokenIdentifier: `${iss}|${sub}`, subject: sub, issuer: iss };
  for (const [claim, value] of Object.entries(claims)) {
    if (DROPPED_CLAIMS.has(claim) || value === undefined || value === null) continue;
    identity[IDENTITY_NAME_BY_CLAIM[claim] ?? claim] = value;
  }
  return identity;
}

export function identityFromToken(token: string): Identity {
  return identityFromClaims(decodeJwtClaims(token));
}

/**
 * How user tokens become identities: decoded only (`DECODE_ONLY`, the
 * default, synchronous) or verified (`TokenVerifier`, asynchronous). Failures
 * throw, or reject with, a TokenError.
 */
export type TokenAuth = {
  readonly verifies: boolean;
  identity(token: string): Identity | Promise<Identity>;
};

export const DECODE_ONLY: TokenAuth = { verifies: false, identity: identityFromToken };

/** A stable key for caching results per identity. */
export function identityKey(identity: Identity | null): string {
  return identity === null ? "" : JSON.stringify(identity);
}
