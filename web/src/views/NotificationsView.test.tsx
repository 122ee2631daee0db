// The notifications page: push on this device (the browser's PushManager and Notification are
// stand-ins here; the rest is the page's real code), the messages when push cannot work, and
// the settings it sends to convex/notify.ts (the data it receives, as the other view tests).
import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { getFunctionName, type FunctionReference } from "convex/server";
import { ConvexError } from "convex/values";
import { afterEach, beforeEach, describe, expect, test, vi, type Mock } from "vitest";
import type { NotifySettings } from "../api";
import { NOTIFY_KINDS, vapidKeyBytes } from "../lib/push";
import { DEVICE_ID_KEY } from "../pwa/pushDevice";
import { MeProvider } from "../session";
import { NotificationsView } from "./NotificationsView";

const VAPID = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM";

const served: Record<string, unknown> = {};
const mutations: Record<string, Mock> = {};
const mutation = (name: string): Mock => (mutations[name] ??= vi.fn(async () => null));
vi.mock("convex/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("convex/react")>()),
  useQuery: (ref: FunctionReference<"query">) => served[getFunctionName(ref)],
  useMutation: (ref: FunctionReference<"mutation">) => mutation(getFunctionName(ref)),
}));

// ---- the browser's push pieces, stood in ----------------------------------------------------

class FakeSubscription {
  constructor(
    readonly manager: FakePushManager,
    readonly endpoint: string,
    readonly options: { applicationServerKey: ArrayBuffer | null; userVisibleOnly: boolean },
  ) {}
  toJSON() {
    return { endpoint: this.endpoint, expirationTime: null, keys: { p256dh: "BPkp256dh", auth: "authsecret" } };
  }
  async unsubscribe() {
    this.manager.current = null;
    this.manager.unsubscribed++;
    return true;
  }
}

class FakePushManager {
  current: FakeSubscription | null = null;
  subscribed: { userVisibleOnly: boolean; applicationServerKey: Uint8Array }[] = [];
  unsubscribed = 0;
  async getSubscription() {
    return this.current;
  }
  async subscribe(options: { userVisibleOnly: boolean; applicationServerKey: Uint8Array }) {
    this.subscribed.push(options);
    this.current = new FakeSubscription(this, `https://fcm.googleapis.com/fcm/send/device-${this.subscribed.length}`, {
      userVisibleOnly: options.userVisibleOnly,
      applicationServerKey: options.applicationServerKey.slice().buffer,
    });
    return this.current;
  }
}

let push: FakePushManager;
let permission: NotificationPermission;
let answer: NotificationPermission;
const requestPermission = vi.fn(async () => (permission = answer));

function installBrowser({ pushManager = true } = {}) {
  push = new FakePushManager();
  permission = "default";
  answer = "granted";
  requestPermission.mockClear();
  Object.defineProperty(navigator, "serviceWorker", {
    configurable: true,
    value: { getRegistration: async () => ({ pushManager: push }) },
  });
  const w = window as unknown as Record<string, unknown>;
  if (pushManager) w.PushManager = FakePushManager;
  else delete w.PushManager;
  w.Notification = {
    get permission() {
      return permission;
    },
    requestPermission,
  };
}

function settings(over: Partial<NotifySettings> = {}): NotifySettings {
  return { kinds: [...NOTIFY_KINDS], quietHours: null, ntfy: null, webhook: null, answering: false, ...over };
}

beforeEach(() => {
  for (const key of Object.keys(mutations)) delete mutations[key];
  mutation("notify:subscribe").mockResolvedValue({ deviceId: "dev1" });
  Object.assign(served, {
    "notify:config": { vapidPublicKey: VAPID },
    "notify:devices": [],
    "notify:settings": settings(),
    "notify:recentDeliveries": [],
  });
  installBrowser();
});

afterEach(() => {
  delete (navigator as unknown as Record<string, unknown>).serviceWorker;
  const w = window as unknown as Record<string, unknown>;
  delete w.PushManager;
  delete w.Notification;
  localStorage.clear();
});

const device = () => screen.getByTestId("push-device");

async function renderPage() {
  render(<NotificationsView />);
  await waitFor(() => expect(device().getAttribute("data-phase")).not.toBe("checking"));
}

describe("push on this device", () => {
  test("turn on: permission, a subscription with the deployment's key, then notify:subscribe", async () => {
    await renderPage();
    expect(device()).toHaveTextContent("Off for this device");
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Turn on push" }));
    });
    await waitFor(() => expect(device()).toHaveTextContent("On for this device"));
    expect(requestPermission).toHaveBeenCalledTimes(1);
    expect(push.subscribed).toHaveLength(1);
    expect(push.subscribed[0]!.userVisibleOnly).toBe(true);
    expect(Array.from(push.subscribed[0]!.applicationServerKey)).toEqual(Array.from(vapidKeyBytes(VAPID)));
    expect(mutation("notify:subscribe")).toHaveBeenCalledWith({
      subscription: { endpoint: "https://fcm.googleapis.com/fcm/send/device-1", keys: { p256dh: "BPkp256dh", auth: "authsecret" } },
      label: expect.any(String),
    });
    expect(localStorage.getItem(DEVICE_ID_KEY)).toBe("dev1");
  });

  test("turn off: notify:unsubscribe with the endpoint, then the browser's unsubscribe", async () => {
    await push.subscribe({ userVisibleOnly: true, applicationServerKey: vapidKeyBytes(VAPID) });
    await renderPage();
    expect(device()).toHaveTextContent("On for this device");
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Turn off push" }));
    });
    await waitFor(() => expect(device()).toHaveTextContent("Off for this device"));
    expect(mutation("notify:unsubscribe")).toHaveBeenCalledWith({ endpoint: "https://fcm.googleapis.com/fcm/send/device-1" });
    expect(push.unsubscribed).toBe(1);
  });

  test("turning off fails on the server: the subscription stays and the page says why", async () => {
    await push.subscribe({ userVisibleOnly: true, applicationServerKey: vapidKeyBytes(VAPID) });
    mutation("notify:unsubscribe").mockRejectedValue(new TypeError("Failed to fetch"));
    await renderPage();
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Turn off push" }));
    });
    expect(await screen.findByRole("alert")).toHaveTextContent("The connection to the server is down. Check your connection");
    expect(push.unsubscribed).toBe(0);
    expect(device()).toHaveTextContent("On for this device");
  });

  test("the browser's push fails: said as the browser's problem in words, not the server's, no raw text", async () => {
    vi.spyOn(push, "subscribe").mockRejectedValueOnce(new DOMException("Registration failed - push service error", "InvalidStateError"));
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    await renderPage();
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Turn on push" }));
    });
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("The browser could not set up push on this device.");
    expect(alert.textContent).not.toMatch(/server|Registration failed/);
    expect(mutation("notify:subscribe")).not.toHaveBeenCalled();
    warn.mockRestore();
  });

  test("a subscription made for the deployment's previous key: turned on again with the new one", async () => {
    await push.subscribe({ userVisibleOnly: true, applicationServerKey: new Uint8Array(65).fill(4) });
    await renderPage();
    expect(screen.getByTestId("old-keys")).toHaveTextContent("previous keys");
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Turn push on again" }));
    });
    await waitFor(() => expect(device()).toHaveTextContent("On for this device"));
    expect(push.unsubscribed).toBe(1);
    expect(push.subscribed).toHaveLength(2);
    expect(Array.from(new Uint8Array(push.current!.options.applicationServerKey!))).toEqual(Array.from(vapidKeyBytes(VAPID)));
    expect(mutation("notify:subscribe")).toHaveBeenCalledWith(expect.objectContaining({ subscription: expect.objectContaining({ endpoint: "https://fcm.googleapis.com/fcm/send/device-2" }) }));
  });

  test("permission refused: nothing subscribed, and the page says how to allow it", async () => {
    answer = "denied";
    await renderPage();
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Turn on push" }));
    });
    expect(await screen.findByTestId("permission-denied")).toHaveTextContent("Notifications are blocked for this site");
    expect(push.subscribed).toHaveLength(0);
    expect(mutation("notify:subscribe")).not.toHaveBeenCalled();
    expect(screen.getByRole("button", { name: "Turn on push" })).toBeDisabled();
  });

  test("the server refuses the device: the browser's subscription is dropped again", async () => {
    mutation("notify:subscribe").mockRejectedValue(new ConvexError({ code: "conflict", message: "at most 10 devices a user: remove one first" }));
    await renderPage();
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Turn on push" }));
    });
    expect(await screen.findByRole("alert")).toHaveTextContent("The server refused: At most 10 devices a user: remove one first.");
    expect(push.subscribed).toHaveLength(1);
    expect(push.current).toBeNull();
    expect(device()).toHaveTextContent("Off for this device");
  });

  test("no VAPID key on the deployment: says how to set one, offers no switch", async () => {
    served["notify:config"] = { vapidPublicKey: null };
    await renderPage();
    expect(screen.getByTestId("no-vapid")).toHaveTextContent("tina push keys");
    expect(screen.queryByRole("button", { name: "Turn on push" })).toBeNull();
  });

  test("a browser without push says so", async () => {
    installBrowser({ pushManager: false });
    await renderPage();
    expect(device().getAttribute("data-phase")).toBe("unsupported");
    expect(device()).toHaveTextContent("does not support push notifications");
  });

  test("send test asks for one push test", async () => {
    await push.subscribe({ userVisibleOnly: true, applicationServerKey: vapidKeyBytes(VAPID) });
    await renderPage();
    await act(async () => {
      fireEvent.click(within(device()).getByRole("button", { name: "Send test" }));
    });
    expect(mutation("notify:sendTest")).toHaveBeenCalledWith({ channel: "push" });
    expect(await screen.findByText(/Test sent to every device/)).toBeTruthy();
  });
});

describe("settings", () => {
  test("unticking a kind saves the others", async () => {
    await renderPage();
    const stall = screen.getByRole("checkbox", { name: /Stalls and stop failures/ });
    expect((stall as HTMLInputElement).checked).toBe(true);
    await act(async () => {
      fireEvent.click(stall);
    });
    expect(mutation("notify:updateSettings")).toHaveBeenCalledWith({ kinds: NOTIFY_KINDS.filter((k) => k !== "stall") });
  });

  test("the webhook shows only its host; an http address elsewhere is refused before it is sent", async () => {
    served["notify:settings"] = settings({ webhook: { urlHost: "hooks.slack.com" } });
    await renderPage();
    expect(screen.getByTestId("webhook-current")).toHaveTextContent("Posting to hooks.slack.com");
    const form = screen.getByRole("form", { name: "Webhook" });
    const input = within(form).getByLabelText("Replace the address") as HTMLInputElement;
    expect(input.value).toBe("");
    fireEvent.change(input, { target: { value: "http://hooks.example.com/x" } });
    await act(async () => {
      fireEvent.submit(form);
    });
    expect(within(screen.getByRole("region", { name: "Webhook" })).getByRole("alert")).toHaveTextContent("webhook.url: must start with https://");
    expect(mutation("notify:updateSettings")).not.toHaveBeenCalled();
    fireEvent.change(input, { target: { value: "https://discord.com/api/webhooks/1/abc" } });
    await act(async () => {
      fireEvent.submit(form);
    });
    expect(mutation("notify:updateSettings")).toHaveBeenCalledWith({ webhook: { url: "https://discord.com/api/webhooks/1/abc" } });
    await waitFor(() => expect(input.value).toBe(""));
  });

  test("ntfy and quiet hours are checked, then saved", async () => {
    await renderPage();
    const ntfy = screen.getByRole("form", { name: "ntfy" });
    fireEvent.change(within(ntfy).getByLabelText("Topic"), { target: { value: "tina-7f3k9" } });
    await act(async () => {
      fireEvent.submit(ntfy);
    });
    expect(mutation("notify:updateSettings")).toHaveBeenCalledWith({ ntfy: { server: "https://ntfy.sh", topic: "tina-7f3k9" } });
    const quiet = screen.getByRole("form", { name: "Quiet hours" });
    fireEvent.change(within(quiet).getByLabelText("Time zone"), { target: { value: "Europe/Paris" } });
    await act(async () => {
      fireEvent.submit(quiet);
    });
    expect(mutation("notify:updateSettings")).toHaveBeenLastCalledWith({ quietHours: { start: "22:00", end: "07:00", timeZone: "Europe/Paris" } });
  });

  test("devices (this one marked) and recent deliveries", async () => {
    localStorage.setItem(DEVICE_ID_KEY, "d2");
    served["notify:devices"] = [
      { _id: "d1", label: "Safari on iPhone", endpointHost: "web.push.apple.com", createdAt: Date.now() - 86_400_000, lastError: "HTTP 500" },
      { _id: "d2", label: "Chrome on Android", endpointHost: "fcm.googleapis.com", createdAt: Date.now() - 3_600_000, lastSuccessAt: Date.now() - 60_000 },
    ];
    served["notify:recentDeliveries"] = [
      { at: Date.now() - 30_000, channel: "push", op: "show", tag: "prompt:p1", ok: true, status: 201, deviceLabel: "Chrome on Android" },
      { at: Date.now() - 90_000, channel: "webhook", op: "show", tag: "tina-test", ok: false, status: 404, error: "HTTP 404" },
    ];
    await renderPage();
    const rows = screen.getAllByTestId("push-device-row");
    expect(rows[0]).toHaveTextContent("web.push.apple.com");
    expect(rows[0]).toHaveTextContent("failing");
    expect(rows[1]).toHaveTextContent("Chrome on Android (this device)");
    const deliveries = screen.getAllByTestId("delivery");
    expect(deliveries[0]).toHaveTextContent("notification by push to Chrome on Android");
    expect(deliveries[0]).toHaveTextContent("delivered");
    expect(deliveries[1]).toHaveTextContent("test by webhook");
    expect(deliveries[1]).toHaveTextContent("failed (404)");
  });
});

describe("answering from the notification", () => {
  const box = () => screen.getByTestId("answering") as HTMLInputElement;

  test("off by default; ticking it asks to confirm, saying what it allows; only the confirmation turns it on", async () => {
    await renderPage();
    expect(box().checked).toBe(false);
    fireEvent.click(box());
    const confirm = screen.getByTestId("answering-confirm");
    expect(confirm).toHaveTextContent("Allow once and Deny");
    expect(confirm).toHaveTextContent("Approve plan");
    expect(confirm).toHaveTextContent("without opening tina");
    expect(mutation("notify:setAnswering")).not.toHaveBeenCalled();
    fireEvent.click(within(confirm).getByRole("button", { name: "Cancel" }));
    expect(screen.queryByTestId("answering-confirm")).toBeNull();
    expect(box().checked).toBe(false);

    fireEvent.click(box());
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Turn on answering from notifications" }));
    });
    expect(mutation("notify:setAnswering")).toHaveBeenCalledWith({ enabled: true });
  });

  test("by keyboard: the question takes focus; Escape cancels it and focus goes back to the box", async () => {
    await renderPage();
    fireEvent.click(box());
    const confirm = screen.getByTestId("answering-confirm");
    expect(document.activeElement).toBe(within(confirm).getByRole("button", { name: "Turn on answering from notifications" }));
    fireEvent.keyDown(document.activeElement!, { key: "Escape" });
    expect(screen.queryByTestId("answering-confirm")).toBeNull();
    expect(box().checked).toBe(false);
    expect(document.activeElement).toBe(box());
    expect(mutation("notify:setAnswering")).not.toHaveBeenCalled();
  });

  test("on: unticking turns it off at once", async () => {
    served["notify:settings"] = settings({ answering: true });
    await renderPage();
    expect(box().checked).toBe(true);
    await act(async () => {
      fireEvent.click(box());
    });
    expect(mutation("notify:setAnswering")).toHaveBeenCalledWith({ enabled: false });
    expect(screen.queryByTestId("answering-confirm")).toBeNull();
  });

  test("a viewer cannot turn it on, and is told why", async () => {
    render(
      <MeProvider value={{ name: "Victor", role: "viewer" }}>
        <NotificationsView />
      </MeProvider>,
    );
    await waitFor(() => expect(device().getAttribute("data-phase")).not.toBe("checking"));
    expect(box().disabled).toBe(true);
    expect(screen.getByText(/Viewers cannot act/)).toBeTruthy();
  });
});
