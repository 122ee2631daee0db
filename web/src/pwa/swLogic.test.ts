// The service worker's decisions (public/sw-logic.js, the very file sw.js imports): the push
// payload of issue 20's contract, the deep link a tap opens, the window it picks, and which
// requests the worker answers from its cache.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";

type Shown = { op: "show"; tag: string; title: string; body: string; url: string; kind: string; at?: number };
type Message = Shown | { op: "close"; tag: string };
type Win = { url: string; focused?: boolean; visibilityState?: string; id?: string };
type SwLogic = {
  GENERIC: Shown;
  STATIC_FILES: string[];
  parsePush(text: string | null): Message;
  notificationFor(m: Shown, scope: string): { title: string; options: NotificationOptions & { renotify: boolean; timestamp?: number } };
  closePlan(tag: string, shown: { tag: string; title: string }[], appInFront: boolean, scope: string): { title: string; options: NotificationOptions & { renotify: boolean } } | null;
  deepLink(url: unknown, scope: string): string;
  pickWindow<W extends Win>(windows: W[], scope: string): W | null;
  requestKind(url: string, scope: string, mode: string): "index" | "asset" | "static" | null;
  assetsOf(html: string, base: string): string[];
  oneAtATime(): <T>(work: () => Promise<T>) => Promise<T>;
};

// Paths, not URLs: happy-dom's URL is not one Node's fs takes.
const PUBLIC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "public");

/** The file as the worker runs it: a classic script that sets `self.tinaSw`. */
function load(): SwLogic {
  const source = readFileSync(path.join(PUBLIC, "sw-logic.js"), "utf8");
  const workerScope: { tinaSw?: SwLogic } = {};
  new Function("self", source)(workerScope);
  if (workerScope.tinaSw === undefined) throw new Error("sw-logic.js did not define self.tinaSw");
  return workerScope.tinaSw;
}

const sw = load();
const SCOPE = "https://tina.example.com/app/";

describe("push payloads", () => {
  test("a show message keeps title, body, tag, link and kind", () => {
    const text = JSON.stringify({ v: 1, op: "show", tag: "prompt:p1", title: "alpha · checkout-flow", body: "Bash wants to run npm test", url: "#/attention?item=prompt%3Ap1", kind: "permission_prompt", at: 1_700_000_000_000 });
    expect(sw.parsePush(text)).toEqual({
      op: "show",
      tag: "prompt:p1",
      title: "alpha · checkout-flow",
      body: "Bash wants to run npm test",
      url: "#/attention?item=prompt%3Ap1",
      kind: "permission_prompt",
      at: 1_700_000_000_000,
    });
  });

  test("a close message names its tag", () => {
    expect(sw.parsePush('{"v":1,"op":"close","tag":"prompt:p1"}')).toEqual({ op: "close", tag: "prompt:p1" });
  });

  test.each([
    ["not JSON", "hello"],
    ["no payload", null],
    ["another version", '{"v":2,"op":"show","tag":"t","title":"x"}'],
    ["an unknown op", '{"v":1,"op":"vibrate","tag":"t"}'],
    ["a show with no title", '{"v":1,"op":"show","tag":"t"}'],
    ["a show with no tag", '{"v":1,"op":"show","title":"x"}'],
    ["a close with no tag", '{"v":1,"op":"close"}'],
    ["an array", "[1]"],
  ])("%s: the generic notification, linking to Needs you", (_what, text) => {
    const m = sw.parsePush(text);
    expect(m).toEqual(sw.GENERIC);
    expect(m.op).toBe("show");
    expect((m as Shown).title).toBe("tina: something needs you");
    expect((m as Shown).url).toBe("#/attention");
  });

  test("a link that is not a hash route becomes #/attention", () => {
    for (const url of ["https://evil.example.com/", "javascript:alert(1)", "/attention", "#attention", "#/a b", "#/x\u0000", 42, undefined]) {
      const m = sw.parsePush(JSON.stringify({ v: 1, op: "show", tag: "t", title: "x", url })) as Shown;
      expect(m.url, String(url)).toBe("#/attention");
    }
  });

  test("over-long texts are cut, with an ellipsis", () => {
    const m = sw.parsePush(JSON.stringify({ v: 1, op: "show", tag: "t", title: "t".repeat(500), body: "b".repeat(5000) })) as Shown;
    expect(m.title).toHaveLength(200);
    expect(m.title.endsWith("…")).toBe(true);
    expect(m.body).toHaveLength(1000);
  });

  test("the notification: tag, data {url, tag, kind}, no renotify, icon and badge on the scope", () => {
    const m = sw.parsePush(JSON.stringify({ v: 1, op: "show", tag: "tina-test", title: "tina test", body: "It works.", url: "#/notifications", kind: "test", at: 5 })) as Shown;
    const { title, options } = sw.notificationFor(m, SCOPE);
    expect(title).toBe("tina test");
    expect(options).toEqual({
      body: "It works.",
      tag: "tina-test",
      data: { url: "#/notifications", tag: "tina-test", kind: "test" },
      renotify: false,
      icon: "https://tina.example.com/app/icons/icon-192.png",
      badge: "https://tina.example.com/app/icons/badge-96.png",
      timestamp: 5,
    });
  });
});

describe("a close never leaves a push without a notification", () => {
  test("other notifications showing, or the app in front: the item's one is only closed", () => {
    expect(sw.closePlan("a", [{ tag: "a", title: "Plan awaiting approval" }, { tag: "b", title: "Prompt" }], false, SCOPE)).toBeNull();
    expect(sw.closePlan("a", [{ tag: "a", title: "Plan awaiting approval" }], true, SCOPE)).toBeNull();
  });

  test("the last one showing is replaced, same tag, by a quiet 'resolved' that leads to Needs you", () => {
    const plan = sw.closePlan("approval:o1:2", [{ tag: "approval:o1:2", title: "Plan awaiting approval" }], false, SCOPE)!;
    expect(plan.title).toBe("Resolved: Plan awaiting approval");
    expect(plan.options).toMatchObject({ tag: "approval:o1:2", silent: true, renotify: false, data: { url: "#/attention", tag: "approval:o1:2", kind: "resolved" } });
    // Nothing showing (dismissed by hand): still something, worded without a title.
    expect(sw.closePlan("x", [], false, SCOPE)!.title).toBe("tina: resolved");
    // A resolved one closed again keeps its words.
    expect(sw.closePlan("a", [{ tag: "a", title: "Resolved: Prompt" }], false, SCOPE)!.title).toBe("Resolved: Prompt");
  });
});

describe("the link a tap opens", () => {
  test("a hash route on the app's scope", () => {
    expect(sw.deepLink("#/attention?item=prompt%3Ap1", SCOPE)).toBe("https://tina.example.com/app/#/attention?item=prompt%3Ap1");
    expect(sw.deepLink("#/attention", "http://127.0.0.1:5173/")).toBe("http://127.0.0.1:5173/#/attention");
  });

  test("anything else: Needs you", () => {
    expect(sw.deepLink("https://evil.example.com/#/x", SCOPE)).toBe("https://tina.example.com/app/#/attention");
    expect(sw.deepLink(undefined, SCOPE)).toBe("https://tina.example.com/app/#/attention");
  });

  test("the app's focused window first, then a visible one, then any; never another site's", () => {
    const other = { id: "other", url: "https://tina.example.com/elsewhere/", focused: true, visibilityState: "visible" };
    const hidden = { id: "hidden", url: `${SCOPE}#/fleet`, focused: false, visibilityState: "hidden" };
    const visible = { id: "visible", url: `${SCOPE}#/`, focused: false, visibilityState: "visible" };
    const focused = { id: "focused", url: `${SCOPE}index.html#/o/x`, focused: true, visibilityState: "visible" };
    expect(sw.pickWindow([other, hidden, visible, focused], SCOPE)?.id).toBe("focused");
    expect(sw.pickWindow([other, hidden, visible], SCOPE)?.id).toBe("visible");
    expect(sw.pickWindow([other, hidden], SCOPE)?.id).toBe("hidden");
    expect(sw.pickWindow([other], SCOPE)).toBeNull();
    expect(sw.pickWindow([], SCOPE)).toBeNull();
  });
});

describe("what the worker answers from its cache", () => {
  test("navigations to the app: index.html, network first", () => {
    expect(sw.requestKind(SCOPE, SCOPE, "navigate")).toBe("index");
    expect(sw.requestKind(`${SCOPE}index.html`, SCOPE, "navigate")).toBe("index");
    expect(sw.requestKind(`${SCOPE}?x=1`, SCOPE, "navigate")).toBe("index");
    expect(sw.requestKind(`${SCOPE}sw.js`, SCOPE, "navigate")).toBeNull();
    expect(sw.requestKind("https://tina.example.com/other/", SCOPE, "navigate")).toBeNull();
  });

  test("config.json never; hashed bundles from the cache; the static files; nothing from other origins", () => {
    expect(sw.requestKind(`${SCOPE}config.json`, SCOPE, "cors")).toBeNull();
    expect(sw.requestKind(`${SCOPE}assets/index-CPyElyv-.js`, SCOPE, "cors")).toBe("asset");
    expect(sw.requestKind(`${SCOPE}assets/index-CPyElyv-.js.map`, SCOPE, "cors")).toBeNull();
    expect(sw.requestKind(`${SCOPE}manifest.webmanifest`, SCOPE, "cors")).toBe("static");
    expect(sw.requestKind(`${SCOPE}icons/icon-192.png`, SCOPE, "no-cors")).toBe("static");
    expect(sw.requestKind("https://happy-otter-123.convex.cloud/api/query", SCOPE, "cors")).toBeNull();
    expect(sw.requestKind("https://tina.example.com/assets/x.js", SCOPE, "cors")).toBeNull();
  });

  test("the bundles an index.html names", () => {
    const html = `<script type="module" crossorigin src="./assets/index-CPyElyv-.js"></script>
      <link rel="stylesheet" crossorigin href="./assets/index-BxbuQgZs.css"><link rel="icon" href="./favicon.svg">
      <link rel="modulepreload" href="./assets/index-CPyElyv-.js">`;
    expect(sw.assetsOf(html, SCOPE)).toEqual([`${SCOPE}assets/index-CPyElyv-.js`, `${SCOPE}assets/index-BxbuQgZs.css`]);
  });

  test("every static file the worker keeps is in web/public", () => {
    for (const file of sw.STATIC_FILES) expect(() => readFileSync(path.join(PUBLIC, file)), file).not.toThrow();
  });
});

describe("the worker's notification work, one piece at a time", () => {
  /** A piece of work that records when it starts and ends, and settles when told to. */
  function piece(name: string, log: string[]) {
    let settle!: (ok: boolean) => void;
    const done = new Promise<boolean>((r) => (settle = r));
    return {
      work: async () => {
        log.push(`${name} start`);
        const ok = await done;
        log.push(`${name} end`);
        if (!ok) throw new Error(`${name} failed`);
        return name;
      },
      settle: (ok = true) => settle(ok),
    };
  }
  const tick = async () => {
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };

  test("the next starts only after the one before has settled, in the order given", async () => {
    const log: string[] = [];
    const run = sw.oneAtATime();
    const [a, b, c] = [piece("a", log), piece("b", log), piece("c", log)];
    const results = [run(a.work), run(b.work), run(c.work)];
    await tick();
    expect(log).toEqual(["a start"]);
    a.settle();
    await tick();
    expect(log).toEqual(["a start", "a end", "b start"]);
    b.settle();
    c.settle();
    expect(await Promise.all(results)).toEqual(["a", "b", "c"]);
    expect(log).toEqual(["a start", "a end", "b start", "b end", "c start", "c end"]);
  });

  test("a failure goes to its own caller and never stops the next", async () => {
    const log: string[] = [];
    const run = sw.oneAtATime();
    const [a, b] = [piece("a", log), piece("b", log)];
    const first = run(a.work);
    const second = run(b.work);
    a.settle(false);
    await expect(first).rejects.toThrow("a failed");
    b.settle();
    expect(await second).toBe("b");
    await expect(run(() => Promise.reject(new Error("sync-ish")))).rejects.toThrow("sync-ish");
    expect(await run(async () => "after")).toBe("after");
  });

  test("two queues do not wait for each other", async () => {
    const log: string[] = [];
    const a = piece("a", log);
    void sw.oneAtATime()(a.work);
    expect(await sw.oneAtATime()(async () => "other")).toBe("other");
    a.settle();
  });
});
