// The signed-in user, the people of this deployment (owner: invite, roles, removal) and the
// audit log (one row per action with its outcome, filters, pages).
import { useAuthActions } from "@convex-dev/auth/react";
import { useMutation, usePaginatedQuery, useQuery } from "convex/react";
import { useState, type FormEvent } from "react";
import { api, type Id } from "../api";
import { Badge, Button, Dialog, EmptyState, Panel, QueryBoundary, Skeleton, Time, ui } from "../components/ui";
import { CLIENT } from "../lib/client";
import type { Role } from "../lib/controls";
import {
  auditTitle,
  KIND_LABELS,
  metaParts,
  OUTCOME_FILTER_LABELS,
  OUTCOME_TONE,
  outcomeParts,
  showsOutcome,
  type AuditFilters,
  type AuditKind,
  type AuditOutcomeFilter,
  type AuditRow,
} from "../lib/audit";
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

const PAGE = 25;

/** Who, which laptop, what kind, how it ended: each a select, "all" by default. */
function AuditFilterBar({ filters, onChange }: { filters: AuditFilters; onChange: (f: AuditFilters) => void }) {
  const options = useQuery(api.audit.filterOptions);
  const set = <K extends keyof AuditFilters>(key: K, value: string) => {
    const next = { ...filters };
    if (value === "") delete next[key];
    else next[key] = value as AuditFilters[K];
    onChange(next);
  };
  return (
    <div className={s.filters} role="group" aria-label="Filter the audit log">
      <label className={ui.field}>
        Who
        <select className={ui.input} value={filters.actorId ?? ""} onChange={(e) => set("actorId", e.target.value)}>
          <option value="">Anyone</option>
          {options?.people.map((p) => (
            <option key={p.id} value={p.id}>
              {p.name}
            </option>
          ))}
        </select>
      </label>
      <label className={ui.field}>
        Laptop
        <select className={ui.input} value={filters.nodeId ?? ""} onChange={(e) => set("nodeId", e.target.value)}>
          <option value="">Any laptop</option>
          {options?.laptops.map((l) => (
            <option key={l.id} value={l.id}>
              {l.name}
            </option>
          ))}
        </select>
      </label>
      <label className={ui.field}>
        Kind
        <select className={ui.input} value={filters.kind ?? ""} onChange={(e) => set("kind", e.target.value)}>
          <option value="">Everything</option>
          {(Object.keys(KIND_LABELS) as AuditKind[]).map((k) => (
            <option key={k} value={k}>
              {KIND_LABELS[k]}
            </option>
          ))}
        </select>
      </label>
      <label className={ui.field}>
        Outcome
        <select className={ui.input} value={filters.outcome ?? ""} onChange={(e) => set("outcome", e.target.value)}>
          <option value="">Any outcome</option>
          {(Object.keys(OUTCOME_FILTER_LABELS) as AuditOutcomeFilter[]).map((o) => (
            <option key={o} value={o}>
              {OUTCOME_FILTER_LABELS[o]}
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}

/** One entry: what was done, how it ended, who did it from where, when. */
export function AuditEntry({ row }: { row: AuditRow }) {
  const [word, why] = outcomeParts(row);
  return (
    <li className={`${s.row} ${s.audit}`} data-testid="audit-entry" data-outcome={row.outcome} data-kind={row.kind}>
      <span className={s.who}>
        <strong>{auditTitle(row)}</strong>
        <span className={ui.secondary}>
          {metaParts(row).join(" · ")} · <Time at={row.at} />
        </span>
        {showsOutcome(row) && (
          <span className={s.outcome} data-testid="audit-outcome">
            <Badge tone={OUTCOME_TONE[row.outcome]}>{word}</Badge>
            {why && (
              <span className={s.why}>
                <span className="visually-hidden">: </span>
                {why}
              </span>
            )}
          </span>
        )}
      </span>
    </li>
  );
}

export function AuditLog() {
  const [filters, setFilters] = useState<AuditFilters>({});
  const { results, status, loadMore } = usePaginatedQuery(api.audit.feed, filters, { initialNumItems: PAGE });
  const filtered = Object.keys(filters).length > 0;
  return (
    <Panel title="Audit log" flush label="Audit log" minHeight={200}>
      <AuditFilterBar filters={filters} onChange={setFilters} />
      {status === "LoadingFirstPage" ? (
        <div style={{ padding: 16 }}>
          <Skeleton height={120} />
        </div>
      ) : results.length === 0 ? (
        status === "CanLoadMore" ? (
          <p className={s.note}>Nothing that matches in the newest entries; load older ones to look further back.</p>
        ) : (
          <EmptyState title={filtered ? "Nothing matches these filters." : "Nothing recorded yet."} />
        )
      ) : (
        <ul className={s.rows} aria-label="Audit entries">
          {results.map((row) => (
            <AuditEntry key={row._id} row={row} />
          ))}
        </ul>
      )}
      {(status === "CanLoadMore" || status === "LoadingMore") && (
        <div className={s.more}>
          <Button small onClick={() => loadMore(PAGE)} disabled={status === "LoadingMore"}>
            {status === "LoadingMore" ? "Loading…" : "Load more"}
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
