import { describe, expect, test } from "vitest";
import { agentCountsText, LIVENESS_LABELS, LIVENESS_TONES, memberLiveness } from "./liveness";

describe("liveness", () => {
  test("the daemon's word wins; older daemons: isActive; an agent that left: nothing", () => {
    expect(memberLiveness({ liveness: "waiting", isActive: true })).toBe("waiting");
    expect(memberLiveness({ isActive: true })).toBe("working");
    expect(memberLiveness({ isActive: false })).toBe("idle");
    expect(memberLiveness({})).toBeNull();
    expect(memberLiveness({ liveness: "working", removedAt: 1 })).toBeNull();
  });

  test("counts in words, most urgent first, zeros left out", () => {
    expect(agentCountsText({ working: 2, idle: 0, waiting: 1, shutDown: 0, gone: 0 })).toBe("2 working · 1 waiting for permission");
    expect(agentCountsText({ working: 0, idle: 3, waiting: 0, shutDown: 1, gone: 1 })).toBe("3 idle · 1 shut down · 1 gone");
    expect(agentCountsText({ working: 0, idle: 0, waiting: 0, shutDown: 0, gone: 0 })).toBeNull();
    expect(agentCountsText(undefined)).toBeNull();
    // Rate limited, counted where the daemon sends it (older rows have no such count).
    expect(agentCountsText({ working: 1, idle: 0, waiting: 0, rateLimited: 2, shutDown: 0, gone: 0 })).toBe("1 working · 2 rate limited");
  });

  test("rate limited in words, not only a colour", () => {
    expect(LIVENESS_LABELS.rate_limited).toBe("rate limited");
    expect(LIVENESS_TONES.rate_limited).toBe("warning");
  });
});
