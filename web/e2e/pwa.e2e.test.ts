// The dashboard as an installable phone app (issue 20), in real headless Chromium against the
// built app served by web/serve.ts and the local backend: the manifest and Chromium's own
// installability check, the service worker (registration, control, the shell offline), Web Push
// delivered through the DevTools protocol to the real worker (shown, replaced by tag, closed,
// the generic fallback), and a tap on a notification opening its deep link in the open window.
// Tests run in order; each builds on what the previous one left.
import { createHash, randomBytes } from "node:crypto";
import { ConvexHttpClient } from "convex/browser";
import type { BrowserContext, CDPSession, Page, Worker } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { startStaticServer, type StaticServer } from "../serve";
import { api } from "../src/api";
import { dumpTables, eventually, runFunction, startBackend, type TestBackend } from "./harness/backend";
import { launchWithProfile, PHONE, recordPageProblems } from "./harness/browser";
import { documentStillMarked, markDocument, screenshot, signIn } from "./harness/page";

let backend: TestBackend;
let web: StaticServer;
let browser: { context: BrowserContext; close(): Promise<void> };
let page: Page;
let cdp: CDPSession;
let problems: string[];
/** The worker's registrations as the DevTools protocol reports them (registrationId by scope). */
const registrations = new Map<string, string>();
/** The status of each push event the worker finished, in order (DevTools' background services). */
const pushesDone: string[] = [];

type Shown = { title: string; body: string; tag: string; data: unknown; icon: string; badge: string; actions: { action: string; title: string }[] };

/**
 * The notifications the worker shows now, read from the page (registration.getNotifications()).
 * Chromium's read deletes from its store a notification written before the read began that is not
 * on screen yet, so the tests read only once the worker's work is done: `deliver` and `tap`
 * return after it (the worker's own reads and shows take turns; see sw.js).
 */
async function shown(tag?: string): Promise<Shown[]> {
  return await page.evaluate(async (t) => {
    const registration = await navigator.serviceWorker.ready;
    const list = await registration.getNotifications(t === undefined ? undefined : { tag: t });
    return list.map((n) => ({
      title: n.title,
      body: n.body,
      tag: n.tag,
      data: n.data as unknown,
      icon: n.icon,
      badge: n.badge,
      actions: ((n as Notification & { actions?: { action: string; title: string }[] }).actions ?? []).map((a) => ({ action: a.action, title: a.title })),
    }));
  }, tag);
}

/**
 * Push messages into the real worker, as a push service delivers them (all at once when several),
 * returning when the browser says the worker has finished each push event, successfully.
 */
async function deliver(...payloads: unknown[]): Promise<void> {
  const scope = web.url;
  const registrationId = await eventually(async () => registrations.get(scope), `the worker's registration for ${scope}`);
  const before = pushesDone.length;
  await Promise.all(
    payloads.map((payload) =>
      cdp.send("ServiceWorker.deliverPushMessage", {
        origin: new URL(scope).origin,
        registrationId,
        data: typeof payload === "string" ? payload : JSON.stringify(payload),
      }),
    ),
  );
  await eventually(async () => pushesDone.length >= before + payloads.length, `the worker done with ${payloads.length} push event(s)`);
  expect(pushesDone.slice(before)).toEqual(payloads.map(() => "Success"));
}

async function worker(): Promise<Worker> {
  return await eventually(async () => browser.context.serviceWorkers().find((w) => w.url() === `${web.url}sw.js`), "the service worker target");
}

/**
 * A tap on the worker's notification of `tag` (on one of its buttons when `action` is given):
 * the event a tap sends, dispatched inside the real worker with the notification it showed,
 * returning when the worker's handler has finished. A dispatched event cannot be extended, so the
 * event is given its own waitUntil, which receives the handler's work.
 */
async function tap(tag: string, action = ""): Promise<void> {
  const sw = await worker();
  await sw.evaluate(
    async ([t, a]) => {
      type WorkerScope = {
        registration: ServiceWorkerRegistration;
        dispatchEvent(event: Event): boolean;
        NotificationEvent: new (type: string, init: { notification: Notification; action: string }) => Event & { waitUntil(work: Promise<unknown>): void };
      };
      const scope = self as unknown as WorkerScope;
      const [notification] = await scope.registration.getNotifications({ tag: t });
      if (notification === undefined) throw new Error(`no notification tagged ${t}`);
      const event = new scope.NotificationEvent("notificationclick", { notification, action: a });
      const work: Promise<unknown>[] = [];
      event.waitUntil = (promise) => void work.push(promise);
      scope.dispatchEvent(event);
      if (work.length !== 1) throw new Error(`the worker's notificationclick handler extended the event ${work.length} times`);
      await work[0];
    },
    [tag, action] as const,
  );
}

const show = (tag: string, title: string, over: object = {}) => ({
  v: 1,
  op: "show",
  tag,
  title,
  body: "Bash wants to run: npm test",
  url: `#/attention?item=${encodeURIComponent(tag)}`,
  kind: "permission_prompt",
  at: Date.now(),
  ...over,
});

describe("the installable app", () => {
  beforeAll(async () => {
    [backend, browser] = await Promise.all([startBackend(), launchWithProfile(PHONE)]);
    web = await startStaticServer({ convexUrl: backend.url });
    await browser.context.grantPermissions(["notifications"], { origin: new URL(web.url).origin });
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    problems = recordPageProblems(page);
    cdp = await browser.context.newCDPSession(page);
    cdp.on("ServiceWorker.workerRegistrationUpdated", ({ registrations: list }) => {
      for (const r of list) {
        if (r.isDeleted) registrations.delete(r.scopeURL);
        else registrations.set(r.scopeURL, r.registrationId);
      }
    });
    await cdp.send("ServiceWorker.enable");
    cdp.on("BackgroundService.backgroundServiceEventReceived", ({ backgroundServiceEvent: e }) => {
      if (e.service === "pushMessaging" && e.eventName === "Push event completed") {
        pushesDone.push(e.eventMetadata.find((m) => m.key === "Status")?.value ?? "no status");
      }
    });
    await cdp.send("BackgroundService.startObserving", { service: "pushMessaging" });
    await cdp.send("BackgroundService.setRecording", { shouldRecord: true, service: "pushMessaging" });
    await signIn(page, web.url, "signUp");
  }, 90_000);

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      console.error(`--- page problems:\n${problems.join("\n")}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await web?.close();
    await backend?.stop();
  });

  test("the manifest is served as a manifest, its icons as PNGs, and Chromium finds the page installable", async () => {
    const response = await fetch(new URL("manifest.webmanifest", web.url));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/manifest+json");
    const manifest = (await response.json()) as { name: string; start_url: string; display: string; icons: { src: string }[] };
    expect(manifest).toMatchObject({ name: "tina", start_url: "./", display: "standalone" });
    for (const icon of [...manifest.icons.map((i) => i.src), "icons/apple-touch-icon-180.png"]) {
      const png = await fetch(new URL(icon, web.url));
      expect(png.status, icon).toBe(200);
      expect(png.headers.get("content-type"), icon).toBe("image/png");
    }
    const { url: manifestUrl, errors } = await cdp.send("Page.getAppManifest");
    expect(manifestUrl).toBe(`${web.url}manifest.webmanifest`);
    expect(errors).toEqual([]);
    const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors");
    expect(installabilityErrors).toEqual([]);
  });

  test("the service worker registers, and controls the page after a reload, with the shell cached", async () => {
    const active = await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      return { scope: registration.scope, script: registration.active?.scriptURL, state: registration.active?.state };
    });
    expect(active).toEqual({ scope: web.url, script: `${web.url}sw.js`, state: "activated" });
    await page.reload();
    await page.getByTestId("whoami").filter({ hasText: "·" }).first().waitFor({ state: "attached" });
    expect(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toBe(`${web.url}sw.js`);
    const cached = await page.evaluate(async () => {
      const urls: string[] = [];
      for (const name of await caches.keys()) for (const request of await (await caches.open(name)).keys()) urls.push(request.url);
      return urls;
    });
    expect(cached).toContain(`${web.url}index.html`);
    expect(cached.some((u) => /\/assets\/index-[^/]+\.js$/.test(u))).toBe(true);
    expect(cached.some((u) => /\/assets\/index-[^/]+\.css$/.test(u))).toBe(true);
    expect(cached).toContain(`${web.url}manifest.webmanifest`);
    expect(cached.filter((u) => u.endsWith("config.json"))).toEqual([]);
  });

  test("a push shows a notification with its title, tag and link; the same tag replaces it; a close closes it", async () => {
    const tag = "prompt:p1";
    await deliver(show(tag, "alpha · checkout-flow: permission"));
    const [first] = await eventually(async () => {
      const list = await shown(tag);
      return list.length === 1 ? list : undefined;
    }, "the first notification");
    expect(first).toMatchObject({
      title: "alpha · checkout-flow: permission",
      body: "Bash wants to run: npm test",
      tag,
      data: { url: "#/attention?item=prompt%3Ap1", tag, kind: "permission_prompt" },
      icon: `${web.url}icons/icon-192.png`,
      badge: `${web.url}icons/badge-96.png`,
    });

    await deliver(show(tag, "alpha · checkout-flow: permission (2 waiting)"));
    await eventually(async () => {
      const list = await shown(tag);
      return list.length === 1 && list[0]!.title === "alpha · checkout-flow: permission (2 waiting)";
    }, "the notification replaced in place");

    await deliver(show("tina-test", "tina test", { kind: "test", url: "#/notifications", body: "Push works on this device." }));
    await eventually(async () => (await shown()).length === 2, "a second notification beside the first");

    await deliver({ v: 1, op: "close", tag });
    await eventually(async () => {
      const list = await shown();
      return list.length === 1 && list[0]!.tag === "tina-test";
    }, "the first one closed, the test one still there");

    // The app in the background and no other notification: a close would leave the push with
    // nothing shown (browsers penalise that), so the last one becomes a quiet "resolved" one.
    // Playwright makes every page report focus; without that the page in front has it alone.
    await cdp.send("Emulation.setFocusEmulationEnabled", { enabled: false });
    const other = await browser.context.newPage();
    try {
      await other.bringToFront();
      await eventually(async () => !(await page.evaluate(() => document.hasFocus())), "the app in the background");
      await deliver({ v: 1, op: "close", tag: "tina-test" });
      await eventually(async () => {
        const list = await shown();
        return list.length === 1 && list[0]!.tag === "tina-test" && list[0]!.title === "Resolved: tina test";
      }, "the last one replaced by a quiet resolved one");
      expect((await shown("tina-test"))[0]).toMatchObject({ data: { url: "#/attention", tag: "tina-test", kind: "resolved" } });
    } finally {
      await other.close();
      await page.bringToFront();
      await cdp.send("Emulation.setFocusEmulationEnabled", { enabled: true });
    }
  });

  test("pushes that arrive together: a show and a close of another item both take effect, every time", async () => {
    // Their events run at the same time in the worker; the close's read of the notifications must
    // not overlap the show (Chromium would drop the new one from its list: on screen, never closed).
    for (let k = 0; k < 6; k++) {
      await deliver(show(`burst:old${k}`, `old ${k}`));
      await deliver(show(`burst:new${k}`, `new ${k}`), { v: 1, op: "close", tag: `burst:old${k}` });
      const tags = (await shown()).map((n) => n.tag);
      expect(tags, `burst ${k}`).toContain(`burst:new${k}`);
      expect(tags, `burst ${k}`).not.toContain(`burst:old${k}`);
    }
    await page.evaluate(async () => {
      for (const n of await (await navigator.serviceWorker.ready).getNotifications()) if (n.tag.startsWith("burst:")) n.close();
    });
  });

  test("a push that cannot be read still shows something: the generic notification", async () => {
    await deliver("this is not JSON");
    const [generic] = await eventually(async () => {
      const list = await shown("tina-generic");
      return list.length === 1 ? list : undefined;
    }, "the generic notification");
    expect(generic).toMatchObject({ title: "tina: something needs you", data: { url: "#/attention", tag: "tina-generic", kind: "generic" } });
  });

  test("a tap on a notification closes it and opens its deep link in the open window, without a reload", async () => {
    const tag = "blocked:o1:2";
    await page.goto(`${web.url}#/fleet`);
    await page.getByRole("heading", { name: "Fleet" }).waitFor();
    await markDocument(page);
    await deliver(show(tag, "bravo · search-index: phase 2 blocked", { kind: "blocked_phase" }));
    await eventually(async () => (await shown(tag)).length === 1, "the notification to tap");

    await tap(tag);

    await page.waitForURL(`${web.url}#/attention?item=${encodeURIComponent(tag)}`);
    await page.getByRole("heading", { name: "Needs you" }).waitFor();
    expect(await documentStillMarked(page)).toBe(true);
    await eventually(async () => (await shown(tag)).length === 0, "the tapped notification closed");
  });

  test("the notifications page against the deployment: no push keys said plainly; settings kept; the webhook shown by its host only", async () => {
    await page.goto(`${web.url}#/account`);
    await page.getByRole("link", { name: "Notification settings →" }).click();
    await page.waitForURL(`${web.url}#/notifications`);
    await page.getByRole("heading", { name: "Notifications" }).waitFor();
    // The test backend has no VAPID keys: the page says how to set them and offers no switch.
    await page.locator('[data-testid="push-device"][data-phase="off"]').waitFor();
    expect(await page.getByTestId("no-vapid").innerText()).toContain("tina push keys");
    expect(await page.getByRole("button", { name: "Turn on push" }).count()).toBe(0);

    const stall = page.getByRole("checkbox", { name: /Stalls and stop failures/ });
    expect(await stall.isChecked()).toBe(true);
    await stall.click();
    await eventually(async () => !(await stall.isChecked()), "the kind unticked");

    const webhook = page.getByRole("form", { name: "Webhook" });
    await webhook.getByLabel("Address").fill("http://127.0.0.1:9/hooks/secret-path-7f3k");
    await webhook.getByRole("button", { name: "Save" }).click();
    await page.getByTestId("webhook-current").filter({ hasText: "Posting to 127.0.0.1:9" }).waitFor();

    await page.reload();
    await page.getByRole("heading", { name: "Notifications" }).waitFor();
    await page.getByTestId("webhook-current").filter({ hasText: "Posting to 127.0.0.1:9" }).waitFor();
    expect(await page.getByRole("checkbox", { name: /Stalls and stop failures/ }).isChecked()).toBe(false);
    expect(await page.getByRole("checkbox", { name: /Permission prompts/ }).isChecked()).toBe(true);
    expect(await page.content()).not.toContain("secret-path-7f3k");
    await screenshot(page, "notifications-phone", true);
  });

  test("answering from the notification: turned on with a confirmation; its Allow once button answers the open prompt on the deployment, once", async () => {
    await page.goto(`${web.url}#/notifications`);
    await page.getByRole("heading", { name: "Notifications" }).waitFor();
    const box = page.getByTestId("answering");
    expect(await box.isChecked()).toBe(false);
    await box.click();
    const confirm = page.getByTestId("answering-confirm");
    expect(await confirm.innerText()).toContain("without opening tina");
    await confirm.getByRole("button", { name: "Turn on answering from notifications" }).click();
    await confirm.waitFor({ state: "detached" });
    await eventually(async () => await box.isChecked(), "the setting on");

    // A laptop asks for a tool; the owner (the first account) may answer on a laptop by its default rule.
    const laptop = new ConvexHttpClient(backend.url);
    const { credential: nodeToken } = await laptop.mutation(api.nodes.enrollNode, { enrollmentSecret: backend.enrollmentSecret, name: "laptop-n", os: "linux" });
    await laptop.mutation(api.nodes.registerNode, { nodeToken, os: "linux" });
    const promptId = randomBytes(16).toString("hex");
    const now = Date.now();
    await laptop.mutation(api.prompts.openPrompt, {
      nodeToken,
      promptId,
      sessionId: "0b6f3a0e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
      toolName: "Bash",
      toolInput: '{"command":"npm test"}',
      openedAt: now,
      expiresAt: now + 120_000,
    });
    const tag = `prompt:${promptId}`;
    // What notifyNode:deliver does before it pushes (this backend has no VAPID keys): a random
    // token, its hash stored by notify:issueAnswers.
    const userId = (await dumpTables(backend.url, "users")).users![0]!._id as string;
    const token = randomBytes(32).toString("base64url");
    const issued = (await runFunction(backend.url, "notify:issueAnswers", {
      userId,
      answers: [{ tag, tokenHash: createHash("sha256").update(token).digest("hex"), spec: { decisions: ["allow", "deny"], target: { kind: "prompt", promptId }, expiresAt: now + 120_000 } }],
    })) as { value: boolean[] };
    expect(issued.value).toEqual([true]);
    const payload = show(tag, "Claude Code asks to use Bash", {
      actions: [
        { action: "allow", title: "Allow once" },
        { action: "deny", title: "Deny" },
      ],
      answer: { token, url: `${backend.url}/api/mutation` },
    });

    const press = async (action: string) => await tap(tag, action);

    await deliver(payload);
    const [withButtons] = await eventually(async () => {
      const list = await shown(tag);
      return list.length === 1 ? list : undefined;
    }, "the notification with its buttons");
    expect(withButtons!.actions).toEqual([
      { action: "allow", title: "Allow once" },
      { action: "deny", title: "Deny" },
    ]);
    expect(withButtons!.data).toMatchObject({ answer: { token, decisions: ["allow", "deny"] } });

    await press("allow");
    const prompt = await eventually(async () => {
      const rows = (await dumpTables(backend.url, "prompts")).prompts!.filter((p) => p.promptId === promptId);
      return rows[0]?.status === "answered" ? rows[0] : undefined;
    }, "the prompt answered on the deployment");
    expect(prompt).toMatchObject({ decision: "allow_once", answeredBy: userId });
    const audit = (await dumpTables(backend.url, "auditLog")).auditLog!.filter((e) => e.verb === "prompt.answered" && e.actorId === userId);
    expect(audit.at(-1)).toMatchObject({ client: "notification" });
    await eventually(async () => {
      const list = await shown(tag);
      return list.length === 1 && list[0]!.title === "Answered: Claude Code asks to use Bash" && list[0]!.body === "Allowed once.";
    }, "the outcome shown in place of the notification");
    // A tap on the outcome opens the item, as any notification.
    expect((await shown(tag))[0]!.data).toMatchObject({ url: `#/attention?item=${encodeURIComponent(tag)}`, kind: "answered" });

    // The same push again (a replay): the token is spent, the refusal is said, nothing changes.
    await deliver(payload);
    await eventually(async () => (await shown(tag))[0]?.actions.length === 2, "the replayed notification");
    await press("deny");
    const refused = await eventually(async () => {
      const list = await shown(tag);
      return list[0]?.title.startsWith("Not answered: ") ? list[0] : undefined;
    }, "the refusal shown");
    expect(refused.body).toContain("already answered once");
    expect((await dumpTables(backend.url, "prompts")).prompts!.find((p) => p.promptId === promptId)).toMatchObject({ status: "answered", decision: "allow_once" });
    await page.evaluate(async (t) => {
      for (const n of await (await navigator.serviceWorker.ready).getNotifications({ tag: t })) n.close();
    }, tag);
  });

  test("offline: the page says nothing is current and pauses; a reload still opens the shell from the cache", async () => {
    await page.goto(`${web.url}#/`);
    await page.getByRole("heading", { name: "Orchestrations" }).waitFor();
    const { port } = web;
    await browser.context.setOffline(true);
    const notice = page.getByTestId("offline");
    await notice.waitFor();
    expect(await notice.innerText()).toContain("This device is offline");
    expect(await page.locator('[data-connectivity="offline"]').getAttribute("inert")).not.toBeNull();
    await screenshot(page, "offline-phone");

    // The host gone too, so the worker's own fetches fail whether or not emulation reaches it.
    await web.close();
    await page.reload();
    await page.getByTestId("offline").waitFor();
    expect(await page.getByTestId("offline").innerText()).toContain("You are offline");
    expect(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toBe(`${web.url}sw.js`);

    // Back online: the app starts by itself (no reload), signed in, with live data.
    web = await startStaticServer({ convexUrl: backend.url, port });
    await markDocument(page);
    await browser.context.setOffline(false);
    await page.getByTestId("whoami").filter({ hasText: "·" }).first().waitFor({ state: "attached", timeout: 20_000 });
    await page.getByTestId("offline").waitFor({ state: "detached" });
    expect(await documentStillMarked(page)).toBe(true);
  });
});
