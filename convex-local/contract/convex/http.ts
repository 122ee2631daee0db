// HTTP actions, served by the local backend outside /api/.
import { httpRouter } from "convex/server";
import { internal } from "./_generated/api";
import { httpAction } from "./_generated/server";

const http = httpRouter();

http.route({
  path: "/hello",
  method: "GET",
  handler: httpAction(async (_ctx, request) => {
    return Response.json(
      { url: request.url, siteUrl: process.env.CONVEX_SITE_URL ?? null },
      { headers: { "X-Contract": "yes" } },
    );
  }),
});

http.route({
  path: "/messages",
  method: "POST",
  handler: httpAction(async (ctx, request) => {
    const { channel, body } = (await request.json()) as { channel: string; body: string };
    await ctx.runMutation(internal.messages.insertInternal, { channel, body });
    return new Response(null, { status: 201 });
  }),
});

http.route({
  path: "/whoami",
  method: "GET",
  handler: httpAction(async (ctx) => Response.json(await ctx.auth.getUserIdentity())),
});

http.route({
  pathPrefix: "/files/",
  method: "GET",
  handler: httpAction(async (_ctx, request) => {
    const headers = new Headers({ "Content-Type": "text/plain" });
    headers.append("Set-Cookie", "a=1");
    headers.append("Set-Cookie", "b=2");
    return new Response(`file ${new URL(request.url).pathname}`, { headers });
  }),
});

// OpenID discovery and keys for --verify-tokens (auth.config.ts); the tests that sign
// tokens pass their public keys in CONTRACT_JWKS and CONTRACT_CUSTOM_JWKS.
const emptyKeySet = JSON.stringify({ keys: [] });

http.route({
  path: "/.well-known/openid-configuration",
  method: "GET",
  handler: httpAction(async () => {
    const site = process.env.CONVEX_SITE_URL;
    return Response.json({ issuer: site, jwks_uri: `${site}/.well-known/jwks.json` });
  }),
});

http.route({
  path: "/.well-known/jwks.json",
  method: "GET",
  handler: httpAction(async () => {
    return new Response(process.env.CONTRACT_JWKS ?? emptyKeySet, {
      headers: { "Content-Type": "application/json" },
    });
  }),
});

http.route({
  path: "/custom/jwks.json",
  method: "GET",
  handler: httpAction(async () => {
    return new Response(process.env.CONTRACT_CUSTOM_JWKS ?? emptyKeySet, {
      headers: { "Content-Type": "application/json" },
    });
  }),
});

export default http;
