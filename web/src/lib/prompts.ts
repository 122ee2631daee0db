// Permission prompts answered from the dashboard: what the tool wants to do, said readably,
// what "Allow always" would add, who may answer, and what became of an answer. Pure: the
// views render what these functions decide, and the tests pin every word.
import type { MessagingRule } from "../api";
import type { Availability, Role } from "./controls";
import type { Tone } from "./status";
import { formatDuration } from "./time";

export type PromptDecision = "allow_once" | "allow_always" | "deny";
export type PromptStatus = "open" | "answered" | "applied" | "too_late" | "expired";

/** The longest deny message the server takes. */
export const DENY_MESSAGE_MAX = 1000;

/** How far into a file's new content the preview goes. */
const PREVIEW_LINES = 8;
const PREVIEW_CHARS = 600;

/** What a tool call's input looks like on screen. Never HTML: every string is shown as text. */
export type InputView =
  | { kind: "command"; command: string; description?: string; note?: string }
  | { kind: "file"; path: string; summary: string; preview?: string; previewCut: boolean }
  | { kind: "json"; text: string };

function parse(json: string): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return undefined;
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function str(o: Record<string, unknown>, ...keys: string[]): string | undefined {
  for (const k of keys) {
    const v = o[k];
    if (typeof v === "string") return v;
  }
  return undefined;
}

/** The first lines of `text`, and whether anything was left out. */
export function preview(text: string, lines = PREVIEW_LINES, chars = PREVIEW_CHARS): { text: string; cut: boolean } {
  let out = text.split("\n").slice(0, lines).join("\n");
  if (out.length > chars) out = out.slice(0, chars);
  const cut = out.length < text.length;
  return { text: cut ? out.replace(/\s+$/, "") : out, cut };
}

function countLines(text: string): number {
  if (text === "") return 0;
  return text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * The input of a tool call as the operator should read it: Bash's command; the file an
 * Edit, MultiEdit, Write or NotebookEdit touches, with the start of what it writes; for
 * anything else the input as indented JSON. Input that is not JSON (cut short) is shown as is.
 */
export function describeInput(toolName: string, toolInput: string): InputView {
  const input = parse(toolInput);
  if (!isObject(input)) {
    return { kind: "json", text: input === undefined ? toolInput : JSON.stringify(input, null, 2) };
  }
  switch (toolName) {
    case "Bash": {
      const command = str(input, "command");
      if (command === undefined) break;
      const description = str(input, "description");
      const notes: string[] = [];
      if (input.run_in_background === true) notes.push("runs in the background");
      if (typeof input.timeout === "number") notes.push(`timeout ${formatDuration(input.timeout)}`);
      return { kind: "command", command, ...(description ? { description } : {}), ...(notes.length ? { note: notes.join(", ") } : {}) };
    }
    case "Write": {
      const path = str(input, "file_path");
      if (path === undefined) break;
      const content = str(input, "content") ?? "";
      const p = preview(content);
      return { kind: "file", path, summary: `writes ${plural(countLines(content), "line")}`, preview: p.text, previewCut: p.cut };
    }
    case "Edit": {
      const path = str(input, "file_path");
      if (path === undefined) break;
      const next = str(input, "new_string") ?? "";
      const p = preview(next);
      const summary = input.replace_all === true ? "replaces every occurrence of a passage" : "replaces a passage";
      return { kind: "file", path, summary, preview: p.text, previewCut: p.cut };
    }
    case "MultiEdit": {
      const path = str(input, "file_path");
      if (path === undefined) break;
      const edits = Array.isArray(input.edits) ? input.edits.filter(isObject) : [];
      const first = edits[0] ? (str(edits[0], "new_string") ?? "") : "";
      const p = preview(first);
      const summary = `makes ${plural(edits.length, "edit")}${edits.length > 1 ? " (the first shown)" : ""}`;
      return { kind: "file", path, summary, preview: p.text, previewCut: p.cut || edits.length > 1 };
    }
    case "NotebookEdit": {
      const path = str(input, "notebook_path");
      if (path === undefined) break;
      const source = str(input, "new_source") ?? "";
      const mode = str(input, "edit_mode") ?? "replace";
      const p = preview(source);
      return { kind: "file", path, summary: `${mode}s a cell`, preview: p.text, previewCut: p.cut };
    }
  }
  return { kind: "json", text: JSON.stringify(input, null, 2) };
}

// ---------------------------------------------------------------------------------------
// "Allow always": the permission_suggestions Claude Code offered (the daemon hands them back
// as updatedPermissions), said in one line.

const DESTINATIONS: Record<string, string> = {
  session: "for this session only",
  localSettings: "in the project's local settings",
  projectSettings: "in the project's shared settings",
  userSettings: "in your user settings (every project)",
  cliArg: "for this session only",
};

const MODES: Record<string, string> = {
  default: "default (ask as usual)",
  acceptEdits: "acceptEdits (file edits go through without asking)",
  plan: "plan (read only)",
  bypassPermissions: "bypassPermissions (nothing is asked)",
  dontAsk: "dontAsk (what is not allowed is refused)",
  auto: "auto",
};

function rule(r: unknown): string | undefined {
  if (!isObject(r)) return undefined;
  const tool = str(r, "toolName");
  if (tool === undefined) return undefined;
  const content = str(r, "ruleContent");
  return content ? `${tool}(${content})` : tool;
}

function oneSuggestion(s: unknown): string | undefined {
  if (!isObject(s)) return undefined;
  const where = DESTINATIONS[str(s, "destination") ?? ""] ?? "";
  const tail = where ? ` ${where}` : "";
  const type = str(s, "type");
  switch (type) {
    case "addRules":
    case "replaceRules":
    case "removeRules": {
      const rules = (Array.isArray(s.rules) ? s.rules : []).map(rule).filter((x): x is string => x !== undefined);
      if (rules.length === 0) return undefined;
      const behavior = str(s, "behavior") ?? "allow";
      const verb = type === "addRules" ? "adds" : type === "replaceRules" ? "sets" : "removes";
      return `${verb} the ${behavior} ${rules.length === 1 ? "rule" : "rules"} ${rules.join(", ")}${tail}`;
    }
    case "setMode": {
      const mode = str(s, "mode");
      if (mode === undefined) return undefined;
      return `switches the permission mode to ${MODES[mode] ?? mode}${tail}`;
    }
    case "addDirectories":
    case "removeDirectories": {
      const dirs = (Array.isArray(s.directories) ? s.directories : []).filter((d): d is string => typeof d === "string");
      if (dirs.length === 0) return undefined;
      return `${type === "addDirectories" ? "adds" : "removes"} the working ${dirs.length === 1 ? "directory" : "directories"} ${dirs.join(", ")}${tail}`;
    }
  }
  return undefined;
}

/**
 * What "Allow always" changes on the laptop, in one sentence ("Also adds the allow rule
 * Bash(npm test) in the project's local settings."), or null when the prompt offers nothing
 * to remember (no suggestions, none readable): then only "Allow once" is offered.
 */
export function describeSuggestions(suggestions: string | undefined): string | null {
  if (suggestions === undefined || suggestions === "") return null;
  const parsed = parse(suggestions);
  if (!Array.isArray(parsed) || parsed.length === 0) return null;
  const parts = parsed.map(oneSuggestion);
  const known = parts.filter((x): x is string => x !== undefined);
  if (known.length === 0) return "Also applies the laptop's suggested permission change.";
  const more = parts.length - known.length;
  const text = known.join("; ") + (more > 0 ? `; and ${plural(more, "other change")}` : "");
  return `Also ${text}.`;
}

// ---------------------------------------------------------------------------------------
// Who may answer, and whether it is still worth answering.

/** Why this user may not answer prompts on the laptop (its messaging rule), or null. */
export function promptRuleReason(role: Role | undefined, rule: MessagingRule | undefined, laptop: string): string | null {
  if (rule === "nobody") return `answering prompts on ${laptop} is off (its messaging rule is "Nobody"); an owner can change it on the Fleet page`;
  if (rule === "owners" && role !== "owner") return `only owners may answer prompts on ${laptop} (its messaging rule); an owner can allow operators on the Fleet page`;
  return null;
}

/** Whether this user can answer the prompt now; the first reason that stops them otherwise. */
export function answerAvailability(
  prompt: { status: PromptStatus; expiresAt: number },
  ctx: { role: Role | undefined; rule: MessagingRule | undefined; laptop: string },
  now: number,
): Availability {
  if (ctx.role === undefined) return { enabled: false, reason: "checking your permissions…" };
  if (ctx.role === "viewer") return { enabled: false, reason: "viewers can see prompts but not answer them; ask an owner for the operator role" };
  const rule = promptRuleReason(ctx.role, ctx.rule, ctx.laptop);
  if (rule) return { enabled: false, reason: rule };
  if (prompt.status !== "open") return { enabled: false, reason: "this prompt is already answered" };
  if (now >= prompt.expiresAt) return { enabled: false, reason: `${ctx.laptop} stopped waiting; Claude Code asks at the keyboard` };
  return { enabled: true };
}

/** "18 s left", "1 min left", "time is up". */
export function timeLeft(expiresAt: number, now: number): string {
  const ms = expiresAt - now;
  if (ms <= 0) return "time is up";
  if (ms < 60_000) return `${Math.ceil(ms / 1000)} s left`;
  return `${formatDuration(ms)} left`;
}

/** Checks the optional deny message the way the server does. */
export function denyMessageProblem(text: string): string | null {
  if (text.length > DENY_MESSAGE_MAX) return `at most ${DENY_MESSAGE_MAX} characters (${text.length} now)`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(text)) return "remove control characters";
  return null;
}

export const DECISION_LABELS: Record<PromptDecision, string> = {
  allow_once: "Allow once",
  allow_always: "Allow always",
  deny: "Deny",
};

/** What became of a prompt once someone answered it (or nobody did). */
export function promptOutcome(status: PromptStatus, laptop: string): { label: string; tone: Tone } {
  switch (status) {
    case "open":
      return { label: "waiting for an answer", tone: "warning" };
    case "answered":
      return { label: "answered — waiting for the laptop", tone: "progress" };
    case "applied":
      return { label: `applied on ${laptop}`, tone: "success" };
    case "too_late":
      return { label: "too late: answered at the laptop", tone: "muted" };
    case "expired":
      return { label: "expired", tone: "muted" };
  }
}

/** The server's refusal, said for this prompt. */
export function refusalText(code: string | undefined, message: string): string {
  if (code === "conflict") return `Someone got there first: ${message}`;
  return `Not accepted: ${message}`;
}

/** A prompt as the dashboard shows it (what prompts:listOpen gives, with its laptop's name). */
export type PromptView = {
  promptId: string;
  nodeId: string;
  nodeName: string;
  toolName: string;
  toolInput: string;
  inputTruncated: boolean;
  description?: string;
  suggestions?: string;
  cwd?: string;
  agentName?: string;
  orchestrationId?: string;
  featureName?: string;
  status: PromptStatus;
  openedAt: number;
  expiresAt: number;
  decision?: PromptDecision;
  answeredByName?: string;
};
