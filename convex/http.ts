// HTTP routes: Convex Auth's OIDC discovery document and JWKS
// (`/.well-known/openid-configuration`, `/.well-known/jwks.json`), used to verify its tokens.
import { httpRouter } from "convex/server";
import { auth } from "./auth";

const http = httpRouter();

auth.addHttpRoutes(http);

export default http;
