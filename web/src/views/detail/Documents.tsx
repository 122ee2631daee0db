// A phase's plan and the orchestration's design doc, readable on the phone: when it was written,
// its size and revision, whether only its start reached the dashboard, and its Markdown, safely.
import { useQuery } from "convex/react";
import { useId, useState } from "react";
import { api, type DocumentKind, type DocumentView, type Id, type PlanSummary } from "../../api";
import { Markdown } from "../../components/Markdown";
import { Button, Panel, QueryBoundary, Skeleton, Time, ui } from "../../components/ui";
import { formatBytes, revision } from "../../lib/documents";
import s from "../detail.module.css";

const NAME: Record<DocumentKind, string> = { plan: "plan", design: "design doc" };

/** "plan written 12 min ago · 14.2 KB · revision 0123456789ab". */
export function DocumentFacts({ doc, kind }: { doc: Pick<DocumentView, "modifiedAt" | "syncedAt" | "size" | "hash">; kind: DocumentKind }) {
  const rev = revision(doc.hash);
  return (
    <span className={ui.secondary} data-testid="document-facts">
      {NAME[kind]} {doc.modifiedAt !== undefined ? "written" : "read"} <Time at={doc.modifiedAt ?? doc.syncedAt} /> · {formatBytes(doc.size)}
      {rev !== undefined && (
        <>
          {" "}
          · revision <code data-testid="document-revision">{rev}</code>
        </>
      )}
    </span>
  );
}

/** What the dashboard has of a document: loading, not there yet, gone from the laptop, or its text. */
export function DocumentBody({ doc, kind, label }: { doc: DocumentView | null | undefined; kind: DocumentKind; label: string }) {
  if (doc === undefined) {
    return (
      <div aria-busy="true" aria-label={`Loading the ${NAME[kind]}`}>
        <Skeleton height={16} width="60%" />
        <Skeleton height={120} style={{ marginTop: 8 }} />
      </div>
    );
  }
  if (doc === null) {
    return (
      <p className={ui.secondary} role="status" data-testid="document-absent">
        The {NAME[kind]} has not reached the dashboard yet.
      </p>
    );
  }
  if (doc.missing) {
    return (
      <p className={ui.secondary} role="status" data-testid="document-missing">
        The {NAME[kind]} file is gone from the laptop (<code>{doc.path}</code>).
      </p>
    );
  }
  return (
    <div className={s.document} data-testid="document">
      <DocumentFacts doc={doc} kind={kind} />
      {doc.truncated && (
        <p className={s.truncated} role="note" data-testid="document-truncated">
          Truncated: only the first {formatBytes(new TextEncoder().encode(doc.content).length)} of {formatBytes(doc.size)} reached the dashboard. Read the rest
          on the laptop in <code>{doc.path}</code>.
        </p>
      )}
      {/* Focusable, so the text scrolls from the keyboard too. */}
      <div className={s.documentText} tabIndex={0} role="region" aria-label={label}>
        {doc.content.trim() === "" ? <p className={ui.secondary}>(empty)</p> : <Markdown text={doc.content} />}
      </div>
    </div>
  );
}

/** A phase's plan, loaded while it is shown. */
export function PhasePlan({ orchestrationId, phase }: { orchestrationId: Id<"orchestrations">; phase: string }) {
  const doc = useQuery(api.documents.getDocument, { orchestrationId, kind: "plan", phase });
  return <DocumentBody doc={doc} kind="plan" label={`Plan of phase ${phase}`} />;
}

/** "Read the plan" under a phase that has one: the text loads only when opened. */
export function PlanToggle({ orchestrationId, phase, plan }: { orchestrationId: Id<"orchestrations">; phase: string; plan: PlanSummary | undefined }) {
  const [open, setOpen] = useState(false);
  const id = useId();
  const rev = revision(plan?.hash);
  return (
    <div className={s.planToggle}>
      <Button small kind="ghost" className={s.planButton} aria-expanded={open} aria-controls={id} onClick={() => setOpen(!open)} data-testid="plan-toggle">
        {/* One flex item, so the label and its facts wrap as text. */}
        <span>
          {open ? "Hide the plan" : "Read the plan"}
          {!open && plan !== undefined && !plan.missing && (
            <span className={ui.secondary}>
              {" "}
              ({formatBytes(plan.size)}
              {rev ? ` · ${rev}` : ""})
            </span>
          )}
        </span>
      </Button>
      {plan?.missing && !open && <span className={ui.secondary}> the file is gone from the laptop</span>}
      <div id={id}>
        {open && (
          <QueryBoundary what={`the plan of phase ${phase}`}>
            <PhasePlan orchestrationId={orchestrationId} phase={phase} />
          </QueryBoundary>
        )}
      </div>
    </div>
  );
}

/** The orchestration's design doc, on request. */
export function DesignDoc({ orchestrationId }: { orchestrationId: Id<"orchestrations"> }) {
  const [open, setOpen] = useState(false);
  const id = useId();
  const doc = useQuery(api.documents.getDocument, open ? { orchestrationId, kind: "design" } : "skip");
  return (
    <Panel
      title="Design"
      label="Design doc"
      actions={
        <Button small aria-expanded={open} aria-controls={id} onClick={() => setOpen(!open)} data-testid="design-toggle">
          {open ? "Hide" : "Read the design doc"}
        </Button>
      }
    >
      <div id={id}>
        {open ? (
          <DocumentBody doc={doc} kind="design" label="Design doc" />
        ) : (
          <p className={ui.secondary}>What this orchestration was asked to build, as the planners read it.</p>
        )}
      </div>
    </Panel>
  );
}
