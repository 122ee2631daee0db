// The signed-in user, the people of this deployment (owner: invite, roles, removal) and the
// audit log.
import { useAuthActions } from "@convex-dev/auth/react";
import { useMutation, usePaginatedQuery, useQuery } from "convex/react";
import { useState, type FormEvent } from "react";
import { api, type Id } from "../api";
import { Badge, Button, Dialog, EmptyState, Panel, QueryBoundary, Skeleton, Time, ui } from "../components/ui";
import { CLIENT } from "../lib/client";
import type { Role } from "../lib/controls";
import { describeError } from "../lib/errors";
import { useMe } from "../session";
import s from "./account.module.css";

export const ROLES: readonly Role[] = ["viewer", "operator", "owner"];

export const ROLE_HELP: Record<Role, string> = {
  viewer: "sees everything, acts on nothing",
  operator: "also approves, pauses, retries and messages",
  owner: "also invites people, changes roles, adds and revokes laptops",
};

function useRun(): { run: (work: () => Promise<unknown>) => Promise<boolean>; problem: string | null; busy: boolean } {
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (work: () => Promise<unknown>) => {
    setBusy(true);
    setProblem(null);
    try {
      await work();
      return true;
    } catch (error) {
      setProblem(describeError(error).message);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { run, problem, busy };
}

function You() {
  const me = useMe();
  const { signOut } = useAuthActions();
  return (
    <Panel title="You">
      {me === undefined ? (
        <Skeleton height={60} />
      ) : (
        <dl className={ui.kv}>
          <dt>Name</dt>
          <dd>{me.name}</dd>
          {me.email && (
            <>
              <dt>Email</dt>
              <dd>{me.email}</dd>
            </>
          )}
          <dt>Role</dt>
          <dd>
            {me.role} <span className={ui.secondary}>({ROLE_HELP[me.role]})</span>
          </dd>
        </dl>
      )}
      <p>
        <Button small onClick={() => void signOut()}>
          Sign out
        </Button>
      </p>
    </Panel>
  );
}

function NotificationsLink() {
  return (
    <Panel title="Notifications">
      <p className={ui.secondary} style={{ marginTop: 0 }}>
        Push to this phone or computer, ntfy, a webhook; what notifies you and when.
      </p>
      <a href="#/notifications" className={s.link}>
        Notification settings →
      </a>
    </Panel>
  );
}

function InviteForm() {
  const invite = useMutation(api.users.invite);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("operator");
  const [code, setCode] = useState<{ code: string; email: string; expiresAt: number } | null>(null);
  const { run, problem, busy } = useRun();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await run(async () => {
      const out = await invite({ email: email.trim(), role, client: CLIENT });
      setCode({ code: out.code, email: out.email, expiresAt: out.expiresAt });
      setEmail("");
    });
  };
  return (
    <>
      <form className={s.form} onSubmit={submit} aria-label="Invite someone">
        <label className={ui.field}>
          Email
          <input className={ui.input} type="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
        </label>
        <label className={ui.field}>
          Role
          <select className={ui.input} value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <Button type="submit" kind="primary" disabled={busy || email.trim() === ""}>
          Invite
        </Button>
      </form>
      {problem && (
        <p className={s.problem} role="alert">
          {problem}
        </p>
      )}
      {code && (
        <div className={s.code} role="status" data-testid="invite-code">
          <span>
            Invite code for {code.email}, shown once, valid until <Time at={code.expiresAt} />:
          </span>
          <code>{code.code}</code>
          <span>Send it privately. They create an account with this email and the code.</span>
        </div>
      )}
    </>
  );
}

function People() {
  const data = useQuery(api.users.list);
  const me = useMe();
  const setRole = useMutation(api.users.setRole);
  const remove = useMutation(api.users.remove);
  const revokeInvite = useMutation(api.users.revokeInvite);
  const [removing, setRemoving] = useState<{ userId: Id<"users">; name: string } | null>(null);
  const { run, problem } = useRun();
  return (
    <Panel title="People" flush label="People">
      {data === undefined ? (
        <div style={{ padding: 16 }}>
          <Skeleton height={120} />
        </div>
      ) : (
        <ul className={s.rows}>
          {data.users.map((u) => (
            <li key={u.userId} className={s.row} data-testid="person">
              <span className={s.who}>
                <strong>{u.name}</strong>
                <span className={ui.secondary}>
                  {u.email ?? "external sign-in"} · joined <Time at={u.createdAt} />
                </span>
              </span>
              <span className={s.rowActions}>
                <select
                  className={ui.input}
                  aria-label={`Role of ${u.name}`}
                  value={u.role}
                  onChange={(e) => void run(() => setRole({ userId: u.userId, role: e.target.value as Role, client: CLIENT }))}
                >
                  {ROLES.map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
                </select>
                <Button small kind="ghost" onClick={() => setRemoving({ userId: u.userId, name: u.name })} disabledReason={u.userId === me?.userId ? "this is you" : undefined}>
                  Remove
                </Button>
              </span>
            </li>
          ))}
          {data.invites.map((i) => (
            <li key={i.inviteId} className={s.row} data-testid="invite">
              <span className={s.who}>
                <strong>{i.email}</strong>
                <span className={ui.secondary}>
                  invited as {i.role} · expires <Time at={i.expiresAt} />
                </span>
              </span>
              <span className={s.rowActions}>
                <Badge tone="info">invited</Badge>
                <Button small kind="ghost" onClick={() => void run(() => revokeInvite({ inviteId: i.inviteId, client: CLIENT }))}>
                  Withdraw
                </Button>
              </span>
            </li>
          ))}
        </ul>
      )}
      {problem && (
        <p className={s.problem} role="alert">
          {problem}
        </p>
      )}
      <InviteForm />
      {removing && (
        <Dialog title={`Remove ${removing.name}?`} onClose={() => setRemoving(null)}>
          <p>They are signed out at once and lose access; you can invite them again later.</p>
          <div className={ui.dialogButtons}>
            <Button onClick={() => setRemoving(null)}>Cancel</Button>
            <Button
              kind="danger"
              onClick={() => {
                const target = removing;
                setRemoving(null);
                void run(() => remove({ userId: target.userId, client: CLIENT }));
              }}
            >
              Remove
            </Button>
          </div>
        </Dialog>
      )}
    </Panel>
  );
}

const VERB_TONE: Record<string, "success" | "danger" | "warning" | "info" | "neutral"> = {
  "action.completed": "success",
  "action.expired": "danger",
  "action.interrupted": "danger",
  "node.rekeyed": "warning",
  "node.revoked": "warning",
  "user.removed": "warning",
  "user.notification_answering_changed": "warning",
};

function AuditLog() {
  const { results, status, loadMore } = usePaginatedQuery(api.audit.list, {}, { initialNumItems: 30 });
  return (
    <Panel title="Audit log" flush label="Audit log" minHeight={200}>
      {status === "LoadingFirstPage" ? (
        <div style={{ padding: 16 }}>
          <Skeleton height={120} />
        </div>
      ) : results.length === 0 ? (
        <EmptyState title="Nothing recorded yet." />
      ) : (
        <ul className={s.rows}>
          {results.map((e) => (
            <li key={e._id} className={`${s.row} ${s.audit}`} data-testid="audit-entry">
              <span className={s.who}>
                <strong>{e.detail ?? e.verb}</strong>
                <span className={ui.secondary}>
                  {e.actorName ?? e.actorKind}
                  {e.nodeName ? ` · ${e.nodeName}` : ""} · <Time at={e.at} />
                  {e.client ? ` · ${e.client.slice(0, 60)}` : ""}
                </span>
              </span>
              <Badge tone={e.outcome === "failed" ? "danger" : (VERB_TONE[e.verb] ?? "neutral")}>{e.verb}</Badge>
            </li>
          ))}
        </ul>
      )}
      {status === "CanLoadMore" && (
        <div style={{ padding: 12, display: "flex", justifyContent: "center" }}>
          <Button small onClick={() => loadMore(50)}>
            Older entries
          </Button>
        </div>
      )}
    </Panel>
  );
}

export function AccountView() {
  const me = useMe();
  return (
    <>
      <h1 className={s.title}>Account</h1>
      <div className={s.page}>
        <div style={{ display: "flex", flexDirection: "column", gap: 16 }}>
          <You />
          <NotificationsLink />
          {me?.role === "owner" && (
            <QueryBoundary what="people">
              <People />
            </QueryBoundary>
          )}
        </div>
        <QueryBoundary what="the audit log">
          <AuditLog />
        </QueryBoundary>
      </div>
    </>
  );
}
