// A laptop's Claude Code sessions, as its hooks tell them: who (agent, orchestration or folder),
// liveness in words, why, and when it last did something. A small section of the laptop's card.
import { useQuery } from "convex/react";
import { useState } from "react";
import { api, type ClaudeSessionRow, type Id } from "../api";
import { Badge, Button, Time, ui } from "../components/ui";
import { SESSION_LIVENESS_TONES, sessionLivenessText } from "../lib/needs";
import { orchestrationHref } from "../lib/routing";
import s from "./fleet.module.css";

/** How many sessions show before "Show all". */
const FIRST = 5;

/** What to call a session: its agent, else its orchestration, else the folder it runs in. */
export function sessionName(row: Pick<ClaudeSessionRow, "agentName" | "featureName" | "cwd" | "sessionId">): string {
  if (row.agentName !== undefined && row.agentName !== "") return row.featureName ? `${row.agentName} (${row.featureName})` : row.agentName;
  if (row.featureName !== undefined && row.featureName !== "") return row.featureName;
  if (row.cwd !== undefined && row.cwd !== "") return row.cwd.replace(/\/+$/, "").split("/").pop() || row.cwd;
  return `session ${row.sessionId.slice(0, 8)}`;
}

export function SessionList({ rows, laptop }: { rows: readonly ClaudeSessionRow[]; laptop: string }) {
  const [all, setAll] = useState(false);
  if (rows.length === 0) return null;
  const shown = all ? rows : rows.slice(0, FIRST);
  return (
    <section className={s.sessions} aria-label={`Claude Code sessions on ${laptop}`} data-testid="claude-sessions">
      <strong>
        {rows.length} Claude Code session{rows.length === 1 ? "" : "s"}
      </strong>
      <ul>
        {shown.map((r) => (
          <li key={r.sessionId} data-testid="claude-session" data-liveness={r.liveness ?? "unknown"}>
            <span className={s.sessionHead}>
              {r.orchestrationId !== undefined ? (
                <a href={orchestrationHref(r.orchestrationId as Id<"orchestrations">)}>{sessionName(r)}</a>
              ) : (
                <span title={r.cwd}>{sessionName(r)}</span>
              )}
              <Badge tone={r.liveness !== undefined ? SESSION_LIVENESS_TONES[r.liveness] : "neutral"}>{sessionLivenessText(r.liveness)}</Badge>
            </span>
            <span className={ui.secondary}>
              {r.reason !== undefined && r.reason !== "" && <>{r.reason} · </>}
              last heard <Time at={r.lastAt} />
            </span>
          </li>
        ))}
      </ul>
      {rows.length > FIRST && (
        <Button small kind="ghost" onClick={() => setAll((x) => !x)} aria-expanded={all}>
          {all ? "Show fewer" : `Show all ${rows.length}`}
        </Button>
      )}
    </section>
  );
}

/** The sessions of one laptop, subscribed while its card is shown. */
export function ClaudeSessions({ nodeId, laptop }: { nodeId: Id<"nodes">; laptop: string }) {
  const rows = useQuery(api.needs.sessions, { nodeId });
  if (rows === undefined) return null;
  return <SessionList rows={rows} laptop={laptop} />;
}
