// What a team's agents said to each other, from their inboxes: oldest first, sender → recipient,
// the kind in words, when (relative; the exact time on a tap), read or not, the text as safe
// Markdown. Each team's part owns its subscription.
import { useQuery } from "convex/react";
import { useState } from "react";
import { api, type TeamDetail, type TeamMessageDoc } from "../../api";
import { Markdown } from "../../components/Markdown";
import { Badge, Button, EmptyState, Panel, QueryBoundary, Skeleton, Time, cx, ui } from "../../components/ui";
import { describeInbox } from "../../lib/conversation";
import { comparePhaseNumbers } from "../../lib/phases";
import s from "../detail.module.css";

/** How many messages a page adds, and the most the server returns. */
export const PAGE = 50;
export const MOST = 200;

function Message({ m }: { m: TeamMessageDoc }) {
  const view = describeInbox(m);
  return (
    <li className={cx(s.rowItem, s.message)} data-testid="team-message" data-kind={m.kind} data-read={m.read ? "true" : "false"}>
      <div className={s.messageHead}>
        <span>
          <strong>{m.sender}</strong>
          <span title="to"> → </span>
          <strong>{m.recipient}</strong>
        </span>
        <span className={s.messageMeta}>
          {m.kind !== "text" && <Badge tone={m.kind === "unknown" ? "neutral" : "info"}>{view.label}</Badge>}
          {m.timestamp > 0 ? <Time at={m.timestamp} testId="message-time" /> : <span className={ui.secondary}>no time</span>}
          <Badge tone={m.read ? "muted" : "warning"}>
            <span data-testid="message-read">{m.read ? "read" : "unread"}</span>
          </Badge>
        </span>
      </div>
      {view.line && <span data-testid="message-line">{view.line}</span>}
      {view.markdown !== undefined && <Markdown text={view.markdown} compact headingOffset={3} />}
      {m.kind === "unknown" && view.raw && <pre className={s.raw}>{view.raw}</pre>}
      {m.kind !== "text" && m.kind !== "unknown" && view.raw && (
        <details className={s.rawDetails}>
          <summary>Show the message as sent</summary>
          <pre className={s.raw}>{view.raw}</pre>
        </details>
      )}
      {m.truncated && <span className={ui.secondary}>Cut: only its first 16 KB reached the dashboard.</span>}
    </li>
  );
}

function TeamConversation({ team }: { team: TeamDetail["team"] }) {
  const [limit, setLimit] = useState(PAGE);
  const data = useQuery(api.teams.conversation, { teamId: team._id, limit });
  // While a longer page loads, the shorter one stays on screen.
  const [kept, setKept] = useState(data);
  if (data !== undefined && data !== kept) setKept(data);
  const shown = data ?? kept;
  if (shown === undefined) {
    return (
      <div aria-busy="true" aria-label={`Loading the conversation of ${team.teamName}`} style={{ padding: 16 }}>
        <Skeleton height={40} />
        <Skeleton height={40} style={{ marginTop: 8 }} />
      </div>
    );
  }
  if (shown.messages.length === 0) return <EmptyState title="No messages between these agents yet." />;
  return (
    <>
      {shown.more && (
        <div className={s.more}>
          {limit < MOST ? (
            <Button small onClick={() => setLimit(Math.min(MOST, limit + PAGE))} disabled={data === undefined} data-testid="show-earlier">
              {data === undefined ? "Loading…" : "Show earlier"}
            </Button>
          ) : (
            <span className={ui.secondary}>Only the latest {MOST} messages are shown here.</span>
          )}
        </div>
      )}
      <ol className={s.rows} aria-label={`Messages in ${team.teamName}, oldest first`}>
        {shown.messages.map((m) => (
          <Message key={m._id} m={m} />
        ))}
      </ol>
    </>
  );
}

export function Conversations({ teams }: { teams: TeamDetail[] }) {
  const ordered = [...teams].sort((a, b) => comparePhaseNumbers(a.team.phaseNumber ?? "999", b.team.phaseNumber ?? "999"));
  return (
    <Panel title="Conversation" flush label="Team conversation">
      {teams.length === 0 ? (
        <EmptyState title="No agent team has joined yet." />
      ) : (
        ordered.map(({ team }) => (
          <section key={team._id} aria-label={`Conversation of ${team.teamName}`} data-testid="conversation" data-team={team.teamName}>
            <div className={s.teamTitle}>
              {team.phaseNumber ? `Phase ${team.phaseNumber} · ` : ""}
              {team.teamName}
              {team.removedAt !== undefined && " (ended)"}
            </div>
            <QueryBoundary what={`the conversation of ${team.teamName}`}>
              <TeamConversation team={team} />
            </QueryBoundary>
          </section>
        ))
      )}
    </Panel>
  );
}
