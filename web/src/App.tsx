// Signed out: the sign-in form. Signed in: the shell with the current route's view.
import { useAuthActions } from "@convex-dev/auth/react";
import { useConvexAuth, useQuery } from "convex/react";
import { Component, type ReactNode } from "react";
import { api } from "./api";
import { Button, ErrorMessage, QueryBoundary } from "./components/ui";
import { usePresence } from "./hooks/usePresence";
import { useRoute } from "./hooks/useRoute";
import { describeError } from "./lib/errors";
import { href, type Route } from "./lib/routing";
import { useConnectivity } from "./pwa/Connectivity";
import { MeProvider, useMe, type Me } from "./session";
import { AccountView } from "./views/AccountView";
import { DetailView } from "./views/detail/DetailView";
import { FleetView } from "./views/FleetView";
import { NeedsYouView } from "./views/NeedsYou";
import { NotificationsView } from "./views/NotificationsView";
import { OrchestrationsView } from "./views/OrchestrationsView";
import { Shell, shellStyles } from "./views/Shell";
import { SignIn, Splash, signInStyles } from "./views/SignIn";

function View({ route }: { route: Route }) {
  switch (route.name) {
    case "orchestrations":
      return <OrchestrationsView query={route.query} />;
    case "attention":
      return <NeedsYouView item={route.item} />;
    case "fleet":
      return <FleetView />;
    case "account":
      return <AccountView />;
    case "notifications":
      return <NotificationsView />;
    case "detail":
      return <DetailView orchestrationId={route.orchestrationId} />;
    case "notFound":
      return (
        <p>
          Nothing lives at <code>{route.path}</code>. <a href="#/">See all orchestrations</a>.
        </p>
      );
  }
}

function SignOutButton() {
  const { signOut } = useAuthActions();
  return (
    <Button small kind="ghost" onClick={() => void signOut()}>
      Sign out
    </Button>
  );
}

function Account() {
  const me = useMe();
  return (
    // Named by its text, "Account" (hidden) and then the name and role it shows on a wide screen,
    // so the visible text is part of the name (WCAG 2.5.3).
    <a className={shellStyles.accountLink} href="#/account">
      <span className={shellStyles.avatar} aria-hidden>
        {(me?.name ?? "?").slice(0, 1).toUpperCase()}
      </span>
      <span className="visually-hidden">Account </span>
      <span className={shellStyles.who} data-testid="whoami">
        {me ? `${me.name} · ${me.role}` : ""}
      </span>
    </a>
  );
}

function NoAccess({ name }: { name: string }) {
  return (
    <div className={signInStyles.wrap}>
      <div className={signInStyles.card} role="alert">
        <h1>No access yet</h1>
        <p className={signInStyles.lead}>
          You are signed in as {name}, but this account has no role on this tina deployment. Ask its owner for an invite.
        </p>
        <SignOutButton />
      </div>
    </div>
  );
}

/** A session that ended on the server (signed out elsewhere, removed) shows a way back in. */
class SessionBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  override state = { error: null as unknown };
  static getDerivedStateFromError(error: unknown) {
    return { error };
  }
  override render() {
    if (this.state.error === null) return this.props.children;
    const info = describeError(this.state.error);
    return (
      <div className={signInStyles.wrap}>
        <div className={signInStyles.card}>
          <ErrorMessage error={this.state.error} what="your account" onRetry={() => this.setState({ error: null })} />
          {info.code === "unauthenticated" && <SignOutButton />}
        </div>
      </div>
    );
  }
}

function SignedIn() {
  const route = useRoute();
  const me = useQuery(api.users.me);
  // Only a person with a role may say they watch; mounted once, here, for every view.
  usePresence(me !== undefined && me.role !== null);
  if (me !== undefined && me.role === null) return <NoAccess name={me.name} />;
  const value: Me | undefined =
    me && me.role ? { name: me.name, role: me.role, ...(me.userId ? { userId: me.userId } : {}), ...(me.email ? { email: me.email } : {}) } : undefined;
  return (
    <MeProvider value={value}>
      <Shell route={route} account={<Account />}>
        {/* A view that fails says so in words inside the shell; the navigation keeps working. */}
        <QueryBoundary what="this page" resetKey={href(route)}>
          <View route={route} />
        </QueryBoundary>
      </Shell>
    </MeProvider>
  );
}

export function App() {
  const { isLoading, isAuthenticated } = useConvexAuth();
  const connectivity = useConnectivity();
  // Offline, the sign-in cannot be confirmed: the offline notice says why nothing shows.
  if (isLoading) return <Splash text={connectivity.status === "offline" ? "Waiting for a connection…" : "Loading…"} />;
  if (!isAuthenticated) return <SignIn />;
  return (
    <SessionBoundary>
      <SignedIn />
    </SessionBoundary>
  );
}
