// Who may issue identities to this deployment. The default is Convex Auth on the deployment
// itself (tokens signed with JWT_PRIVATE_KEY, issuer CONVEX_SITE_URL). To also accept another
// OIDC provider (Auth0, Clerk, Okta, Google Workspace, ...), add an entry with its issuer URL
// and the audience its tokens carry, e.g.
//
//   { domain: "https://your-tenant.eu.auth0.com/", applicationID: "your-client-id" },
//
// Such users join with `users:acceptInvite` (see docs/security.md, "Another OIDC provider").
export default {
  providers: [
    {
      // eslint-disable-next-line @convex-dev/no-process-env -- auth config is read at deploy time, not by functions
      domain: process.env.CONVEX_SITE_URL,
      applicationID: "convex",
    },
  ],
};
