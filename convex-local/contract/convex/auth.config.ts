// Token providers of the contract fixture project, read only by a backend started with
// --verify-tokens:
//
// - OIDC, as Convex Auth sets it up: the issuer is this backend's own site URL and its
//   keys come from the discovery document and JWKS that http.ts serves
//   (`CONTRACT_JWKS`, set with --env by the tests that sign tokens).
// - A custom JWT provider (ES256) whose JWKS http.ts serves from `CONTRACT_CUSTOM_JWKS`.
export default {
  providers: [
    {
      domain: process.env.CONVEX_SITE_URL,
      applicationID: "contract",
    },
    {
      type: "customJwt",
      issuer: "https://custom-issuer.contract.test",
      jwks: `${process.env.CONVEX_SITE_URL}/custom/jwks.json`,
      algorithm: "ES256",
      applicationID: "contract-custom",
    },
  ],
};
