import { describe, expect, test } from "vitest";
import type { ListedAction } from "../api";
import { deliveryState, shortenPaths } from "./delivery";

const msg = (status: ListedAction["status"], over: Partial<ListedAction> = {}) => ({
  status,
  payload: { feature: "f", agentName: "reviewer", text: "hi", via: "inbox" as const },
  ...over,
});

describe("where a message is", () => {
  test("queued, then sending", () => {
    expect(deliveryState(msg("pending"))).toEqual({ step: "queued", text: "queued" });
    expect(deliveryState(msg("claimed")).step).toBe("sending");
    expect(deliveryState(msg("running"))).toEqual({ step: "sending", text: "sending" });
  });

  test("delivered, said by the route it took", () => {
    const ok = { ok: true, code: "ok", message: "written to reviewer's inbox" };
    expect(deliveryState(msg("completed", { result: { ...ok, via: "inbox", messageKey: "k" } })).text).toBe("delivered: written to the inbox");
    expect(deliveryState(msg("completed", { result: { ...ok, via: "lead_session" } })).text).toBe("delivered: typed into the tmux session");
    expect(deliveryState(msg("completed", { result: { ...ok, via: "pane" } })).text).toBe("delivered: typed into its pane");
    // An older daemon that does not say how: the payload's route.
    expect(deliveryState(msg("completed", { result: ok })).text).toBe("delivered: written to the inbox");
  });

  test("read by the agent once its inbox says so", () => {
    expect(deliveryState({ ...msg("completed", { result: { ok: true, code: "ok", message: "", via: "inbox", messageKey: "k" } }), read: true })).toEqual({
      step: "read",
      text: "read by reviewer",
    });
    expect(deliveryState({ ...msg("completed"), read: false }).step).toBe("delivered");
  });

  test("failed, with the laptop's reason or what happened instead", () => {
    expect(deliveryState(msg("failed", { result: { ok: false, code: "inbox_locked", message: "the inbox stayed locked for 3 s" } }))).toEqual({
      step: "failed",
      text: "failed: the inbox stayed locked for 3 s",
    });
    expect(deliveryState(msg("expired")).text).toBe("failed: the laptop did not pick it up in time");
    expect(deliveryState(msg("cancelled")).text).toBe("failed: cancelled before the laptop picked it up");
    expect(deliveryState(msg("interrupted")).text).toBe("failed: interrupted on the laptop");
  });
});

describe("a laptop's answer on a phone (issue 21)", () => {
  test("long absolute paths are cut to their last two parts; the sentence stays", () => {
    const said =
      "/tmp/tina-e2e-alpha-sTUR4b/home/.claude/teams/checkout-flow-phase-2/inboxes/tester.json is not an inbox as Claude Code writes it; Nothing was written";
    expect(shortenPaths(said)).toBe("…/inboxes/tester.json is not an inbox as Claude Code writes it; Nothing was written");
    expect(shortenPaths("pane %3 is gone; see /a/b (short) and ~/x/y/z/w and a/b/c/d")).toBe("pane %3 is gone; see /a/b (short) and ~/x/y/z/w and a/b/c/d");
    expect(shortenPaths("typed into 'tina-checkout' in /Users/alex/src/shop/.worktrees/checkout.")).toBe("typed into 'tina-checkout' in …/.worktrees/checkout.");
  });

  test("a failed message says the laptop's reason with its paths cut", () => {
    const failed = msg("failed", { result: { ok: false, code: "not_an_inbox", message: "/home/alex/.claude/teams/t/inboxes/tester.json is not an inbox" } });
    expect(deliveryState(failed).text).toBe("failed: …/inboxes/tester.json is not an inbox");
  });
});
