import { describe, expect, test } from "vitest";
import {
  ageText,
  countText,
  documentTitle,
  errorKindText,
  groupNeeds,
  idleText,
  laptopText,
  NEED_KIND_LABELS,
  NEED_KINDS,
  needHref,
  needLinkText,
  needState,
  needSummary,
  nextWake,
  orchestrationText,
  orderNeeds,
  planMayBeCut,
  prettyJson,
  retryText,
  sessionLivenessText,
  shownNeeds,
  snoozeChoices,
  snoozedText,
  stallCauseText,
  tomorrowMorning,
  visibleCount,
  waitingAtLeadText,
  withTriage,
  type NeedKind,
  type NeedLike,
} from "./needs";

const NOW = new Date(2026, 11, 3, 12, 0, 0).getTime(); // local noon
const MIN = 60_000;

function need(over: Partial<NeedLike> & { key: string }): NeedLike {
  return { kind: "blocked_phase", title: "t", since: NOW - MIN, dismissed: false, ...over };
}

describe("kinds in words", () => {
  test("every kind has words, never an identifier", () => {
    for (const k of NEED_KINDS) {
      expect(NEED_KIND_LABELS[k]).toBeTruthy();
      expect(NEED_KIND_LABELS[k]).not.toContain("_");
    }
    expect(NEED_KIND_LABELS.teammate_permission).toBe("teammate asks permission");
    expect(NEED_KIND_LABELS.offline_laptop).toBe("laptop offline");
  });
});

describe("order and groups", () => {
  test("answerable kinds first, newest first within a kind, ties by key", () => {
    const items = [
      need({ key: "off", kind: "offline_laptop", since: NOW }),
      need({ key: "old", kind: "permission_prompt", since: NOW - 10 * MIN }),
      need({ key: "idle", kind: "idle_with_tasks" }),
      need({ key: "new", kind: "permission_prompt", since: NOW - MIN }),
      need({ key: "b", kind: "stalled", since: NOW }),
      need({ key: "a", kind: "stalled", since: NOW }),
      need({ key: "tp", kind: "teammate_permission" }),
    ];
    expect(orderNeeds(items).map((i) => i.key)).toEqual(["new", "old", "tp", "a", "b", "idle", "off"]);
    const groups = groupNeeds(items);
    expect(groups.map((g) => [g.title, g.items.length])).toEqual([
      ["Permission prompts", 2],
      ["Teammates asking permission", 1],
      ["Stalled agents", 2],
      ["Idle with open tasks", 1],
      ["Offline laptops", 1],
    ]);
  });

  test("the contract's order, whole", () => {
    const kinds: NeedKind[] = [...NEED_KINDS].reverse();
    expect(orderNeeds(kinds.map((kind, i) => need({ key: String(i), kind }))).map((i) => i.kind)).toEqual(NEED_KINDS);
  });
});

describe("what this viewer sees, on the client's clock", () => {
  const items = [
    need({ key: "open" }),
    need({ key: "dismissed", dismissed: true }),
    need({ key: "snoozed", snoozedUntil: NOW + 30 * MIN }),
    need({ key: "woke", snoozedUntil: NOW - 1 }),
    need({ key: "later", snoozedUntil: NOW + 2 * 60 * MIN }),
  ];

  test("dismissed and snoozed items are hidden; a snooze that ran out is open again", () => {
    expect(items.map((i) => needState(i, NOW))).toEqual(["open", "dismissed", "snoozed", "open", "snoozed"]);
    expect(visibleCount(items, NOW)).toBe(2);
    expect(visibleCount(items, NOW + 30 * MIN)).toBe(3);
    expect(visibleCount(items, NOW + 3 * 60 * MIN)).toBe(4);
    expect(visibleCount([], NOW)).toBe(0);
  });

  test("the timer wakes at the next snooze's end, and not for dismissed or past ones", () => {
    expect(nextWake(items, NOW)).toBe(NOW + 30 * MIN);
    expect(nextWake(items, NOW + 30 * MIN)).toBe(NOW + 2 * 60 * MIN);
    expect(nextWake(items, NOW + 3 * 60 * MIN)).toBeUndefined();
    expect(nextWake([need({ key: "d", dismissed: true, snoozedUntil: NOW + MIN })], NOW)).toBeUndefined();
  });

  test("dismissing, snoozing and restoring one item, at once (the optimistic update)", () => {
    const before = [need({ key: "a", snoozedUntil: NOW + MIN }), need({ key: "b" })];
    expect(withTriage(before, "a", { dismissed: true })).toEqual([need({ key: "a", dismissed: true }), before[1]]);
    expect(withTriage(before, "b", { dismissed: false, snoozedUntil: NOW + 60 * MIN })[1]).toEqual(need({ key: "b", snoozedUntil: NOW + 60 * MIN }));
    expect(withTriage(before, "a", { dismissed: false })[0]).toEqual(need({ key: "a" }));
    expect(withTriage(before, "a", { dismissed: false })[0]).not.toHaveProperty("snoozedUntil");
    expect(withTriage(before, "zzz", { dismissed: true })).toEqual(before);
  });

  test("badge and tab title", () => {
    expect(countText(3)).toBe("3");
    expect(countText(120)).toBe("99+");
    expect(documentTitle(3)).toBe("(3) tina");
    expect(documentTitle(150)).toBe("(99+) tina");
    expect(documentTitle(0)).toBe("tina");
  });
});

describe("snoozing", () => {
  test("an hour, or tomorrow at 8:00 local time", () => {
    const [hour, tomorrow] = snoozeChoices(NOW);
    expect(hour).toEqual({ id: "hour", label: "1 hour", until: NOW + 60 * MIN });
    expect(tomorrow!.until).toBe(new Date(2026, 11, 4, 8, 0, 0).getTime());
    expect(tomorrow!.label).toBe("until tomorrow 8:00");
    // Late at night: still the next day's morning, across a month's end.
    expect(tomorrowMorning(new Date(2026, 10, 30, 23, 59).getTime())).toBe(new Date(2026, 11, 1, 8, 0).getTime());
  });

  test("until when, in words", () => {
    expect(snoozedText(new Date(2026, 11, 3, 13, 5).getTime(), NOW)).toBe("snoozed until 13:05");
    expect(snoozedText(tomorrowMorning(NOW), NOW)).toBe("snoozed until tomorrow 08:00");
    expect(snoozedText(new Date(2026, 11, 8, 9, 0).getTime(), NOW)).toMatch(/^snoozed until 8 Dec 2026, 09:00/);
  });
});

describe("age, laptop, orchestration, links", () => {
  test("age relative, the exact time beside it", () => {
    const a = ageText(NOW - 5 * MIN, NOW);
    expect(a.relative).toBe("5 min ago");
    expect(a.exact).toMatch(/3 Dec 2026, 11:55:00/);
  });

  test("the laptop says when it is offline", () => {
    expect(laptopText({ nodeName: "alpha", nodeOnline: true })).toBe("alpha");
    expect(laptopText({ nodeName: "bravo", nodeOnline: false })).toBe("bravo (offline)");
    expect(laptopText({})).toBeNull();
  });

  test("the orchestration with its phase", () => {
    expect(orchestrationText({ orchestrationId: "o1", featureName: "checkout", phaseNumber: "2" })).toBe("checkout, phase 2");
    expect(orchestrationText({ featureName: "checkout" })).toBe("checkout");
    expect(orchestrationText({})).toBeNull();
  });

  test("deep links: the orchestration, else the fleet; a bare prompt is answered here", () => {
    expect(needHref({ kind: "stalled", orchestrationId: "o1", nodeId: "n1" })).toBe("#/o/o1");
    expect(needLinkText({ kind: "stalled", orchestrationId: "o1" })).toBe("Open the orchestration");
    expect(needHref({ kind: "stop_failure", nodeId: "n1" })).toBe("#/fleet");
    expect(needHref({ kind: "offline_laptop", nodeId: "n1" })).toBe("#/fleet");
    expect(needLinkText({ kind: "offline_laptop", nodeId: "n1" })).toBe("Open the fleet");
    expect(needHref({ kind: "permission_prompt", nodeId: "n1" })).toBeNull();
    expect(needHref({ kind: "failed_action" })).toBeNull();
  });
});

describe("what each kind says", () => {
  test("teammates and agents' plans wait at the lead's terminal", () => {
    expect(waitingAtLeadText({ nodeName: "alpha" })).toBe("waiting at the lead's terminal on alpha");
    expect(needSummary(need({ key: "p", kind: "teammate_permission", nodeName: "alpha" }), NOW)).toBe("waiting at the lead's terminal on alpha");
    expect(needSummary(need({ key: "p", kind: "agent_plan_approval", nodeName: "alpha" }), NOW)).toBe("waiting at the lead's terminal on alpha");
  });

  test("stall causes in words", () => {
    expect(stallCauseText("waiting_for_human")).toBe("it waits for someone to answer at its terminal");
    expect(stallCauseText("long_tool")).toBe("a tool has been running for a long time");
    expect(stallCauseText("api_error")).toBe("its last call to the API failed");
    expect(stallCauseText("silent")).toBe("no activity and no sign of why");
    expect(stallCauseText(undefined)).toBe("no activity and no sign of why");
    expect(needSummary(need({ key: "s", kind: "stalled", cause: "long_tool" }), NOW)).toBe("likely cause: a tool has been running for a long time");
  });

  test("stop failures: the error in words and when to retry", () => {
    expect(errorKindText("rate_limit")).toBe("rate limited");
    expect(errorKindText("billing_error")).toBe("a billing problem");
    expect(errorKindText("something_new")).toBe("something new");
    expect(errorKindText(undefined)).toBe("an API error");
    expect(retryText({ retryHint: "resets 3pm (Europe/London)" }, NOW)).toBe("resets 3pm (Europe/London)");
    expect(retryText({ retryHint: "resets 3pm", retryAt: NOW + 90 * MIN }, NOW)).toBe("resets 3pm · retry in 1 h 30 min");
    expect(retryText({ retryAt: NOW - 1 }, NOW)).toBe("it can retry now");
    expect(retryText({}, NOW)).toBeNull();
    expect(needSummary(need({ key: "f", kind: "stop_failure", errorKind: "rate_limit", retryHint: "resets 3pm" }), NOW)).toBe("stopped: rate limited · resets 3pm");
    expect(needSummary(need({ key: "f", kind: "stop_failure", errorKind: "billing_error", retryHint: "fix billing first" }), NOW)).toBe(
      "stopped: a billing problem · fix billing first",
    );
  });

  test("idle with tasks", () => {
    expect(idleText({ agentName: "reviewer", openTasks: 3 })).toBe("reviewer is idle with 3 open tasks");
    expect(idleText({ agentName: "tester", openTasks: 1 })).toBe("tester is idle with 1 open task");
  });

  test("failed actions, blocked phases and offline laptops say their reason", () => {
    expect(needSummary(need({ key: "a", kind: "failed_action", actionError: "the laptop did not pick this action up" }), NOW)).toBe(
      "the laptop did not pick this action up",
    );
    expect(needSummary(need({ key: "b", kind: "blocked_phase", detail: "tests failed twice" }), NOW)).toBe("tests failed twice");
    expect(needSummary(need({ key: "o", kind: "offline_laptop", nodeName: "bravo" }), NOW)).toBe("bravo is offline");
    expect(needSummary(need({ key: "p", kind: "permission_prompt" }), NOW)).toBeNull();
  });

  test("an orchestration over budget says what it spent, and leads to its page (issue 22)", () => {
    const item = need({ key: "budget:o1", kind: "budget", orchestrationId: "o1", detail: "$12.34 spent when it did. Raise or clear the budget on its page, or dismiss this." });
    expect(needSummary(item, NOW)).toBe("$12.34 spent when it did. Raise or clear the budget on its page, or dismiss this.");
    expect(needHref(item)).toBe("#/o/o1");
  });

  test("tool input as indented JSON, as text", () => {
    expect(prettyJson('{"command":"ls","n":1}')).toBe('{\n  "command": "ls",\n  "n": 1\n}');
    expect(prettyJson('{"cut": "<scr')).toBe('{"cut": "<scr');
  });

  test("a plan that fills what is kept may have been cut", () => {
    expect(planMayBeCut("# short plan")).toBe(false);
    expect(planMayBeCut("x".repeat(65_536))).toBe(true);
    expect(planMayBeCut("é".repeat(32 * 1024))).toBe(true); // 64 KiB of 2-byte characters
    expect(planMayBeCut("é".repeat(20_000))).toBe(false);
  });

  test("session liveness in words", () => {
    expect(sessionLivenessText("rate_limited")).toBe("rate limited");
    expect(sessionLivenessText("failed")).toBe("stopped on an API error");
    expect(sessionLivenessText("ended")).toBe("ended");
    expect(sessionLivenessText(undefined)).toBe("not known yet");
  });
});

describe("the items the page lists, and the one a link opens", () => {
  const open = { key: "a", dismissed: false };
  const dismissed = { key: "b", dismissed: true };
  const snoozed = { key: "c", dismissed: false, snoozedUntil: 2_000 };
  const all = [open, dismissed, snoozed];

  test("open ones, or all of them with Show dismissed", () => {
    expect(shownNeeds(all, 1_000, { showAll: false })).toEqual({ shown: [open], linked: "none" });
    expect(shownNeeds(all, 1_000, { showAll: true })).toEqual({ shown: all, linked: "none" });
  });

  test("a linked item is listed even when dismissed or snoozed", () => {
    expect(shownNeeds(all, 1_000, { showAll: false, linkedKey: "b" })).toEqual({ shown: [open, dismissed], linked: "found" });
    expect(shownNeeds(all, 1_000, { showAll: false, linkedKey: "c" })).toEqual({ shown: [open, snoozed], linked: "found" });
    expect(shownNeeds(all, 1_000, { showAll: false, linkedKey: "a" })).toEqual({ shown: [open], linked: "found" });
  });

  test("a link to an item that is not there says so, and the list is as it was", () => {
    expect(shownNeeds(all, 1_000, { showAll: false, linkedKey: "gone" })).toEqual({ shown: [open], linked: "gone" });
    expect(shownNeeds([], 1_000, { showAll: false, linkedKey: "gone" })).toEqual({ shown: [], linked: "gone" });
  });
});
