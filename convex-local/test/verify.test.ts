// `--verify-tokens`: user tokens are verified against the providers of
// `auth.config.ts` (signature, issuer, audience, expiry), over the WebSocket
// and the HTTP API, and the official client's refresh path works.
import { generateKeyPairSync } from "node:crypto";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { makeFunctionReference } from "convex/server";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { api } from "../contract/convex/_generated/api.js";
import { DECODE_ONLY } from "../auth.js";
import { CONTRACT_FUNCTIONS_DIR, nodeWebSocket, spawnLocalBackend, startLocalBackend, type LocalServer } from "../testing.js";
import { AuthConfigError, parseAuthConfig, TokenVerifier } from "../verify.js";
import { fakeJwt, WireClient, type HttpReply, type Message } from "./wire.js";

const KID = "contract-rs256";
let server: LocalServer;
let signingKey: CryptoKey;
let otherKey: CryptoKey;
let customKey: CryptoKey;
const clients: WireClient[] = [];

const now = () => Math.floor(Date.now() / 1000);

/** A token from the contract project's OIDC provider, unless `claims` or `key` say otherwise. */
async function token(
  claims: JWTPayload = {},
  { key = signingKey, alg = "RS256", kid = KID }: { key?: CryptoKey; alg?: string; kid?: string } = {},
): Promise<string> {
  return await new SignJWT({
    iss: server.url,
    aud: "contract",
    sub: "user-1",
    iat: now(),
    exp: now() + 3600,
    name: "Ada",
    ...claims,
  })
    .setProtectedHeader({ alg, kid, typ: "JWT" })
    .sign(key);
}

async function connect(): Promise<WireClient> {
  const client = await WireClient.connect(server.url);
  clients.push(client);
  return client;
}

async function httpWhoami(bearer: string | null): Promise<{ status: number; body: HttpReply }> {
  const response = await fetch(`${server.url}/api/query`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(bearer === null ? {} : { Authorization: `Bearer ${bearer}` }) },
    body: JSON.stringify({ path: "identity:whoami", args: [{}], format: "convex_encoded_json" }),
  });
  return { status: response.status, body: (await response.json()) as HttpReply };
}

beforeAll(async () => {
  const rsa = await generateKeyPair("RS256", { extractable: true });
  signingKey = rsa.privateKey;
  otherKey = (await generateKeyPair("RS256")).privateKey;
  const ec = await generateKeyPair("ES256", { extractable: true });
  customKey = ec.privateKey;
  const jwks = { keys: [{ ...(await exportJWK(rsa.publicKey)), kid: KID, alg: "RS256", use: "sig" }] };
  const customJwks = { keys: [{ ...(await exportJWK(ec.publicKey)), kid: "custom", alg: "ES256", use: "sig" }] };
  server = await startLocalBackend({
    functionsDir: CONTRACT_FUNCTIONS_DIR,
    verifyTokens: true,
    env: { CONTRACT_JWKS: JSON.stringify(jwks), CONTRACT_CUSTOM_JWKS: JSON.stringify(customJwks) },
  });
});

afterAll(async () => {
  for (const client of clients) {
    expect(client.versionErrors).toEqual([]);
    client.close();
  }
  await server.close();
});

describe("accepted", () => {
  test("a valid token over the WebSocket: the identity version moves and functions see the claims", async () => {
    const client = await connect();
    client.send({ type: "Authenticate", baseVersion: 0, tokenType: "User", value: await token() });
    client.addQuery(0, "identity:whoami");
    const transition = await client.nextOfType("Transition");
    expect(transition.endVersion.identity).toBe(1);
    const result = await client.result(0, (m) => m.value !== undefined);
    expect(result.value).toEqual({
      tokenIdentifier: `${server.url}|user-1`,
      subject: "user-1",
      issuer: server.url,
      name: "Ada",
    });
  });

  test("a valid token over HTTP", async () => {
    const reply = await httpWhoami(await token({ sub: "http-user" }));
    expect(reply.status).toBe(200);
    expect(reply.body.value).toMatchObject({ subject: "http-user", issuer: server.url });
    expect((await httpWhoami(null)).body.value).toBeNull();
  });

  test("requests sent right after Authenticate wait for the verification and run as the new identity", async () => {
    const client = await connect();
    client.send({ type: "Authenticate", baseVersion: 0, tokenType: "User", value: await token({ sub: "fast" }) });
    client.mutation("identity:whoamiMutation");
    client.action("identity:whoamiAction");
    // The two answers may come in either order.
    const answered = (type: string) => client.received.find((m: Message) => m.type === type);
    await expect.poll(() => answered("MutationResponse") && answered("ActionResponse")).toBeTruthy();
    expect(answered("MutationResponse")!.result).toMatchObject({ subject: "fast" });
    expect(answered("ActionResponse")!.result).toMatchObject({ subject: "fast" });
  });

  test("a custom JWT provider (ES256, its own issuer and JWKS)", async () => {
    const custom = await token(
      { iss: "https://custom-issuer.contract.test", aud: "contract-custom", sub: "custom-user" },
      { key: customKey, alg: "ES256", kid: "custom" },
    );
    const reply = await httpWhoami(custom);
    expect(reply.status).toBe(200);
    expect(reply.body.value).toMatchObject({ subject: "custom-user", issuer: "https://custom-issuer.contract.test" });
    // Its algorithm is fixed by auth.config.ts.
    const rs256 = await token({ iss: "https://custom-issuer.contract.test", aud: "contract-custom" });
    expect((await httpWhoami(rs256)).status).toBe(401);
  });
});

describe("refused", () => {
  const cases: [string, () => Promise<string>, RegExp][] = [
    ["an expired token", () => token({ iat: now() - 7200, exp: now() - 60 }), /expired/],
    ["a token from another issuer", () => token({ iss: "https://elsewhere.test" }), /No auth provider/],
    ["a token for another audience", () => token({ aud: "someone-else" }), /No auth provider/],
    ["a forged signature (same kid, another key)", () => token({}, { key: otherKey }), /signature/],
    [
      "an unsigned token (alg: none)",
      async () => fakeJwt({ iss: server.url, aud: "contract", sub: "x", exp: now() + 60 }),
      /"alg" \(Algorithm\) Header Parameter value not allowed/,
    ],
    ["something that is not a JWT", async () => "not-a-jwt", /JWT/],
  ];

  test.each(cases)("%s: AuthError over the WebSocket, which then closes", async (_name, make, message) => {
    const client = await connect();
    client.send({ type: "Authenticate", baseVersion: 0, tokenType: "User", value: await make() });
    client.addQuery(0, "identity:whoami");
    const error = await client.nextOfType("AuthError");
    expect(error).toMatchObject({ type: "AuthError", baseVersion: 0, authUpdateAttempted: true });
    expect(error.error).toMatch(message);
    await client.closed;
    // No query ran under the refused identity.
    expect(client.received.filter((m: Message) => m.type === "Transition")).toEqual([]);
  });

  test.each(cases)("%s: 401 over HTTP", async (_name, make, message) => {
    const reply = await httpWhoami(await make());
    expect(reply.status).toBe(401);
    expect(reply.body.code).toBe("Unauthenticated");
    expect(reply.body.message).toMatch(message);
  });

  test("a mutation sent under a refused token does not run, and runs when re-sent under a good one", async () => {
    const sessionId = crypto.randomUUID();
    const first = await WireClient.connect(server.url, { sessionId });
    clients.push(first);
    first.send({ type: "Authenticate", baseVersion: 0, tokenType: "User", value: await token({ exp: now() - 1 }) });
    first.mutation("messages:send", { channel: "refused", body: "once" }, 0);
    await first.nextOfType("AuthError");
    await first.closed;
    expect(first.received.some((m: Message) => m.type === "MutationResponse")).toBe(false);

    const second = await WireClient.connect(server.url, { sessionId });
    clients.push(second);
    second.send({ type: "Authenticate", baseVersion: 0, tokenType: "User", value: await token() });
    second.mutation("messages:send", { channel: "refused", body: "once" }, 0);
    expect(await second.nextOfType("MutationResponse")).toMatchObject({ success: true });
    expect(await new ConvexHttpClient(server.url).query(api.messages.list, { channel: "refused" })).toEqual(["once"]);
  });
});

describe("the official ConvexClient", () => {
  test("an expired token is refused, the client fetches a fresh one (forceRefreshToken) and is signed in", async () => {
    const client = new ConvexClient(server.url, { webSocketConstructor: nodeWebSocket });
    try {
      const expired = await token({ sub: "refresher", iat: now() - 7200, exp: now() - 10 });
      const fresh = await token({ sub: "refresher" });
      const fetches: boolean[] = [];
      const changes: boolean[] = [];
      client.setAuth(
        async ({ forceRefreshToken }) => {
          fetches.push(forceRefreshToken);
          return forceRefreshToken ? fresh : expired;
        },
        (isAuthenticated) => changes.push(isAuthenticated),
      );
      await expect.poll(() => changes, { timeout: 10_000 }).toEqual([true]);
      expect(fetches).toEqual([false, true]);
      expect(await client.query(api.identity.whoami, {})).toMatchObject({ subject: "refresher" });
    } finally {
      await client.close();
    }
  }, 20_000);

  test("ConvexHttpClient gets the 401 as an error", async () => {
    const http = new ConvexHttpClient(server.url);
    http.setAuth(await token({ exp: now() - 10 }));
    await expect(http.query(api.identity.whoami, {})).rejects.toThrow(/expired/);
  });
});

describe("configuration", () => {
  test("providers are read from auth.config.ts; bad entries are errors", () => {
    expect(
      parseAuthConfig({ providers: [{ domain: "https://issuer.test/", applicationID: "app" }] }, "auth.config.ts"),
    ).toEqual([
      {
        kind: "oidc",
        issuer: "https://issuer.test",
        audience: "app",
        algorithms: expect.arrayContaining(["RS256", "ES256"]),
        keysFrom: new URL("https://issuer.test/.well-known/openid-configuration"),
      },
    ]);
    expect(() => parseAuthConfig({ providers: [{ domain: undefined, applicationID: "a" }] }, "f")).toThrow(
      /providers\[0\]\.domain is missing/,
    );
    expect(() => parseAuthConfig({ providers: [{ domain: "https://x.test" }] }, "f")).toThrow(/applicationID/);
    expect(() =>
      parseAuthConfig({ providers: [{ type: "customJwt", issuer: "https://x", jwks: "https://x/j", algorithm: "HS256" }] }, "f"),
    ).toThrow(/RS256 or ES256/);
    expect(() => parseAuthConfig({}, "f")).toThrow(AuthConfigError);
  });

  test("--verify-tokens without an auth.config.ts fails clearly", async () => {
    await expect(TokenVerifier.load(import.meta.dirname)).rejects.toThrow(/--verify-tokens needs .*auth\.config\.ts/);
    expect(DECODE_ONLY.verifies).toBe(false);
    expect(server.backend.tokens.verifies).toBe(true);
  });
});

describe("the repository's functions with Convex Auth", () => {
  test("a token from auth:signIn is accepted; one signed with another key is not", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const jwks = JSON.stringify({ keys: [{ use: "sig", alg: "RS256", ...publicKey.export({ format: "jwk" }) }] });
    const backend = await spawnLocalBackend({
      verifyTokens: true,
      env: { JWT_PRIVATE_KEY: pem.trimEnd().replace(/\n/g, " "), JWKS: jwks },
    });
    try {
      const http = new ConvexHttpClient(backend.url);
      const isAuthenticated = makeFunctionReference<"query">("auth:isAuthenticated");
      const signedIn = (await http.action(makeFunctionReference<"action">("auth:signIn"), {
        provider: "password",
        params: { email: "owner@example.com", password: "correct horse battery", flow: "signUp" },
      })) as { tokens: { token: string } | null };
      expect(signedIn.tokens).not.toBeNull();
      http.setAuth(signedIn.tokens!.token);
      expect(await http.query(isAuthenticated, {})).toBe(true);

      const forged = await new SignJWT({ sub: "intruder", aud: "convex", iss: backend.url })
        .setProtectedHeader({ alg: "RS256" })
        .setIssuedAt()
        .setExpirationTime("1h")
        .sign(otherKey);
      http.setAuth(forged);
      await expect(http.query(isAuthenticated, {})).rejects.toThrow(/signature/);
    } finally {
      await backend.stop();
    }
  }, 30_000);
});
