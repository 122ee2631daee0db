// The "Needs you" page wired to its queries: every kind in words, one-tap answers where they
// exist (permission prompts, plans awaiting approval), read-only items answered at a lead's
// terminal, and each viewer's dismiss / snooze / restore, with snoozes ending on the client clock.
import { act, fireEvent, render, screen, within } from "@testing-library/react";
import axe from "axe-core";
import { getFunctionName } from "convex/server";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import type { DocumentView, Id, NeedItem, PromptRow } from "../api";
import { NowProvider } from "../hooks/useNow";
import type { Role } from "../lib/controls";
import { MeProvider } from "../session";
import { NeedsYouView } from "./NeedsYou";
import { Shell } from "./Shell";

const T0 = new Date(2026, 11, 3, 10, 0, 0).getTime();
const MIN = 60_000;
const HASH_A = "a".repeat(12) + "0".repeat(52);

const served: Record<string, unknown> = {};
const calls: { name: string; args: unknown }[] = [];
const results: Record<string, unknown> = {};
vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useQuery: (fn: Parameters<typeof getFunctionName>[0], args?: unknown) => (args === "skip" ? undefined : served[getFunctionName(fn)]),
  useMutation: (fn: Parameters<typeof getFunctionName>[0]) => {
    const name = getFunctionName(fn);
    const call = (args: unknown) => {
      calls.push({ name, args });
      return Promise.resolve(results[name] ?? null);
    };
    call.withOptimisticUpdate = () => call;
    return call;
  },
  useConvexConnectionState: () => ({ isWebSocketConnected: true, hasEverConnected: true }),
}));

function item(over: Partial<NeedItem> & Pick<NeedItem, "key" | "kind" | "title">): NeedItem {
  return { since: T0 - 5 * MIN, nodeId: "n1" as Id<"nodes">, nodeName: "alpha", nodeOnline: true, dismissed: false, ...over };
}

const ORCH = "o1" as Id<"orchestrations">;

const prompt: PromptRow = {
  _id: "p1" as Id<"prompts">,
  _creationTime: 0,
  nodeId: "n1" as Id<"nodes">,
  nodeName: "alpha",
  promptId: "a".repeat(32),
  sessionId: "s1",
  toolName: "Bash",
  toolInput: JSON.stringify({ command: "make deploy" }),
  inputTruncated: false,
  status: "open",
  openedAt: T0 - 2_000,
  expiresAt: T0 + 18_000,
};

const ITEMS: NeedItem[] = [
  item({ key: "offline:n2", kind: "offline_laptop", title: "bravo is offline", nodeId: "n2" as Id<"nodes">, nodeName: "bravo", nodeOnline: false, detail: "last heartbeat 5 min ago" }),
  item({ key: "prompt:p1", kind: "permission_prompt", title: "Bash on alpha", prompt, since: T0 - 2_000 }),
  item({
    key: "laptop:n1:perm:t:r1",
    kind: "teammate_permission",
    title: "executor-1 asks to use Bash",
    agentName: "executor-1",
    toolName: "Bash",
    toolInput: JSON.stringify({ command: "rm -rf build/", description: "clean" }),
    detail: "Clean the build before packaging",
    orchestrationId: ORCH,
    featureName: "checkout-flow",
    phaseNumber: "2",
  }),
  item({
    key: "laptop:n1:plan:t:r2",
    kind: "agent_plan_approval",
    title: "executor-2 asks to have its plan approved",
    agentName: "executor-2",
    planContent: "# The plan\n\n<img src=x onerror=alert(1)> **bold step**",
  }),
  item({ key: `approval:${ORCH}:2`, kind: "plan_approval", title: "checkout-flow: phase 2 plan awaits approval", orchestrationId: ORCH, featureName: "checkout-flow", phaseNumber: "2" }),
  item({ key: "laptop:n1:stop:s9", kind: "stop_failure", title: "a session stopped", errorKind: "rate_limit", retryHint: "resets 3pm (Europe/London)", detail: "429 Too Many Requests" }),
  item({ key: "laptop:n1:stall:t:tester", kind: "stalled", title: "tester has been quiet for 14 min", cause: "long_tool", detail: "Bash running for 14 min" }),
  item({ key: "laptop:n1:idle:t:reviewer", kind: "idle_with_tasks", title: "reviewer is idle", agentName: "reviewer", openTasks: 3 }),
  item({ key: `blocked:${ORCH}:1`, kind: "blocked_phase", title: "search-index phase 1 is blocked", detail: "tests failed twice", orchestrationId: ORCH }),
  item({
    key: "action:a1",
    kind: "failed_action",
    title: "Message to tester failed",
    actionType: "send_message",
    actionStatus: "expired",
    actionError: "the laptop did not pick this action up before it expired",
  }),
];

function plan(over: Partial<DocumentView> = {}): DocumentView {
  return { path: "/w/docs/plans/phase-2.md", content: "# Phase 2\n\n1. Add the <script>alert(1)</script> endpoint", hash: HASH_A, size: 100, truncated: false, syncedAt: T0 - MIN, missing: false, ...over };
}

function show(items: NeedItem[] = ITEMS, role: Role = "owner", linked?: string) {
  served["needs:needsYou"] = { items, count: items.length };
  return render(
    <NowProvider>
      <MeProvider value={{ name: "Ann", role }}>
        <main>
          <NeedsYouView item={linked} />
        </main>
      </MeProvider>
    </NowProvider>,
  );
}

const card = (kind: string) => screen.getAllByTestId("need").find((el) => el.getAttribute("data-kind") === kind)!;

async function violations(): Promise<string[]> {
  const out = await axe.run(document.body, { rules: { "color-contrast": { enabled: false } } });
  return out.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date", "setInterval", "clearInterval", "setTimeout", "clearTimeout"] });
  vi.setSystemTime(T0);
  for (const k of Object.keys(served)) delete served[k];
  for (const k of Object.keys(results)) delete results[k];
  calls.length = 0;
  served["nodes:listNodes"] = [{ _id: "n1", name: "alpha", messaging: "owners" }];
});

afterEach(() => {
  vi.useRealTimers();
});

describe("the Needs you page", () => {
  test("every item: its kind in words, title, laptop (offline said), orchestration, age, link; in reading order", () => {
    show();
    expect(screen.getByRole("heading", { level: 1 })).toHaveTextContent("Needs you");
    const kinds = screen.getAllByTestId("need").map((el) => el.getAttribute("data-kind"));
    expect(kinds).toEqual([
      "permission_prompt",
      "teammate_permission",
      "plan_approval",
      "agent_plan_approval",
      "stop_failure",
      "stalled",
      "blocked_phase",
      "idle_with_tasks",
      "failed_action",
      "offline_laptop",
    ]);
    const offline = card("offline_laptop");
    expect(offline).toHaveTextContent("laptop offline");
    expect(offline).toHaveTextContent("bravo is offline");
    expect(within(offline).getByTestId("need-laptop")).toHaveTextContent("bravo (offline)");
    expect(within(offline).getByTestId("need-link").getAttribute("href")).toBe("#/fleet");
    const teammate = card("teammate_permission");
    expect(teammate).toHaveTextContent("teammate asks permission");
    expect(within(teammate).getByRole("link", { name: "checkout-flow, phase 2" }).getAttribute("href")).toBe("#/o/o1");
    expect(within(teammate).getByTestId("need-link")).toHaveTextContent("Open the orchestration");
    expect(within(teammate).getByTestId("need-age")).toHaveTextContent("5 min ago");
    expect(screen.getByTestId("needs-count")).toHaveTextContent("10 items need you");
  });

  test("the exact time of an item is a tap away (phones have no hover)", () => {
    show([ITEMS[0]!]);
    const age = screen.getByTestId("need-age");
    expect(age.getAttribute("aria-expanded")).toBe("false");
    expect(screen.queryByTestId("need-exact")).toBeNull();
    fireEvent.click(age);
    expect(age.getAttribute("aria-expanded")).toBe("true");
    expect(screen.getByTestId("need-exact")).toHaveTextContent("3 Dec 2026, 09:55:00");
  });

  test("a permission prompt has the prompt's own controls; the laptop's rule decides who answers", () => {
    show([ITEMS[1]!], "owner");
    const p = card("permission_prompt");
    expect(p).toHaveTextContent("permission prompt");
    expect(within(p).getByTestId("prompt-command")).toHaveTextContent("make deploy");
    expect(within(p).getByTestId("prompt-allow_once")).toBeTruthy();
    expect(within(p).getByTestId("prompt-deny")).toBeTruthy();
  });

  test("an operator on an owners-only laptop is told why not", () => {
    show([ITEMS[1]!], "operator");
    expect(screen.getByTestId("prompt-why")).toHaveTextContent("only owners may answer prompts on alpha");
    expect(screen.queryByTestId("prompt-allow_once")).toBeNull();
  });

  test("a prompt answered here stays in sight with what became of it, after it leaves the list", async () => {
    results["prompts:answer"] = null;
    const view = show([ITEMS[1]!], "owner");
    fireEvent.click(screen.getByTestId("prompt-allow_once"));
    await act(async () => screen.getByTestId("prompt-confirm").click());
    expect(calls.find((c) => c.name === "prompts:answer")?.args).toMatchObject({ promptId: prompt.promptId, decision: "allow_once" });
    served["needs:needsYou"] = { items: [], count: 0 };
    served["prompts:listOpen"] = { open: [], recent: [{ ...prompt, status: "applied", decision: "allow_once" }] };
    view.rerender(
      <NowProvider>
        <MeProvider value={{ name: "Ann", role: "owner" }}>
          <main>
            <NeedsYouView />
          </main>
        </MeProvider>
      </NowProvider>,
    );
    const kept = screen.getByTestId("prompt");
    expect(kept.getAttribute("data-status")).toBe("applied");
    expect(kept).toHaveTextContent("applied on alpha");
  });

  test("a plan awaiting approval: read it on expand, approve the revision read", async () => {
    served["documents:getDocument"] = plan();
    results["actions:submitAction"] = { actionId: "a9", deduplicated: false };
    show([ITEMS[4]!], "operator");
    const c = card("plan_approval");
    expect(c).toHaveTextContent("plan to approve");
    expect(screen.queryByTestId("document")).toBeNull();
    const toggle = within(c).getByTestId("need-plan-toggle");
    expect(toggle.getAttribute("aria-expanded")).toBe("false");
    fireEvent.click(toggle);
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    // Markdown, safely: the HTML is text.
    expect(screen.getByTestId("document")).toHaveTextContent("<script>alert(1)</script>");
    expect(document.querySelector("script")).toBeNull();
    fireEvent.click(screen.getByTestId("need-approve"));
    expect(screen.getByTestId("confirm-revision")).toHaveTextContent("You read revision aaaaaaaaaaaa");
    await act(async () => screen.getByTestId("confirm").click());
    const sent = calls.find((x) => x.name === "actions:submitAction")!.args as { action: unknown };
    expect(sent.action).toEqual({ type: "approve_plan", orchestrationId: ORCH, phase: "2", planHash: HASH_A });
  });

  test("a viewer reads the plan but cannot approve it, and is told why", () => {
    served["documents:getDocument"] = plan();
    show([ITEMS[4]!], "viewer");
    fireEvent.click(screen.getByTestId("need-plan-toggle"));
    expect(screen.getByTestId("need-approve")).toBeDisabled();
    expect(screen.getByTestId("need-approve-why")).toHaveTextContent("viewers can look but not act");
  });

  test("teammates and agents' plans: waiting at the lead's terminal, shown but not answerable here", () => {
    show([ITEMS[2]!, ITEMS[3]!]);
    const t = card("teammate_permission");
    expect(within(t).getByTestId("need-at-lead")).toHaveTextContent("waiting at the lead's terminal on alpha");
    expect(within(t).getByTestId("need-tool")).toHaveTextContent("Bash");
    expect(within(t).getByTestId("prompt-command")).toHaveTextContent("rm -rf build/");
    expect(t).toHaveTextContent("Clean the build before packaging");
    expect(within(t).queryByTestId("prompt-allow_once")).toBeNull();
    expect(within(t).queryByRole("button", { name: /allow|deny|approve/i })).toBeNull();

    const a = card("agent_plan_approval");
    expect(within(a).getByTestId("need-at-lead")).toHaveTextContent("waiting at the lead's terminal on alpha");
    fireEvent.click(within(a).getByTestId("need-plan-toggle"));
    const planText = within(a).getByTestId("need-plan");
    expect(planText.querySelector("strong")).toHaveTextContent("bold step");
    expect(planText.querySelector("img")).toBeNull();
    expect(within(a).queryByRole("button", { name: /approve/i })).toBeNull();
  });

  test("other tool input is indented JSON, as text", () => {
    show([item({ key: "k", kind: "teammate_permission", title: "x asks to use WebFetch", toolName: "WebFetch", toolInput: '{"url":"https://e.x","prompt":"<b>hi</b>"}' })]);
    const json = screen.getByTestId("prompt-json");
    expect(json.textContent).toBe('{\n  "url": "https://e.x",\n  "prompt": "<b>hi</b>"\n}');
    expect(json.querySelector("b")).toBeNull();
  });

  test("stop failures with the retry hint, stalls with their cause, idle agents with their tasks, failed actions", () => {
    show();
    expect(within(card("stop_failure")).getByTestId("need-summary")).toHaveTextContent("stopped: rate limited · resets 3pm (Europe/London)");
    expect(card("stop_failure")).toHaveTextContent("429 Too Many Requests");
    expect(within(card("stalled")).getByTestId("need-summary")).toHaveTextContent("likely cause: a tool has been running for a long time");
    expect(within(card("idle_with_tasks")).getByTestId("need-summary")).toHaveTextContent("reviewer is idle with 3 open tasks");
    expect(within(card("blocked_phase")).getByTestId("need-summary")).toHaveTextContent("tests failed twice");
    const failed = card("failed_action");
    expect(failed).toHaveTextContent("the laptop did not pick this action up");
    expect(failed).toHaveTextContent("Message expired");
  });

  test("an orchestration over budget: its words, what it spent, the way to its page where the budget is changed (issue 22)", async () => {
    const over = item({
      key: `budget:${ORCH}`,
      kind: "budget",
      title: "checkout-flow reached its budget of $25.00",
      detail: "$25.40 spent when it did. Raise or clear the budget on its page, or dismiss this.",
      orchestrationId: ORCH,
      featureName: "checkout-flow",
    });
    show([over]);
    const c = card("budget");
    expect(c).toHaveTextContent("over budget");
    expect(c).toHaveTextContent("checkout-flow reached its budget of $25.00");
    expect(within(c).getByTestId("need-summary")).toHaveTextContent("$25.40 spent when it did.");
    expect(within(c).getByTestId("need-link").getAttribute("href")).toBe("#/o/o1");
    expect(screen.getByRole("heading", { name: "Over budget (1)" })).toBeTruthy();
    vi.useRealTimers();
    expect(await violations()).toEqual([]);
  });

  test("all clear", () => {
    show([]);
    expect(screen.getByText("Nothing needs you right now.")).toBeTruthy();
    expect(screen.queryByTestId("needs-show-dismissed")).toBeNull();
  });
});

describe("dismiss, snooze, restore", () => {
  test("dismiss names the item and its since; snoozes: an hour, or tomorrow at 8:00 local", () => {
    const it = ITEMS[6]!;
    show([it]);
    fireEvent.click(screen.getByTestId("need-dismiss"));
    fireEvent.click(screen.getByTestId("need-snooze-hour"));
    fireEvent.click(screen.getByTestId("need-snooze-tomorrow"));
    expect(calls.filter((c) => c.name === "needs:dismiss").map((c) => c.args)).toEqual([
      { key: it.key, since: it.since },
      { key: it.key, since: it.since, until: T0 + 60 * MIN },
      { key: it.key, since: it.since, until: new Date(2026, 11, 4, 8, 0, 0).getTime() },
    ]);
    expect(screen.getByRole("group", { name: `Triage: ${it.title}` })).toBeTruthy();
  });

  test("dismissed and snoozed items hide; Show dismissed shows them with Restore", () => {
    show([
      ITEMS[6]!,
      { ...ITEMS[7]!, dismissed: true },
      { ...ITEMS[8]!, snoozedUntil: T0 + 30 * MIN },
    ]);
    expect(screen.getAllByTestId("need").map((el) => el.getAttribute("data-kind"))).toEqual(["stalled"]);
    expect(screen.getByTestId("needs-count")).toHaveTextContent("1 item needs you; 2 dismissed or snoozed");
    const toggle = screen.getByTestId("needs-show-dismissed");
    expect(toggle.getAttribute("aria-pressed")).toBe("false");
    fireEvent.click(toggle);
    expect(toggle.getAttribute("aria-pressed")).toBe("true");
    const idle = card("idle_with_tasks");
    expect(idle.getAttribute("data-state")).toBe("dismissed");
    expect(within(idle).getByTestId("need-triaged")).toHaveTextContent("dismissed");
    expect(within(card("blocked_phase")).getByTestId("need-triaged")).toHaveTextContent("snoozed until 10:30");
    fireEvent.click(within(idle).getByRole("button", { name: `Restore: ${ITEMS[7]!.title}` }));
    expect(calls.filter((c) => c.name === "needs:restore").map((c) => c.args)).toEqual([{ key: ITEMS[7]!.key }]);
  });

  test("a snoozed item comes back when its time comes, on the page and in the badge and title", () => {
    const snoozed = { ...ITEMS[6]!, snoozedUntil: T0 + 30 * MIN };
    served["needs:needsYou"] = { items: [ITEMS[7]!, snoozed], count: 1 };
    render(
      <MeProvider value={{ name: "Ann", role: "owner" }}>
        <Shell route={{ name: "attention" }} account={null}>
          <NeedsYouView />
        </Shell>
      </MeProvider>,
    );
    expect(screen.getAllByTestId("need")).toHaveLength(1);
    expect(screen.getAllByTestId("attention-count")[0]).toHaveTextContent("1");
    expect(document.title).toBe("(1) tina");
    act(() => vi.advanceTimersByTime(30 * MIN - 1));
    expect(screen.getAllByTestId("need")).toHaveLength(1);
    act(() => vi.advanceTimersByTime(1));
    expect(screen.getAllByTestId("need")).toHaveLength(2);
    expect(screen.getAllByTestId("attention-count")[0]).toHaveTextContent("2");
    expect(screen.getAllByTestId("attention-count")[0]!.getAttribute("aria-label")).toBe("2 need you");
    expect(document.title).toBe("(2) tina");
  });
});

describe("a link to one item", () => {
  const scrolled: Element[] = [];
  const original = Object.getOwnPropertyDescriptor(Element.prototype, "scrollIntoView");
  beforeEach(() => {
    scrolled.length = 0;
    Element.prototype.scrollIntoView = function (this: Element) {
      scrolled.push(this);
    };
  });
  afterEach(() => {
    if (original !== undefined) Object.defineProperty(Element.prototype, "scrollIntoView", original);
    else delete (Element.prototype as Partial<Element>).scrollIntoView;
  });

  test("every item offers its own link, beside the one to its orchestration or laptop", () => {
    show();
    for (const el of screen.getAllByTestId("need")) {
      const key = el.getAttribute("data-key")!;
      const own = within(el).getByRole("link", { name: "Link to this item" });
      expect(own.getAttribute("href")).toBe(`#/attention?item=${encodeURIComponent(key)}`);
      expect(own).toHaveTextContent("Link");
    }
    expect(within(card("teammate_permission")).getByTestId("need-link").getAttribute("href")).toBe("#/o/o1");
    expect(within(card("offline_laptop")).getByTestId("need-link").getAttribute("href")).toBe("#/fleet");
  });

  test("opening it: the item is scrolled to, marked (outline, label, aria-current) and focused", () => {
    const it = ITEMS[6]!;
    show(ITEMS, "owner", it.key);
    const c = card("stalled");
    expect(c.getAttribute("aria-current")).toBe("true");
    expect(within(c).getByTestId("need-linked")).toHaveTextContent("Linked item");
    expect(c.className).toMatch(/linked/);
    expect(document.activeElement).toBe(c);
    expect(scrolled).toEqual([c]);
    // Only that one is marked; the rest of the list is as it was, and nothing says it is gone.
    expect(screen.getAllByTestId("need")).toHaveLength(ITEMS.length);
    expect(document.querySelectorAll('[aria-current="true"]')).toHaveLength(1);
    expect(screen.queryByTestId("needs-linked-gone")).toBeNull();
    expect(screen.getByTestId("needs-count")).toHaveTextContent("10 items need you");
  });

  test("a dismissed or snoozed item is shown when linked, with its state said", () => {
    const dismissed = { ...ITEMS[7]!, dismissed: true };
    const snoozed = { ...ITEMS[8]!, snoozedUntil: T0 + 30 * MIN };
    const view = show([ITEMS[6]!, dismissed, snoozed], "owner", dismissed.key);
    expect(screen.getAllByTestId("need").map((el) => el.getAttribute("data-kind"))).toEqual(["stalled", "idle_with_tasks"]);
    const idle = card("idle_with_tasks");
    expect(idle.getAttribute("data-state")).toBe("dismissed");
    expect(idle.getAttribute("aria-current")).toBe("true");
    expect(within(idle).getByTestId("need-triaged")).toHaveTextContent("dismissed");
    expect(within(idle).getByTestId("need-linked-hidden")).toHaveTextContent("You dismissed this item; it is shown because you opened its link.");
    expect(within(idle).getByRole("button", { name: `Restore: ${dismissed.title}` })).toBeTruthy();
    expect(document.activeElement).toBe(idle);
    expect(screen.getByTestId("needs-count")).toHaveTextContent("1 item needs you; 2 dismissed or snoozed");
    view.unmount();

    show([ITEMS[6]!, dismissed, snoozed], "owner", snoozed.key);
    const blocked = card("blocked_phase");
    expect(blocked.getAttribute("aria-current")).toBe("true");
    expect(within(blocked).getByTestId("need-triaged")).toHaveTextContent("snoozed until 10:30");
    expect(within(blocked).getByTestId("need-linked-hidden")).toHaveTextContent("You snoozed this item");
    expect(screen.getAllByTestId("need-linked-hidden")).toHaveLength(1);
  });

  test("an item no longer waiting: a short notice, and the rest of the list below it", () => {
    show(ITEMS, "owner", "prompt:answered-long-ago");
    const notice = screen.getByTestId("needs-linked-gone");
    expect(notice).toHaveTextContent("This item has been resolved or is no longer waiting.");
    expect(notice.getAttribute("role")).toBe("status");
    expect(screen.getAllByTestId("need")).toHaveLength(ITEMS.length);
    expect(notice.compareDocumentPosition(screen.getAllByTestId("need")[0]!) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    expect(document.querySelector('[aria-current="true"]')).toBeNull();
    expect(scrolled).toEqual([]);
  });

  test("the notice also shows over an empty list", () => {
    show([], "owner", "offline:n2");
    expect(screen.getByTestId("needs-linked-gone")).toHaveTextContent("This item has been resolved or is no longer waiting.");
    expect(screen.getByText("Nothing needs you right now.")).toBeTruthy();
  });

  test("the item resolved while open: the mark goes and the notice comes", () => {
    const view = show(ITEMS, "owner", ITEMS[6]!.key);
    expect(card("stalled").getAttribute("aria-current")).toBe("true");
    const rest = ITEMS.filter((_, i) => i !== 6);
    served["needs:needsYou"] = { items: rest, count: rest.length };
    view.rerender(
      <NowProvider>
        <MeProvider value={{ name: "Ann", role: "owner" }}>
          <main>
            <NeedsYouView item={ITEMS[6]!.key} />
          </main>
        </MeProvider>
      </NowProvider>,
    );
    expect(screen.getByTestId("needs-linked-gone")).toBeTruthy();
    expect(screen.getAllByTestId("need")).toHaveLength(rest.length);
  });
});

describe("accessibility (axe-core)", () => {
  test("every kind, the plan open, dismissed ones shown", async () => {
    served["documents:getDocument"] = plan();
    show([...ITEMS, { ...ITEMS[6]!, key: "x", dismissed: true }]);
    fireEvent.click(card("plan_approval").querySelector<HTMLElement>('[data-testid="need-plan-toggle"]')!);
    fireEvent.click(card("agent_plan_approval").querySelector<HTMLElement>('[data-testid="need-plan-toggle"]')!);
    fireEvent.click(screen.getByTestId("needs-show-dismissed"));
    vi.useRealTimers();
    expect(await violations()).toEqual([]);
  });

  test("an item opened by its link, and the notice for one no longer waiting", async () => {
    const view = show([ITEMS[6]!, { ...ITEMS[7]!, dismissed: true }], "owner", ITEMS[7]!.key);
    vi.useRealTimers();
    expect(await violations()).toEqual([]);
    view.unmount();
    show(ITEMS, "owner", "gone");
    expect(await violations()).toEqual([]);
  });
});
