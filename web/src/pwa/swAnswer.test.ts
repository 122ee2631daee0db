// Answering from a notification, in the service worker's decisions (public/sw-logic.js, the file
// sw.js imports): which pushes get buttons, what a button press posts to the deployment, and the
// notification that says what became of it.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";

type Action = { action: string; title: string };
type Shown = { op: "show"; tag: string; title: string; body: string; url: string; kind: string; at?: number; actions?: Action[]; answer?: { token: string; url: string } };
type Options = NotificationOptions & { renotify: boolean; actions?: Action[]; data: Record<string, unknown> };
type Request = { url: string; init: RequestInit & { headers: Record<string, string>; body: string } };
type SwLogic = {
  parsePush(text: string | null): Shown | { op: "close"; tag: string };
  notificationFor(m: Shown, scope: string): { title: string; options: Options };
  answerRequest(data: unknown, action: string): Request | null;
  answerOutcome(title: string, data: unknown, action: string, result: { status?: number; json?: unknown; error?: string }, scope: string): { title: string; options: Options };
};

const PUBLIC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "public");

function load(): SwLogic {
  const source = readFileSync(path.join(PUBLIC, "sw-logic.js"), "utf8");
  const workerScope: { tinaSw?: SwLogic } = {};
  new Function("self", source)(workerScope);
  if (workerScope.tinaSw === undefined) throw new Error("sw-logic.js did not define self.tinaSw");
  return workerScope.tinaSw;
}

const sw = load();
const SCOPE = "https://tina.example.com/app/";
const TOKEN = "N0tificationAnswerT0ken_0123456789abcdefghi";
const DEPLOYMENT = "https://happy-otter-123.convex.cloud/api/mutation";
const PROMPT_ACTIONS = [
  { action: "allow", title: "Allow once" },
  { action: "deny", title: "Deny" },
];

const payload = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    v: 1,
    op: "show",
    tag: "prompt:p1",
    title: "executor-1 asks to use Bash",
    body: "on laptop-a\nRun the tests",
    url: "#/attention?item=prompt%3Ap1",
    kind: "permission_prompt",
    at: 1_700_000_000_000,
    actions: PROMPT_ACTIONS,
    answer: { token: TOKEN, url: DEPLOYMENT },
    ...over,
  });

const shownOf = (text: string) => sw.notificationFor(sw.parsePush(text) as Shown, SCOPE);

describe("buttons on a notification", () => {
  test("a show with actions and an answer capability gets the buttons; its data keeps the token, URL and decisions", () => {
    const { title, options } = shownOf(payload());
    expect(title).toBe("executor-1 asks to use Bash");
    expect(options.actions).toEqual(PROMPT_ACTIONS);
    expect(options.data).toEqual({
      url: "#/attention?item=prompt%3Ap1",
      tag: "prompt:p1",
      kind: "permission_prompt",
      answer: { token: TOKEN, url: DEPLOYMENT, decisions: ["allow", "deny"] },
    });
    const plan = shownOf(payload({ tag: "approval:o1:2", kind: "plan_approval", actions: [{ action: "approve", title: "Approve plan" }] }));
    expect(plan.options.actions).toEqual([{ action: "approve", title: "Approve plan" }]);
  });

  test("a missing title falls back to the decision's own words", () => {
    expect(shownOf(payload({ actions: [{ action: "deny" }] })).options.actions).toEqual([{ action: "deny", title: "Deny" }]);
  });

  test.each([
    ["no answer capability", { answer: undefined }],
    ["no actions", { actions: undefined }],
    ["an unknown decision", { actions: [{ action: "allow_always", title: "Always" }] }],
    ["a repeated decision", { actions: [PROMPT_ACTIONS[0], PROMPT_ACTIONS[0]] }],
    ["three buttons", { actions: [...PROMPT_ACTIONS, { action: "approve", title: "Approve plan" }] }],
    ["a token that is too short", { answer: { token: "abc", url: DEPLOYMENT } }],
    ["a token with other characters", { answer: { token: `${TOKEN.slice(1)}/`, url: DEPLOYMENT } }],
    ["an http URL off loopback", { answer: { token: TOKEN, url: "http://evil.example.com/api/mutation" } }],
    ["a URL that is not the function API", { answer: { token: TOKEN, url: "https://evil.example.com/collect" } }],
    ["a URL with a query", { answer: { token: TOKEN, url: `${DEPLOYMENT}?x=1` } }],
    ["a URL with credentials", { answer: { token: TOKEN, url: "https://a:b@happy-otter-123.convex.cloud/api/mutation" } }],
    ["javascript:", { answer: { token: TOKEN, url: "javascript:alert(1)//api/mutation" } }],
  ])("%s: shown without buttons, still with its link", (_what, over) => {
    const { title, options } = shownOf(payload(over));
    expect(title).toBe("executor-1 asks to use Bash");
    expect(options.actions).toBeUndefined();
    expect(options.data).toEqual({ url: "#/attention?item=prompt%3Ap1", tag: "prompt:p1", kind: "permission_prompt" });
  });

  test("a loopback deployment (the local backend) over http is fine", () => {
    const local = shownOf(payload({ answer: { token: TOKEN, url: "http://127.0.0.1:3210/api/mutation" } }));
    expect(local.options.actions).toEqual(PROMPT_ACTIONS);
  });
});

describe("a button press", () => {
  const data = shownOf(payload()).options.data;

  test("posts notify:answer with the token and the decision, as JSON, without cookies", () => {
    const request = sw.answerRequest(data, "deny")!;
    expect(request.url).toBe(DEPLOYMENT);
    expect(request.init).toMatchObject({ method: "POST", headers: { "Content-Type": "application/json" }, credentials: "omit" });
    expect(JSON.parse(request.init.body)).toEqual({ path: "notify:answer", args: { token: TOKEN, decision: "deny" }, format: "json" });
  });

  test("a decision the notification does not offer, no action, or no capability: nothing to post (the tap opens the link)", () => {
    expect(sw.answerRequest(data, "approve")).toBeNull();
    expect(sw.answerRequest(data, "")).toBeNull();
    expect(sw.answerRequest({ url: "#/attention", tag: "x", kind: "stall" }, "allow")).toBeNull();
    expect(sw.answerRequest(undefined, "allow")).toBeNull();
    expect(sw.answerRequest({ ...data, answer: { token: TOKEN, url: "https://evil.example.com/x", decisions: ["allow"] } }, "allow")).toBeNull();
  });
});

describe("what became of it", () => {
  const data = shownOf(payload()).options.data;
  const title = "executor-1 asks to use Bash";

  test("answered: said quietly, with the same tag and the item's link", () => {
    const out = sw.answerOutcome(title, data, "allow", { status: 200, json: { status: "success", value: { status: "answered", decision: "allow", detail: "allowed once" } } }, SCOPE);
    expect(out.title).toBe("Answered: executor-1 asks to use Bash");
    expect(out.options).toMatchObject({ body: "Allowed once.", tag: "prompt:p1", silent: true, data: { url: "#/attention?item=prompt%3Ap1", tag: "prompt:p1", kind: "answered" } });
    expect(out.options.data.answer).toBeUndefined();
    expect(out.options.actions).toBeUndefined();
    const plan = sw.answerOutcome("The plan awaits approval", { ...data, tag: "approval:o1:2" }, "approve", { status: 200, json: { status: "success", value: { detail: "plan approval sent to the laptop" } } }, SCOPE);
    expect(plan.options.body).toBe("Plan approved (plan approval sent to the laptop).");
  });

  test("refused by the deployment: the reason it gave, and to open tina", () => {
    const json = { status: "error", errorMessage: "Uncaught ConvexError", errorData: { code: "conflict", message: "this notification has already answered once; open tina to see the outcome" } };
    const out = sw.answerOutcome(title, data, "allow", { status: 560, json }, SCOPE);
    expect(out.title).toBe("Not answered: executor-1 asks to use Bash");
    expect(out.options).toMatchObject({ body: "Refused: this notification has already answered once; open tina to see the outcome. Open tina to answer.", tag: "prompt:p1", renotify: true, silent: false });
    expect(out.options.data).toEqual({ url: "#/attention?item=prompt%3Ap1", tag: "prompt:p1", kind: "answer_refused" });
  });

  test("no answer from the deployment, or one that is not JSON: said so", () => {
    expect(sw.answerOutcome(title, data, "deny", { error: "Failed to fetch" }, SCOPE).options.body).toBe("Refused: the deployment could not be reached (Failed to fetch). Open tina to answer.");
    expect(sw.answerOutcome(title, data, "deny", { status: 502, json: null }, SCOPE).options.body).toBe("Refused: the deployment answered HTTP 502. Open tina to answer.");
  });

  test("a second press on the outcome does not stack prefixes", () => {
    expect(sw.answerOutcome("Not answered: executor-1 asks to use Bash", data, "deny", { error: "offline" }, SCOPE).title).toBe("Not answered: executor-1 asks to use Bash");
  });
});
