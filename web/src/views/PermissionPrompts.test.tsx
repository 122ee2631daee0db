import { act, fireEvent, render, screen, within } from "@testing-library/react";
import axe from "axe-core";
import { ConvexError } from "convex/values";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import type { Id, MessagingRule, PromptRow } from "../api";
import { NowProvider } from "../hooks/useNow";
import { CLIENT } from "../lib/client";
import type { Role } from "../lib/controls";
import { PermissionPromptsPanel } from "./PermissionPrompts";

const answer = vi.fn();
const served: { value: { open: PromptRow[]; recent: PromptRow[] } | undefined } = { value: undefined };
vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useMutation: () => answer,
  useQuery: () => served.value,
}));

const T0 = Date.UTC(2026, 11, 3, 10, 0, 0);
const ORCH = "o1" as Id<"orchestrations">;
const SUGGEST = JSON.stringify([{ type: "addRules", rules: [{ toolName: "Bash", ruleContent: "npm run serve:api" }], behavior: "allow", destination: "localSettings" }]);

function row(over: Partial<PromptRow> = {}): PromptRow {
  return {
    _id: "p1" as Id<"prompts">,
    _creationTime: 0,
    nodeId: "n1" as Id<"nodes">,
    nodeName: "alpha",
    promptId: "a".repeat(32),
    sessionId: "s1",
    cwd: "/work/shop",
    toolName: "Bash",
    toolInput: JSON.stringify({ command: "npm run serve:api", description: "Start the local API server" }),
    inputTruncated: false,
    status: "open",
    openedAt: T0 - 5_000,
    expiresAt: T0 + 15_000,
    ...over,
  };
}

function show(open: PromptRow[], recent: PromptRow[] = [], role: Role | undefined = "operator", rule: MessagingRule = "operators") {
  served.value = { open, recent };
  return render(
    <NowProvider>
      <main>
        <PermissionPromptsPanel role={role} rules={new Map([["n1", rule]])} />
      </main>
    </NowProvider>,
  );
}

async function violations(): Promise<string[]> {
  const out = await axe.run(document.body, { rules: { "color-contrast": { enabled: false } } });
  return out.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date", "setInterval", "clearInterval", "setTimeout", "clearTimeout"] });
  vi.setSystemTime(T0);
  answer.mockReset();
  served.value = undefined;
});

afterEach(() => {
  vi.useRealTimers();
});

describe("permission prompts", () => {
  test("a Bash prompt: laptop, orchestration, the command in a code block, time left ticking", () => {
    show([row({ orchestrationId: ORCH, featureName: "checkout-flow", agentName: "team-lead" })]);
    const item = screen.getByTestId("prompt");
    expect(screen.getByRole("heading", { name: "Permission prompts (1)" })).toBeTruthy();
    expect(item).toHaveTextContent("on alpha");
    expect(within(item).getByRole("link", { name: "checkout-flow" }).getAttribute("href")).toBe("#/o/o1");
    expect(item).toHaveTextContent("team-lead");
    expect(item).toHaveTextContent("Start the local API server");
    const command = screen.getByTestId("prompt-command");
    expect(command.tagName).toBe("PRE");
    expect(command).toHaveTextContent("npm run serve:api");
    expect(screen.getByTestId("prompt-time-left")).toHaveTextContent("15 s left");
    act(() => vi.advanceTimersByTime(3_000));
    expect(screen.getByTestId("prompt-time-left")).toHaveTextContent("12 s left");
  });

  test("no orchestration: the working directory instead", () => {
    show([row()]);
    expect(screen.getByTestId("prompt")).toHaveTextContent("in /work/shop");
  });

  test("Allow once asks first, sends with the client, then follows the outcome", async () => {
    answer.mockResolvedValue({ status: "answered" });
    const view = show([row()]);
    expect(screen.queryByTestId("prompt-allow_always")).toBeNull(); // no suggestions
    fireEvent.click(screen.getByTestId("prompt-allow_once"));
    const dialog = screen.getByRole("dialog", { name: "Allow once: Bash on alpha?" });
    expect(dialog).toHaveTextContent("Claude Code runs this command on alpha, as the laptop's user.");
    expect(within(dialog).getByTestId("confirm-command")).toHaveTextContent("npm run serve:api");
    expect(answer).not.toHaveBeenCalled();
    await act(async () => fireEvent.click(screen.getByTestId("prompt-confirm")));
    expect(answer).toHaveBeenCalledWith({ promptId: "a".repeat(32), decision: "allow_once", client: CLIENT });
    expect(screen.getByTestId("prompt-outcome")).toHaveTextContent("answered — waiting for the laptop");
    expect(screen.queryByTestId("prompt-allow_once")).toBeNull();

    // The server moves it to the recent ones: answered, then applied.
    served.value = { open: [], recent: [row({ status: "answered", decision: "allow_once", answeredByName: "Ann", answeredAt: T0 + 1_000 })] };
    view.rerender(
      <NowProvider>
        <main>
          <PermissionPromptsPanel role="operator" rules={new Map([["n1", "operators"]])} />
        </main>
      </NowProvider>,
    );
    expect(screen.getByTestId("prompt-outcome")).toHaveTextContent("Allow once by Ann · answered — waiting for the laptop");
    expect(screen.queryByTestId("prompts-recent")).toBeNull(); // answered here: it stays in the main list
    served.value = { open: [], recent: [row({ status: "applied", decision: "allow_once", answeredByName: "Ann", settledAt: T0 + 2_000 })] };
    view.rerender(
      <NowProvider>
        <main>
          <PermissionPromptsPanel role="operator" rules={new Map([["n1", "operators"]])} />
        </main>
      </NowProvider>,
    );
    expect(screen.getByTestId("prompt-outcome")).toHaveTextContent("applied on alpha");
    // Ten minutes on it leaves the recent list: the last outcome stays.
    served.value = { open: [], recent: [] };
    view.rerender(
      <NowProvider>
        <main>
          <PermissionPromptsPanel role="operator" rules={new Map([["n1", "operators"]])} />
        </main>
      </NowProvider>,
    );
    expect(screen.getByTestId("prompt-outcome")).toHaveTextContent("applied on alpha");
  });

  test("Allow always: only with suggestions, saying what rule it adds", async () => {
    answer.mockResolvedValue({ status: "answered" });
    show([row({ suggestions: SUGGEST })]);
    expect(screen.getByTestId("prompt-always-rule")).toHaveTextContent("Allow always: adds the allow rule Bash(npm run serve:api) in the project's local settings.");
    fireEvent.click(screen.getByTestId("prompt-allow_always"));
    expect(screen.getByTestId("confirm-always-rule")).toHaveTextContent("Also adds the allow rule Bash(npm run serve:api)");
    await act(async () => fireEvent.click(screen.getByTestId("prompt-confirm")));
    expect(answer).toHaveBeenCalledWith({ promptId: "a".repeat(32), decision: "allow_always", client: CLIENT });
  });

  test("Deny with a message, counted", async () => {
    answer.mockResolvedValue({ status: "answered" });
    show([row()]);
    fireEvent.click(screen.getByTestId("prompt-deny"));
    const box = screen.getByRole("textbox", { name: "Message to the agent (optional)" });
    expect(box.getAttribute("maxlength")).toBe("1000");
    fireEvent.change(box, { target: { value: "  use the staging server  " } });
    expect(screen.getByTestId("prompt-deny-count")).toHaveTextContent("26 / 1000");
    await act(async () => fireEvent.click(screen.getByTestId("prompt-confirm")));
    expect(answer).toHaveBeenCalledWith({ promptId: "a".repeat(32), decision: "deny", message: "use the staging server", client: CLIENT });
  });

  test("Deny without a message sends none; Cancel sends nothing", async () => {
    answer.mockResolvedValue({ status: "answered" });
    show([row()]);
    fireEvent.click(screen.getByTestId("prompt-deny"));
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(answer).not.toHaveBeenCalled();
    fireEvent.click(screen.getByTestId("prompt-deny"));
    await act(async () => fireEvent.click(screen.getByTestId("prompt-confirm")));
    expect(answer).toHaveBeenCalledWith({ promptId: "a".repeat(32), decision: "deny", client: CLIENT });
  });

  test("someone else got there first: the conflict in words", async () => {
    answer.mockRejectedValue(new ConvexError({ code: "conflict", message: "already answered on alpha by Ann" }));
    show([row()]);
    fireEvent.click(screen.getByTestId("prompt-allow_once"));
    await act(async () => fireEvent.click(screen.getByTestId("prompt-confirm")));
    expect(screen.getByRole("alert")).toHaveTextContent("Someone got there first: already answered on alpha by Ann");
  });

  test("a lost answer can be sent again", async () => {
    answer.mockRejectedValueOnce(new Error("Connection lost while action was in flight"));
    answer.mockResolvedValueOnce({ status: "answered" });
    show([row()]);
    fireEvent.click(screen.getByTestId("prompt-allow_once"));
    await act(async () => fireEvent.click(screen.getByTestId("prompt-confirm")));
    expect(screen.getByRole("alert")).toHaveTextContent("Not sent: the connection to the server is down");
    fireEvent.click(screen.getByTestId("prompt-allow_once"));
    await act(async () => fireEvent.click(screen.getByTestId("prompt-confirm")));
    expect(answer).toHaveBeenCalledTimes(2);
    expect(screen.getByTestId("prompt-outcome")).toHaveTextContent("answered — waiting for the laptop");
  });

  test("viewers see the prompt but no buttons, and why", () => {
    show([row({ suggestions: SUGGEST })], [], "viewer");
    expect(screen.getByTestId("prompt-command")).toHaveTextContent("npm run serve:api");
    expect(screen.queryByRole("button", { name: /Allow|Deny/ })).toBeNull();
    expect(screen.getByTestId("prompt-why")).toHaveTextContent("viewers can see prompts but not answer them");
  });

  test("the laptop's messaging rule, when it forbids", () => {
    show([row()], [], "operator", "owners");
    expect(screen.queryByTestId("prompt-allow_once")).toBeNull();
    expect(screen.getByTestId("prompt-why")).toHaveTextContent("only owners may answer prompts on alpha (its messaging rule)");
  });

  test("past its deadline: no buttons, the laptop asks at the keyboard", () => {
    show([row()]);
    act(() => vi.advanceTimersByTime(16_000));
    expect(screen.getByTestId("prompt-time-left")).toHaveTextContent("time is up");
    expect(screen.queryByTestId("prompt-allow_once")).toBeNull();
    expect(screen.getByTestId("prompt-why")).toHaveTextContent("alpha stopped waiting; Claude Code asks at the keyboard");
  });

  test("Edit shows the file and the start of the new text; other tools pretty JSON, never HTML", () => {
    show([
      row({ toolName: "Edit", toolInput: JSON.stringify({ file_path: "src/app.ts", old_string: "a", new_string: "const x = 1;\n<b>bold</b>" }) }),
      row({
        _id: "p2" as Id<"prompts">,
        promptId: "b".repeat(32),
        openedAt: T0 - 9_000,
        toolName: "WebFetch",
        toolInput: JSON.stringify({ url: "https://example.com", prompt: "<img src=x onerror=alert(1)>" }),
        inputTruncated: true,
      }),
    ]);
    expect(screen.getByTestId("prompt-path")).toHaveTextContent("src/app.ts");
    expect(screen.getByTestId("prompt-preview")).toHaveTextContent("const x = 1; <b>bold</b>");
    expect(screen.getByTestId("prompt-json").textContent).toContain('"prompt": "<img src=x onerror=alert(1)>"');
    expect(document.querySelector("img, b")).toBeNull();
    expect(screen.getAllByTestId("prompt")[1]).toHaveTextContent("cut short");
  });

  test("outcomes of prompts answered elsewhere are folded away", () => {
    show(
      [],
      [
        row({ status: "too_late", decision: "deny", answeredByName: "Bo" }),
        row({ _id: "p2" as Id<"prompts">, promptId: "b".repeat(32), status: "expired" }),
      ],
    );
    expect(screen.getByText("No tool is waiting for permission.")).toBeTruthy();
    const recent = screen.getByTestId("prompts-recent");
    expect(recent).toHaveTextContent("Answered or expired in the last 10 minutes (2)");
    expect(recent).toHaveTextContent("Deny by Bo · too late: answered at the laptop");
    expect(recent).toHaveTextContent("expired");
  });

  test("accessible (axe-core), with the deny dialog open", async () => {
    vi.useRealTimers();
    served.value = undefined;
    show([row({ suggestions: SUGGEST, expiresAt: Date.now() + 60_000 }), row({ _id: "p2" as Id<"prompts">, promptId: "b".repeat(32), toolName: "Write", toolInput: JSON.stringify({ file_path: "a.md", content: "# hi" }), expiresAt: Date.now() + 60_000 })]);
    expect(await violations()).toEqual([]);
    fireEvent.click(screen.getAllByTestId("prompt-deny")[0]!);
    expect(await violations()).toEqual([]);
  });
});
