// A laptop's Claude Code sessions on its Fleet card: liveness in words, never only a colour.
import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, test } from "vitest";
import type { ClaudeSessionRow, Id } from "../api";
import { SessionList, sessionName } from "./ClaudeSessions";

const NOW = Date.now();

function row(sessionId: string, over: Partial<ClaudeSessionRow> = {}): ClaudeSessionRow {
  return {
    _id: `c-${sessionId}` as Id<"claudeSessions">,
    _creationTime: 0,
    nodeId: "n1" as Id<"nodes">,
    nodeName: "alpha",
    sessionId,
    firstAt: NOW - 60_000,
    lastAt: NOW - 2 * 60_000,
    lastEvent: "Stop",
    events: 4,
    updatedAt: NOW,
    ...over,
  };
}

describe("Claude Code sessions", () => {
  test("each with its name, liveness in words, why, and when last heard", () => {
    render(
      <SessionList
        laptop="alpha"
        rows={[
          row("s1", { agentName: "team-lead", featureName: "checkout-flow", liveness: "rate_limited", reason: "rate limited; resets 3pm", orchestrationId: "o1" as Id<"orchestrations"> }),
          row("s2", { cwd: "/home/dev/shop/", liveness: "ended" }),
          row("s3abcdefgh"),
        ]}
      />,
    );
    const section = screen.getByRole("region", { name: "Claude Code sessions on alpha" });
    expect(section).toHaveTextContent("3 Claude Code sessions");
    const [a, b, c] = screen.getAllByTestId("claude-session");
    expect(a).toHaveTextContent("team-lead (checkout-flow)");
    expect(a).toHaveTextContent("rate limited");
    expect(a).toHaveTextContent("rate limited; resets 3pm · last heard 2 min ago");
    expect(within(a!).getByRole("link").getAttribute("href")).toBe("#/o/o1");
    expect(b).toHaveTextContent("shop");
    expect(b).toHaveTextContent("ended");
    expect(c).toHaveTextContent("session s3abcdef");
    expect(c).toHaveTextContent("not known yet");
  });

  test("nothing at all when the laptop reports none; the first five, then Show all", () => {
    const { container } = render(<SessionList laptop="alpha" rows={[]} />);
    expect(container.textContent).toBe("");
    render(<SessionList laptop="alpha" rows={Array.from({ length: 7 }, (_, i) => row(`s${i}`, { liveness: "working" }))} />);
    expect(screen.getAllByTestId("claude-session")).toHaveLength(5);
    fireEvent.click(screen.getByRole("button", { name: "Show all 7" }));
    expect(screen.getAllByTestId("claude-session")).toHaveLength(7);
  });

  test("names", () => {
    expect(sessionName({ sessionId: "abc", agentName: "reviewer" })).toBe("reviewer");
    expect(sessionName({ sessionId: "abc", featureName: "search" })).toBe("search");
    expect(sessionName({ sessionId: "abcdefghijk", cwd: "/" })).toBe("/");
  });
});
