// Every laptop: presence, last seen, daemon version, uptime, its sync backlog (outbox depth and
// the oldest waiting observation) and its orchestrations; then each laptop's Claude quota and the
// fleet's spend (FleetUsage.tsx).
import { useMutation, useQuery } from "convex/react";
import { useState, type FormEvent } from "react";
import { api, type MessagingRule, type NodeView } from "../api";
import { Badge, Button, Dialog, EmptyState, Panel, QueryBoundary, Skeleton, Time, ui } from "../components/ui";
import { CLIENT } from "../lib/client";
import { ClaudeSessions } from "./ClaudeSessions";
import { FleetQuota, FleetSpend } from "./FleetUsage";
import { MESSAGING_RULE_LABELS, MESSAGING_RULES } from "../lib/controls";
import { describeError } from "../lib/errors";
import { useMe } from "../session";
import {
  backlog,
  backlogText,
  healthWarnings,
  orchestrationCountText,
  orderNodes,
  presence,
  PRESENCE_LABELS,
  uptimeMs,
  type Presence,
} from "../lib/fleet";
import { useNow } from "../hooks/useNow";
import { href } from "../lib/routing";
import type { Tone } from "../lib/status";
import { formatDuration } from "../lib/time";
import s from "./fleet.module.css";
import o from "./orchestrations.module.css";

// Not "muted" for revoked: its pale text on a pale fill is too faint to read (axe colour-contrast).
const PRESENCE_TONE: Record<Presence, Tone> = { online: "success", offline: "danger", revoked: "neutral", never: "neutral" };

export function PresenceBadge({ node }: { node: Pick<NodeView, "online" | "revoked" | "lastHeartbeat"> }) {
  const p = presence(node);
  return (
    <Badge tone={PRESENCE_TONE[p]} dot>
      {PRESENCE_LABELS[p]}
    </Badge>
  );
}

/** Teams on this laptop that belong to no orchestration: still worth seeing. */
function UnlinkedTeams({ node }: { node: NodeView }) {
  const teams = useQuery(api.teams.listUnlinkedTeams, { nodeId: node._id });
  if (teams === undefined || teams.length === 0) return null;
  return (
    <div className={s.teams}>
      <strong>
        {teams.length} team{teams.length === 1 ? "" : "s"} outside orchestrations
      </strong>
      <ul>
        {teams.map((t) => (
          <li key={t._id}>
            {t.teamName} · {t.memberCount} agent{t.memberCount === 1 ? "" : "s"} · {t.taskCounts.inProgress} in progress,{" "}
            {t.taskCounts.pending} pending, {t.taskCounts.completed} done
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Owner only: cut a laptop off (its credential stops working; queued actions are cancelled). */
function RevokeButton({ node }: { node: NodeView }) {
  const revoke = useMutation(api.nodes.revokeNode);
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <div className={s.revoke}>
      <Button small kind="danger" onClick={() => setAsking(true)} aria-label={`Revoke ${node.name}`}>
        Revoke…
      </Button>
      {problem && (
        <p className={s.problem} role="alert">
          {problem}
        </p>
      )}
      {asking && (
        <Dialog title={`Revoke ${node.name}?`} onClose={() => setAsking(false)}>
          <p>Revoking cuts {node.name} off from this deployment at once:</p>
          <ul className={s.consequences}>
            <li>its daemon&apos;s credential stops working: it can no longer sync or run actions;</li>
            <li>actions queued for it are cancelled;</li>
            <li>its orchestrations stay listed but stop updating.</li>
          </ul>
          <p>
            To bring it back, create an enrollment code for exactly &ldquo;{node.name}&rdquo; (Add a laptop) and enroll it again.
          </p>
          <div className={ui.dialogButtons}>
            <Button onClick={() => setAsking(false)}>Cancel</Button>
            <Button
              kind="danger"
              disabled={busy}
              onClick={() => {
                setAsking(false);
                setProblem(null);
                setBusy(true);
                revoke({ nodeId: node._id, client: CLIENT })
                  .catch((e: unknown) => setProblem(`${node.name} was not revoked. ${describeError(e).message}`))
                  .finally(() => setBusy(false));
              }}
            >
              Revoke {node.name}
            </Button>
          </div>
        </Dialog>
      )}
    </div>
  );
}

/** How many orchestrations the laptop runs now and ran in all (a small query of its own). */
function OrchestrationCount({ node }: { node: NodeView }) {
  const counts = useQuery(api.nodes.orchestrationCounts, { nodeId: node._id });
  if (counts === undefined) return <Skeleton width={120} />;
  if (counts.all === 0) return <>{orchestrationCountText(counts)}</>;
  return <a href={href({ name: "orchestrations", query: new URLSearchParams({ laptop: node._id }) })}>{orchestrationCountText(counts)}</a>;
}

/**
 * Who may message this laptop's agents (typed into their terminals, so code execution as the
 * laptop's user). Everyone sees the rule; the owner changes it here.
 */
function Messaging({ node, canChange }: { node: NodeView; canChange: boolean }) {
  const setMessaging = useMutation(api.nodes.setMessaging);
  const [problem, setProblem] = useState<string | null>(null);
  if (!canChange) return <>{MESSAGING_RULE_LABELS[node.messaging]}</>;
  return (
    <>
      <select
        className={ui.input}
        aria-label={`Who may message agents on ${node.name}`}
        value={node.messaging}
        onChange={(e) => {
          setProblem(null);
          setMessaging({ nodeId: node._id, messaging: e.target.value as MessagingRule, client: CLIENT }).catch((error: unknown) =>
            setProblem(describeError(error).message),
          );
        }}
      >
        {MESSAGING_RULES.map((r) => (
          <option key={r} value={r}>
            {MESSAGING_RULE_LABELS[r]}
          </option>
        ))}
      </select>
      {problem && <span role="alert">{problem}</span>}
    </>
  );
}

export function NodeCard({ node, canRevoke = false, canSetMessaging = false }: { node: NodeView; canRevoke?: boolean; canSetMessaging?: boolean }) {
  const h = node.health;
  const now = useNow();
  const b = backlog(node, now);
  const uptime = uptimeMs(node, now);
  const warnings = healthWarnings(node, now);
  return (
    <article className={s.card} data-testid="node-card" data-node={node.name} aria-label={`Laptop ${node.name}`}>
      <div className={s.cardHead}>
        <h2 className={s.name}>{node.name}</h2>
        <PresenceBadge node={node} />
      </div>
      <dl className={ui.kv}>
        <dt>Last seen</dt>
        <dd>{node.online ? "now" : node.lastHeartbeat > 0 ? <Time at={node.lastHeartbeat} /> : "never"}</dd>
        <dt>Orchestrations</dt>
        <dd data-testid="node-orchestrations">
          <QueryBoundary what="orchestration counts">
            <OrchestrationCount node={node} />
          </QueryBoundary>
        </dd>
        <dt>Sync</dt>
        <dd data-testid="node-backlog">
          <span className={b?.kind === "in_sync" && node.online ? s.inSync : undefined}>{backlogText(b)}</span>
          {!node.online && b !== undefined && <span className={ui.secondary}> when last seen</span>}
          {b?.kind === "waiting" && b.oldestMs === undefined && b.lastSyncAt !== undefined && (
            <span className={ui.secondary}>
              {" "}
              (last sync <Time at={b.lastSyncAt} />)
            </span>
          )}
        </dd>
        <dt>Daemon</dt>
        <dd>{h ? `v${h.daemonVersion}` : "–"}</dd>
        <dt>Uptime</dt>
        <dd>{uptime === undefined ? "–" : formatDuration(uptime)}</dd>
        <dt>OS</dt>
        <dd>{node.os}</dd>
        <dt>Messages to agents</dt>
        <dd data-testid="node-messaging">
          <Messaging node={node} canChange={canSetMessaging && !node.revoked} />
          <span className={s.help}>typed into its agents&apos; terminals, as the laptop&apos;s user</span>
        </dd>
      </dl>
      {warnings.length > 0 && (
        <ul className={s.warnings} aria-label="Health warnings">
          {warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      )}
      {h && h.actors.length > 0 && (
        <details>
          <summary>
            {h.actors.length} actors, {h.actors.reduce((n, a) => n + a.restarts, 0)} restarts
          </summary>
          <table className={s.actors}>
            <thead>
              <tr>
                <th>Actor</th>
                <th>State</th>
                <th>Restarts</th>
              </tr>
            </thead>
            <tbody>
              {h.actors.map((a) => (
                <tr key={a.id} title={a.lastError}>
                  <td>{a.id}</td>
                  <td>{a.state}</td>
                  <td>{a.restarts}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
      <QueryBoundary what="teams">
        <UnlinkedTeams node={node} />
      </QueryBoundary>
      <QueryBoundary what="Claude Code sessions">
        <ClaudeSessions nodeId={node._id} laptop={node.name} />
      </QueryBoundary>
      {canRevoke && !node.revoked && <RevokeButton node={node} />}
    </article>
  );
}

function NodeCards() {
  const nodes = useQuery(api.nodes.listNodes);
  const owner = useMe()?.role === "owner";
  if (nodes === undefined) {
    return (
      <div className={s.grid} aria-busy="true" aria-label="Loading laptops">
        {[0, 1, 2].map((i) => (
          <div key={i} className={s.card}>
            <Skeleton width="50%" height={20} />
            <Skeleton height={120} />
          </div>
        ))}
      </div>
    );
  }
  if (nodes.length === 0) {
    return (
      <Panel>
        <EmptyState title="No laptops yet.">
          <p>
            On each laptop, run <code>tina daemon enroll</code> with an enrollment code from the owner, then{" "}
            <code>tina daemon install</code>. It appears here with its first heartbeat.
          </p>
        </EmptyState>
      </Panel>
    );
  }
  return (
    <div className={s.grid}>
      {orderNodes(nodes).map((n) => (
        <NodeCard key={n._id} node={n} canRevoke={owner} canSetMessaging={owner} />
      ))}
    </div>
  );
}

/** Owner only: a one-time enrollment code for a new laptop (15 minutes, single use). */
function AddLaptop() {
  const create = useMutation(api.nodes.createEnrollmentCode);
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [code, setCode] = useState<{ code: string; expiresAt: number; nodeName?: string } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setProblem(null);
    try {
      setCode(await create({ ...(name.trim() ? { nodeName: name.trim() } : {}), client: CLIENT }));
    } catch (error) {
      setProblem(describeError(error).message);
    }
  };
  const close = () => {
    setOpen(false);
    setCode(null);
    setName("");
    setProblem(null);
  };
  return (
    <>
      <Button small kind="primary" onClick={() => setOpen(true)}>
        Add a laptop
      </Button>
      {open && (
        <Dialog title="Add a laptop" onClose={close}>
          {code === null ? (
            <form onSubmit={submit} style={{ display: "flex", flexDirection: "column", gap: 12 }}>
              <p>
                Creates a one-time enrollment code, valid for 15 minutes. Without a name it only adds a new laptop; give a laptop's name to bind
                the code to it (needed to re-key an existing laptop or bring back a revoked one).
              </p>
              <label className={ui.field}>
                Laptop name (optional)
                <input className={ui.input} value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />
              </label>
              {problem && <p role="alert">{problem}</p>}
              <div className={ui.dialogButtons}>
                <Button onClick={close}>Cancel</Button>
                <Button type="submit" kind="primary">
                  Create code
                </Button>
              </div>
            </form>
          ) : (
            <>
              <p>
                On the laptop, run <code>tina daemon enroll</code> and paste this code when asked. It works once, until{" "}
                <Time at={code.expiresAt} />
                {code.nodeName ? `, only for ${code.nodeName}` : ""}.
              </p>
              <code data-testid="enrollment-code" style={{ fontSize: "1.3rem", letterSpacing: "0.08em", userSelect: "all", overflowWrap: "anywhere" }}>
                {code.code}
              </code>
              <div className={ui.dialogButtons}>
                <Button kind="primary" onClick={close}>
                  Done
                </Button>
              </div>
            </>
          )}
        </Dialog>
      )}
    </>
  );
}

export function FleetView() {
  const owner = useMe()?.role === "owner";
  return (
    <>
      <div className={s.title} style={{ display: "flex", justifyContent: "space-between", alignItems: "center", gap: 8 }}>
        <h1>Fleet</h1>
        {owner && <AddLaptop />}
      </div>
      <QueryBoundary what="laptops">
        <NodeCards />
      </QueryBoundary>
      <div className={s.usage}>
        <QueryBoundary what="the quota">
          <FleetQuota />
        </QueryBoundary>
        <QueryBoundary what="the spend">
          <FleetSpend />
        </QueryBoundary>
      </div>
    </>
  );
}

/** The fleet in a few lines, for the desktop sidebar. */
export function FleetSummary() {
  const nodes = useQuery(api.nodes.listNodes);
  return (
    <Panel title="Laptops" actions={<a href="#/fleet">All</a>} flush minHeight={120}>
      {nodes === undefined ? (
        <div style={{ padding: 16 }}>
          <Skeleton height={60} />
        </div>
      ) : nodes.length === 0 ? (
        <EmptyState title="No laptops yet." />
      ) : (
        <ul className={o.compactList}>
          {orderNodes(nodes)
            .slice(0, 8)
            .map((n) => (
              <li key={n._id}>
                <span>{n.name}</span>
                <span>
                  <PresenceBadge node={n} />
                </span>
              </li>
            ))}
        </ul>
      )}
    </Panel>
  );
}
