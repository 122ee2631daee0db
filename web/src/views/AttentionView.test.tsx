// The Attention page wired to its queries: permission prompts come first, and each laptop's
// messaging rule (from the fleet) decides who may answer.
import { render, screen, within } from "@testing-library/react";
import { getFunctionName } from "convex/server";
import { describe, expect, test, vi } from "vitest";
import type { Attention, Id, PromptRow } from "../api";
import { MeProvider } from "../session";
import { AttentionView } from "./AttentionView";

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
  openedAt: Date.now() - 2_000,
  expiresAt: Date.now() + 18_000,
};
const attention: Attention = { permissionPrompts: [prompt], blocked: [], awaitingApproval: [], failedActions: [], offlineNodes: [], count: 1 };
const served: Record<string, unknown> = {
  "attention:attention": attention,
  "prompts:listOpen": { open: [prompt], recent: [] },
  "nodes:listNodes": [{ _id: "n1", name: "alpha", messaging: "owners" }],
};
vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useQuery: (fn: Parameters<typeof getFunctionName>[0]) => served[getFunctionName(fn)],
  useMutation: () => vi.fn(),
}));

describe("the Attention page", () => {
  test("permission prompts first; the laptop's rule decides who answers", () => {
    render(
      <MeProvider value={{ name: "Olga", role: "operator" }}>
        <AttentionView />
      </MeProvider>,
    );
    const sections = screen.getAllByRole("region");
    expect(sections[0]!.getAttribute("aria-label")).toBe("Permission prompts");
    expect(within(sections[0]!).getByTestId("prompt-command")).toHaveTextContent("make deploy");
    expect(within(sections[0]!).getByTestId("prompt-why")).toHaveTextContent("only owners may answer prompts on alpha");
    expect(screen.queryByText("Nothing needs you right now.")).toBeNull();
  });

  test("an owner gets the buttons", () => {
    render(
      <MeProvider value={{ name: "Ann", role: "owner" }}>
        <AttentionView />
      </MeProvider>,
    );
    expect(screen.getByTestId("prompt-allow_once")).toBeTruthy();
    expect(screen.getByTestId("prompt-deny")).toBeTruthy();
    expect(screen.queryByTestId("prompt-allow_always")).toBeNull();
  });
});
