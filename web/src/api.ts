// The one import of the generated Convex API, and the types the views derive from it.
// The dashboard talks to Convex only through these functions (no REST layer).
import type { FunctionArgs, FunctionReturnType } from "convex/server";
import type { Doc, Id } from "../../convex/_generated/dataModel";
import { api } from "../../convex/_generated/api";
import type { Infer } from "convex/values";
import type { planSummary } from "../../convex/model/validators";

export { api };
export type { Doc, Id };

export type PhaseStatus = Doc<"phases">["status"];
export type OrchestrationStatus = Doc<"orchestrations">["status"];
export type ActionStatus = Doc<"inboundActions">["status"];
export type ActionType = Doc<"inboundActions">["type"];
export type ActionDoc = Doc<"inboundActions">;
export type PhaseDoc = Doc<"phases">;
export type TaskDoc = Doc<"tasks">;
export type MemberDoc = Doc<"teamMembers">;
export type TeamDoc = Doc<"teams">;
export type EventDoc = Doc<"orchestrationEvents">;

export type NodeView = FunctionReturnType<typeof api.nodes.listNodes>[number];
export type NodeHealth = NonNullable<NodeView["health"]>;
/** Who may message a laptop's agents: "owners", "operators" (owners and operators) or "nobody". */
export type MessagingRule = NodeView["messaging"];
export type OrchestrationList = FunctionReturnType<typeof api.orchestrations.listOrchestrations>;
export type OrchestrationSummary = OrchestrationList["active"][number];
export type OrchestrationDetail = NonNullable<FunctionReturnType<typeof api.orchestrations.getOrchestrationDetail>>;
export type TeamDetail = OrchestrationDetail["teams"][number];
/** A board task as orchestrations:teamTasks pages it: the row without description and metadata. */
export type BoardTaskRow = FunctionReturnType<typeof api.orchestrations.teamTasks>["page"][number];
/** A member as the detail page gets it: the table row plus its current `activity`. */
export type MemberDetail = TeamDetail["members"][number];
/** How the laptop can reach a member: its own tmux pane, inside the lead's process, the lead itself, or no known way. */
export type MemberReach = NonNullable<MemberDetail["reach"]>;
/** How a message reaches an agent: the phase lead's tmux session, the agent's own pane, or its inbox. */
export type MessageRoute = NonNullable<ActionDoc["payload"]["via"]>;
/** What an agent is doing, as the daemon derives it: working, idle, waiting (for permission), rate limited, shut down, gone. */
export type Liveness = NonNullable<MemberDetail["liveness"]>;
export type LivenessCounts = NonNullable<TeamDoc["liveness"]>;
/** An action as listActions gives it: for a delivered inbox message, whether the agent has read it. */
export type ListedAction = FunctionReturnType<typeof api.actions.listActions>[number];
/** A phase as the detail page gets it: the row plus what is known of its plan (no content). */
export type PhaseDetail = OrchestrationDetail["phases"][number] & { plan?: PlanSummary };
export type PlanSummary = Infer<typeof planSummary>;
export type DocumentKind = FunctionArgs<typeof api.documents.getDocument>["kind"];
/** A plan or design doc as last read on the laptop. */
export type DocumentView = NonNullable<FunctionReturnType<typeof api.documents.getDocument>>;
export type TeamMessageDoc = Doc<"teamMessages">;
export type InboxKind = TeamMessageDoc["kind"];
/** A permission prompt as the dashboard gets it: the row plus its laptop's name and feature. */
export type PromptRow = FunctionReturnType<typeof api.prompts.listOpen>["open"][number];
/** The "Needs you" inbox as this viewer sees it (their dismissals and snoozes included). */
export type NeedsYouData = FunctionReturnType<typeof api.needs.needsYou>;
export type NeedItem = NeedsYouData["items"][number];
/** A Claude Code session a laptop's hooks know of. */
export type ClaudeSessionRow = FunctionReturnType<typeof api.needs.sessions>[number];

// ---- notifications (issue 20; convex/notify.ts) --------------------------------------------
export const notifyApi = api.notify;
export type NotifyDevice = FunctionReturnType<typeof api.notify.devices>[number];
export type NotifySettings = FunctionReturnType<typeof api.notify.settings>;
export type NotifyChannel = FunctionArgs<typeof api.notify.sendTest>["channel"];
export type NotifyDelivery = FunctionReturnType<typeof api.notify.recentDeliveries>[number];
