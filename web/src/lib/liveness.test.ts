import { describe, expect, test } from "vitest";
import { agentCountsText, memberLiveness } from "./liveness";

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
  });
});
