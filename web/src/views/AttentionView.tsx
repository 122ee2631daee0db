// Everything that needs an operator, across all laptops: permission prompts waiting on a
// laptop, blocked phases, plans awaiting approval, failed / expired / interrupted actions,
// offline laptops.
import { useQuery } from "convex/react";
import type { ReactNode } from "react";
import { api, type Attention, type Id, type MessagingRule } from "../api";
import { Badge, EmptyState, Panel, QueryBoundary, Skeleton, Time } from "../components/ui";
import { orchestrationHref } from "../lib/routing";
import { actionStatusLabel, actionStatusTone, actionTypeLabel } from "../lib/status";
import { useMe } from "../session";
import { PermissionPromptsPanel } from "./PermissionPrompts";
import s from "./attention.module.css";
import o from "./orchestrations.module.css";

export function attentionTotal(a: Attention): number {
  return a.permissionPrompts.length + a.blocked.length + a.awaitingApproval.length + a.failedActions.length + a.offlineNodes.length;
}

function Section({ title, count, label, children, empty }: { title: string; count: number; label: string; children: ReactNode; empty: string }) {
  return (
    <Panel title={`${title} (${count})`} flush label={label}>
      {count === 0 ? <p className={s.none}>{empty}</p> : <ul className={s.items}>{children}</ul>}
    </Panel>
  );
}

function NodeName({ id, names }: { id: Id<"nodes">; names: Map<string, string> }) {
  return <>{names.get(id) ?? "a laptop"}</>;
}

export function AttentionSections({ data, nodeNames }: { data: Attention; nodeNames: Map<string, string> }) {
  if (attentionTotal(data) === 0) {
    return (
      <div className={s.allClear}>
        <Panel>
          <EmptyState title="Nothing needs you right now.">
            <p>Permission prompts, blocked phases, plans awaiting approval, failed actions and offline laptops show up here as they happen.</p>
          </EmptyState>
        </Panel>
      </div>
    );
  }
  return (
    <>
      <Section title="Plans awaiting approval" count={data.awaitingApproval.length} label="Plans awaiting approval" empty="No plan is waiting.">
        {data.awaitingApproval.map((x) => (
          <li key={x._id} className={s.item} data-testid="attention-approval">
            <div className={s.itemHead}>
              <a href={orchestrationHref(x._id)}>{x.featureName}</a>
              <Badge tone="warning">phase {x.attentionPhase ?? "?"}</Badge>
            </div>
            <span className={s.detail}>
              on {x.nodeName}
              {!x.nodeOnline && " (offline)"} · waiting since <Time at={x.updatedAt} />
            </span>
          </li>
        ))}
      </Section>
      <Section title="Blocked phases" count={data.blocked.length} label="Blocked phases" empty="Nothing is blocked.">
        {data.blocked.map((x) => (
          <li key={x._id} className={s.item} data-testid="attention-blocked">
            <div className={s.itemHead}>
              <a href={orchestrationHref(x._id)}>{x.featureName}</a>
              <Badge tone={x.status === "paused" ? "warning" : "danger"}>
                phase {x.attentionPhase ?? "?"} {x.status === "paused" ? "paused" : "blocked"}
              </Badge>
            </div>
            <span className={s.detail}>
              {x.attentionReason ?? "no reason recorded"} · on {x.nodeName} · <Time at={x.updatedAt} />
            </span>
          </li>
        ))}
      </Section>
      <Section title="Failed actions (24 h)" count={data.failedActions.length} label="Failed actions" empty="No action failed in the last day.">
        {data.failedActions.map((a) => (
          <li key={a._id} className={s.item} data-testid="attention-failed-action">
            <div className={s.itemHead}>
              {a.orchestrationId ? (
                <a href={orchestrationHref(a.orchestrationId)}>
                  {actionTypeLabel(a.type)}
                  {a.payload.feature ? ` · ${a.payload.feature}` : ""}
                  {a.payload.phase ? ` phase ${a.payload.phase}` : ""}
                </a>
              ) : (
                <strong>
                  {actionTypeLabel(a.type)}
                  {a.payload.agentName ? ` to ${a.payload.agentName}` : ""}
                </strong>
              )}
              <Badge tone={actionStatusTone(a.status)}>{actionStatusLabel(a.status)}</Badge>
            </div>
            <span className={s.detail}>
              {a.result?.message ?? "no result recorded"} · <NodeName id={a.nodeId} names={nodeNames} />
              {a.finishedAt !== undefined && (
                <>
                  {" "}
                  · <Time at={a.finishedAt} />
                </>
              )}
            </span>
          </li>
        ))}
      </Section>
      <Section title="Offline laptops" count={data.offlineNodes.length} label="Offline laptops" empty="Every laptop is online.">
        {data.offlineNodes.map((n) => (
          <li key={n._id} className={s.item} data-testid="attention-offline">
            <div className={s.itemHead}>
              <a href="#/fleet">{n.name}</a>
              <Badge tone="danger" dot>
                offline
              </Badge>
            </div>
            <span className={s.detail}>
              {n.lastHeartbeat > 0 ? (
                <>
                  last heartbeat <Time at={n.lastHeartbeat} />
                </>
              ) : (
                "never connected: enroll and start its daemon"
              )}
            </span>
          </li>
        ))}
      </Section>
    </>
  );
}

function useNodes(): { names: Map<string, string>; rules: Map<string, MessagingRule> } {
  const nodes = useQuery(api.nodes.listNodes) ?? [];
  return { names: new Map(nodes.map((n) => [n._id, n.name])), rules: new Map(nodes.map((n) => [n._id, n.messaging])) };
}

function AttentionContent() {
  const data = useQuery(api.attention.attention);
  const { names, rules } = useNodes();
  const me = useMe();
  if (data === undefined) {
    return (
      <>
        {[0, 1, 2, 3].map((i) => (
          <Panel key={i} title={<Skeleton width={180} height={18} />} minHeight={140}>
            <Skeleton height={40} />
          </Panel>
        ))}
      </>
    );
  }
  return (
    <>
      {/* Its own boundary: a failure there leaves the rest of the page. */}
      <QueryBoundary what="the permission prompts">
        <PermissionPromptsPanel role={me?.role} rules={rules} quietWhenEmpty={attentionTotal(data) === 0} />
      </QueryBoundary>
      <AttentionSections data={data} nodeNames={names} />
    </>
  );
}

export function AttentionView() {
  return (
    <>
      <h1 className={s.title}>Needs attention</h1>
      <div className={s.page}>
        <QueryBoundary what="what needs attention">
          <AttentionContent />
        </QueryBoundary>
      </div>
    </>
  );
}

/** The first few items, for the desktop sidebar. */
export function AttentionSummary() {
  const data = useQuery(api.attention.attention);
  const items: { key: string; href: string; label: string; badge: ReactNode }[] = [];
  if (data !== undefined) {
    for (const p of data.permissionPrompts) items.push({ key: `p${p._id}`, href: "#/attention", label: `${p.toolName} on ${p.nodeName}`, badge: <Badge tone="warning">permission</Badge> });
    for (const x of data.awaitingApproval) items.push({ key: `a${x._id}`, href: orchestrationHref(x._id), label: x.featureName, badge: <Badge tone="warning">approve plan</Badge> });
    for (const x of data.blocked) items.push({ key: `b${x._id}`, href: orchestrationHref(x._id), label: x.featureName, badge: <Badge tone={x.status === "paused" ? "warning" : "danger"}>{x.status === "paused" ? "paused" : "blocked"}</Badge> });
    for (const a of data.failedActions) items.push({ key: `f${a._id}`, href: a.orchestrationId ? orchestrationHref(a.orchestrationId) : "#/attention", label: `${actionTypeLabel(a.type)}${a.payload.feature ? ` · ${a.payload.feature}` : ""}`, badge: <Badge tone="danger">{actionStatusLabel(a.status)}</Badge> });
    for (const n of data.offlineNodes) items.push({ key: `n${n._id}`, href: "#/fleet", label: n.name, badge: <Badge tone="danger">offline</Badge> });
  }
  return (
    <Panel title="Needs attention" actions={<a href="#/attention">All</a>} flush minHeight={120}>
      {data === undefined ? (
        <div style={{ padding: 16 }}>
          <Skeleton height={60} />
        </div>
      ) : items.length === 0 ? (
        <EmptyState title="All clear." />
      ) : (
        <ul className={o.compactList}>
          {items.slice(0, 8).map((it) => (
            <li key={it.key}>
              <a href={it.href}>{it.label}</a>
              {it.badge}
            </li>
          ))}
        </ul>
      )}
    </Panel>
  );
}
