// Notifications (#/notifications): push on this device, your devices, what notifies you, quiet
// hours, ntfy and a webhook, a test per channel, and what was delivered lately. Everything is
// per person; the Convex functions are convex/notify.ts (issue 20).
import { useMutation, useQuery } from "convex/react";
import { useEffect, useMemo, useRef, useState, type FormEvent, type ReactNode } from "react";
import { notifyApi, type NotifyChannel, type NotifyDelivery, type NotifySettings } from "../api";
import { Badge, Button, EmptyState, Panel, QueryBoundary, Skeleton, Time, ui } from "../components/ui";
import { errorText } from "../lib/errors";
import {
  channelUrlProblem,
  hostOf,
  NOTIFY_KIND_TEXT,
  NOTIFY_KINDS,
  ntfyTopicProblem,
  PUSH_SUPPORT_TEXT,
  quietHoursProblem,
  type NotifyKind,
  type QuietHours,
} from "../lib/push";
import { madeForKey, rememberedDeviceId, usePushDevice } from "../pwa/pushDevice";
import { useMe } from "../session";
import list from "./account.module.css";
import s from "./notifications.module.css";

/** One mutation at a time per form: its problem in words, and a short "done" after it. */
function useRun(): { run: (work: () => Promise<unknown>, done?: string) => Promise<boolean>; problem: string | null; note: string | null; busy: boolean } {
  const [problem, setProblem] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (work: () => Promise<unknown>, done?: string) => {
    setBusy(true);
    setProblem(null);
    setNote(null);
    try {
      await work();
      if (done) setNote(done);
      return true;
    } catch (error) {
      setProblem(errorText(error));
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { run, problem, note, busy };
}

function Outcome({ problem, note }: { problem: string | null; note: string | null }) {
  if (problem)
    return (
      <p className={s.problem} role="alert">
        {problem}
      </p>
    );
  if (note)
    return (
      <p className={s.note} role="status">
        {note}
      </p>
    );
  return null;
}

/** A channel form's buttons: save, remove (`onRemove`, when one is set), and a test (refused with `untested` until one is set). */
function ChannelButtons({ channel, busy, onRemove, untested }: { channel: NotifyChannel; busy: boolean; onRemove?: () => void; untested: string }) {
  return (
    <div className={s.buttons}>
      <Button type="submit" kind="primary" small disabled={busy}>
        Save
      </Button>
      {onRemove && (
        <Button small disabled={busy} onClick={onRemove}>
          Remove
        </Button>
      )}
      <TestButton channel={channel} disabledReason={onRemove ? undefined : untested} />
    </div>
  );
}

function TestButton({ channel, disabledReason }: { channel: NotifyChannel; disabledReason?: string }) {
  const sendTest = useMutation(notifyApi.sendTest);
  const { run, problem, note, busy } = useRun();
  return (
    <>
      <Button
        small
        disabled={busy}
        disabledReason={disabledReason}
        onClick={() => void run(() => sendTest({ channel }), channel === "push" ? "Test sent to every device that has push on." : "Test sent.")}
      >
        Send test
      </Button>
      <Outcome problem={problem} note={note} />
    </>
  );
}

// ---- this device ---------------------------------------------------------------------------

function ThisDevice() {
  const config = useQuery(notifyApi.config);
  const subscribe = useMutation(notifyApi.subscribe);
  const unsubscribe = useMutation(notifyApi.unsubscribe);
  const server = useMemo(() => ({ subscribe, unsubscribe }), [subscribe, unsubscribe]);
  const { state, busy, problem, enable, disable } = usePushDevice(server);

  let body: ReactNode;
  if (config === undefined || state.phase === "checking") body = <Skeleton height={44} />;
  else if (state.phase === "unsupported") body = <p className={s.message}>{PUSH_SUPPORT_TEXT[state.reason]}</p>;
  else if (state.phase === "no-worker")
    body = <p className={s.message}>tina's service worker is not running on this page (it runs in the built app over https or on localhost, not in the dev server). Reload to try again.</p>;
  else if (config.vapidPublicKey === null && state.phase === "off")
    body = (
      <p className={s.message} data-testid="no-vapid">
        This deployment has no push keys yet. Its owner creates them with <code>tina push keys</code> and sets them on the deployment (see
        docs/operations.md); ntfy and webhooks below work without them.
      </p>
    );
  else if (state.phase === "on" && config.vapidPublicKey !== null && !madeForKey(state.applicationServerKey, config.vapidPublicKey)) {
    const vapidPublicKey = config.vapidPublicKey;
    body = (
      <>
        <p className={s.message} data-testid="old-keys">
          Push on this device was set up with the deployment's previous keys, so nothing reaches it. Turn it on again.
        </p>
        <div className={s.line}>
          <Badge tone="warning">Needs turning on again</Badge>
          <Button kind="primary" small disabled={busy} onClick={() => void enable(vapidPublicKey)}>
            Turn push on again
          </Button>
          <Button small disabled={busy} onClick={() => void disable()}>
            Turn off push
          </Button>
        </div>
      </>
    );
  } else if (state.phase === "on")
    body = (
      <div className={s.line}>
        <Badge tone="success" dot>
          On for this device
        </Badge>
        <Button small disabled={busy} onClick={() => void disable()}>
          Turn off push
        </Button>
        <TestButton channel="push" />
      </div>
    );
  else {
    const vapidPublicKey = config.vapidPublicKey;
    body = (
      <>
        {state.permission === "denied" && (
          <p className={s.message} data-testid="permission-denied">
            Notifications are blocked for this site. Allow them in the browser's site settings (on a phone: the app's notification settings), then come back.
          </p>
        )}
        <div className={s.line}>
          <Badge tone="neutral">Off for this device</Badge>
          {vapidPublicKey !== null && (
            <Button
              kind="primary"
              small
              disabled={busy}
              disabledReason={state.permission === "denied" ? "notifications are blocked for this site" : undefined}
              reason="none"
              onClick={() => void enable(vapidPublicKey)}
            >
              Turn on push
            </Button>
          )}
        </div>
      </>
    );
  }
  return (
    <Panel title="This device" label="This device">
      <div data-testid="push-device" data-phase={state.phase}>
        {body}
      </div>
      <Outcome problem={problem} note={null} />
    </Panel>
  );
}

// ---- your devices --------------------------------------------------------------------------

function Devices() {
  const devices = useQuery(notifyApi.devices);
  const mine = rememberedDeviceId();
  return (
    <Panel title="Your devices" label="Your devices" flush>
      {devices === undefined ? (
        <div className={s.pad}>
          <Skeleton height={56} />
        </div>
      ) : devices.length === 0 ? (
        <EmptyState title="No device has push on yet." />
      ) : (
        <ul className={list.rows}>
          {devices.map((d) => (
            <li key={d._id} className={list.row} data-testid="push-device-row">
              <span className={list.who}>
                <strong>
                  {d.label}
                  {d._id === mine && <span className={ui.secondary}> (this device)</span>}
                </strong>
                <span className={ui.secondary}>
                  {d.endpointHost} · since <Time at={d.createdAt} />
                  {d.lastSuccessAt !== undefined && (
                    <>
                      {" "}
                      · last delivered <Time at={d.lastSuccessAt} />
                    </>
                  )}
                </span>
              </span>
              {d.lastError !== undefined ? (
                <Badge tone="danger" title={d.lastError}>
                  failing
                </Badge>
              ) : (
                <Badge tone="success">ok</Badge>
              )}
            </li>
          ))}
        </ul>
      )}
    </Panel>
  );
}

// ---- what notifies you -----------------------------------------------------------------------

function Kinds({ settings }: { settings: NotifySettings }) {
  const update = useMutation(notifyApi.updateSettings);
  const { run, problem, busy } = useRun();
  const on = new Set<NotifyKind>(settings.kinds);
  const toggle = (kind: NotifyKind, checked: boolean) => {
    const next = NOTIFY_KINDS.filter((k) => (k === kind ? checked : on.has(k)));
    void run(() => update({ kinds: next }));
  };
  return (
    <Panel title="What notifies you" label="What notifies you">
      <fieldset className={s.kinds} disabled={busy}>
        <legend className={s.legend}>On every channel you have set up</legend>
        {NOTIFY_KINDS.map((kind) => (
          <label key={kind} className={s.kind}>
            <input type="checkbox" checked={on.has(kind)} onChange={(e) => toggle(kind, e.target.checked)} data-kind={kind} />
            <span>
              <strong>{NOTIFY_KIND_TEXT[kind].label}</strong>
              <span className={ui.secondary}>{NOTIFY_KIND_TEXT[kind].detail}</span>
            </span>
          </label>
        ))}
      </fieldset>
      <Outcome problem={problem} note={null} />
    </Panel>
  );
}

// ---- answering from the notification --------------------------------------------------------

/** What turning it on allows, said before it is on (the confirm step). */
const ANSWERING_ALLOWS =
  "Permission prompts get Allow once and Deny, and plans awaiting approval get Approve plan, as buttons on the notification. " +
  "Pressing one answers as you, without opening tina: anyone who can use your phone's notifications can then answer. " +
  "Each notification answers at most once, within an hour (a prompt: before it expires); a plan that changed since is refused; " +
  "every answer is in the audit log. The laptop's rule on who may answer its prompts still applies.";

function Answering({ settings }: { settings: NotifySettings }) {
  const me = useMe();
  const setAnswering = useMutation(notifyApi.setAnswering);
  const { run, problem, note, busy } = useRun();
  const [confirming, setConfirming] = useState(false);
  const box = useRef<HTMLInputElement>(null);
  const question = useRef<HTMLDivElement>(null);
  const viewer = me?.role === "viewer";
  // The question takes focus when it opens (keyboard and screen-reader users land on it).
  useEffect(() => {
    if (confirming) question.current?.querySelector<HTMLElement>("button:not(:disabled)")?.focus();
  }, [confirming]);
  const cancel = () => {
    setConfirming(false);
    box.current?.focus();
  };
  const on = settings.answering;
  const change = (checked: boolean) => {
    if (checked) {
      setConfirming(true);
      return;
    }
    setConfirming(false);
    if (on) void run(() => setAnswering({ enabled: false }), "Off: notifications only open tina.");
  };
  const confirm = async () => {
    if (await run(() => setAnswering({ enabled: true }), "On: new notifications for prompts and plans carry the buttons.")) setConfirming(false);
  };
  return (
    <Panel title="Answer from the notification" label="Answer from the notification">
      <label className={s.kind}>
        <input ref={box} type="checkbox" checked={on || confirming} disabled={busy || (viewer && !on)} onChange={(e) => change(e.target.checked)} data-testid="answering" />
        <span>
          <strong>Allow once / Deny and Approve plan on the notification</strong>
          <span className={ui.secondary}>
            {viewer ? "Viewers cannot act: this needs the operator or owner role." : on ? "On for your devices." : "Off: a tap opens tina. Turning it on asks you to confirm."}
          </span>
        </span>
      </label>
      {confirming && !on && (
        <div
          ref={question}
          role="alertdialog"
          aria-label="Confirm answering from the notification"
          className={s.confirm}
          data-testid="answering-confirm"
          onKeyDown={(e) => {
            if (e.key === "Escape") cancel();
          }}
        >
          <p className={s.message}>{ANSWERING_ALLOWS}</p>
          <div className={s.buttons}>
            <Button kind="primary" small disabled={busy} onClick={() => void confirm()}>
              Turn on answering from notifications
            </Button>
            <Button small onClick={cancel}>
              Cancel
            </Button>
          </div>
        </div>
      )}
      <Outcome problem={problem} note={note} />
    </Panel>
  );
}

function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

function QuietHoursForm({ settings }: { settings: NotifySettings }) {
  const update = useMutation(notifyApi.updateSettings);
  const current = settings.quietHours;
  const [draft, setDraft] = useState<QuietHours>(current ?? { start: "22:00", end: "07:00", timeZone: browserTimeZone() });
  const { run, problem, note, busy } = useRun();
  const [invalid, setInvalid] = useState<string | null>(null);
  const save = (e: FormEvent) => {
    e.preventDefault();
    const why = quietHoursProblem(draft);
    setInvalid(why);
    if (why === null) void run(() => update({ quietHours: draft }), "Quiet hours saved.");
  };
  return (
    <Panel title="Quiet hours" label="Quiet hours">
      <p className={s.message}>
        {current ? (
          <>
            Nothing notifies you from {current.start} to {current.end} ({current.timeZone}); what is still open afterwards notifies you then.
          </>
        ) : (
          "Off: you are notified at any hour."
        )}
      </p>
      <form className={s.form} onSubmit={save} aria-label="Quiet hours">
        <label className={ui.field}>
          From
          <input className={ui.input} type="time" value={draft.start} onChange={(e) => setDraft({ ...draft, start: e.target.value })} required />
        </label>
        <label className={ui.field}>
          To
          <input className={ui.input} type="time" value={draft.end} onChange={(e) => setDraft({ ...draft, end: e.target.value })} required />
        </label>
        <label className={ui.field}>
          Time zone
          <input className={ui.input} value={draft.timeZone} onChange={(e) => setDraft({ ...draft, timeZone: e.target.value })} required />
        </label>
        <div className={s.buttons}>
          <Button type="submit" kind="primary" small disabled={busy}>
            {current ? "Save" : "Turn on"}
          </Button>
          {current && (
            <Button small disabled={busy} onClick={() => void run(() => update({ quietHours: null }), "Quiet hours off.")}>
              Turn off
            </Button>
          )}
        </div>
      </form>
      <Outcome problem={invalid ?? problem} note={note} />
    </Panel>
  );
}

function NtfyForm({ settings }: { settings: NotifySettings }) {
  const update = useMutation(notifyApi.updateSettings);
  const current = settings.ntfy;
  const [server, setServer] = useState(current?.server ?? "https://ntfy.sh");
  const [topic, setTopic] = useState(current?.topic ?? "");
  const [invalid, setInvalid] = useState<string | null>(null);
  const { run, problem, note, busy } = useRun();
  const save = (e: FormEvent) => {
    e.preventDefault();
    const why = channelUrlProblem(server, "ntfy.server") ?? ntfyTopicProblem(topic);
    setInvalid(why);
    if (why === null) void run(() => update({ ntfy: { server: server.trim(), topic: topic.trim() } }), "ntfy saved.");
  };
  return (
    <Panel title="ntfy" label="ntfy">
      <p className={s.message}>
        {current ? (
          <>
            Sending to topic <code>{current.topic}</code> on {hostOf(current.server) || current.server}. Anyone who knows a public topic's name can read it: pick a long
            one.
          </>
        ) : (
          "Off. Subscribe to a topic in the ntfy app (ntfy.sh or your own server), then name it here."
        )}
      </p>
      <form className={s.form} onSubmit={save} aria-label="ntfy">
        <label className={ui.field}>
          Server
          <input className={ui.input} type="url" value={server} onChange={(e) => setServer(e.target.value)} required />
        </label>
        <label className={ui.field}>
          Topic
          <input className={ui.input} value={topic} onChange={(e) => setTopic(e.target.value)} required autoComplete="off" />
        </label>
        <ChannelButtons channel="ntfy" busy={busy} onRemove={current ? () => void run(() => update({ ntfy: null }), "ntfy off.") : undefined} untested="save a topic first" />
      </form>
      <Outcome problem={invalid ?? problem} note={note} />
    </Panel>
  );
}

function WebhookForm({ settings }: { settings: NotifySettings }) {
  const update = useMutation(notifyApi.updateSettings);
  const current = settings.webhook;
  const [url, setUrl] = useState("");
  const [invalid, setInvalid] = useState<string | null>(null);
  const { run, problem, note, busy } = useRun();
  const save = async (e: FormEvent) => {
    e.preventDefault();
    const why = channelUrlProblem(url, "webhook.url");
    setInvalid(why);
    // The address is a secret: it leaves the page once, and only its host ever comes back.
    if (why === null && (await run(() => update({ webhook: { url: url.trim() } }), "Webhook saved."))) setUrl("");
  };
  return (
    <Panel title="Webhook" label="Webhook">
      <p className={s.message} data-testid="webhook-current">
        {current ? <>Posting to {current.urlHost} (Slack- and Discord-compatible JSON). The full address is kept secret, even from you.</> : "Off. Paste a Slack or Discord incoming-webhook address, or any that takes JSON."}
      </p>
      <form className={s.form} onSubmit={(e) => void save(e)} aria-label="Webhook">
        <label className={ui.field}>
          {current ? "Replace the address" : "Address"}
          <input className={ui.input} type="url" value={url} onChange={(e) => setUrl(e.target.value)} required autoComplete="off" placeholder="https://hooks.example.com/…" />
        </label>
        <ChannelButtons channel="webhook" busy={busy} onRemove={current ? () => void run(() => update({ webhook: null }), "Webhook off.") : undefined} untested="save an address first" />
      </form>
      <Outcome problem={invalid ?? problem} note={note} />
    </Panel>
  );
}

function Settings() {
  const settings = useQuery(notifyApi.settings);
  if (settings === undefined)
    return (
      <Panel title="What notifies you">
        <Skeleton height={280} />
      </Panel>
    );
  return (
    <>
      <Kinds settings={settings} />
      <Answering settings={settings} />
      <QuietHoursForm settings={settings} />
      <NtfyForm settings={settings} />
      <WebhookForm settings={settings} />
    </>
  );
}

// ---- recent deliveries ---------------------------------------------------------------------

function deliveryText(d: NotifyDelivery): string {
  const what = d.tag === "tina-test" ? "test" : d.op === "close" ? "withdrawn" : "notification";
  const where = d.channel === "push" ? `push${d.deviceLabel ? ` to ${d.deviceLabel}` : ""}` : d.channel;
  return `${what} by ${where}`;
}

function Deliveries() {
  const deliveries = useQuery(notifyApi.recentDeliveries);
  return (
    <Panel title="Recent deliveries" label="Recent deliveries" flush>
      {deliveries === undefined ? (
        <div className={s.pad}>
          <Skeleton height={120} />
        </div>
      ) : deliveries.length === 0 ? (
        <EmptyState title="Nothing delivered yet." />
      ) : (
        <ul className={list.rows}>
          {deliveries.map((d, i) => (
            <li key={`${d.at}-${i}`} className={list.row} data-testid="delivery">
              <span className={list.who}>
                <strong>{deliveryText(d)}</strong>
                <span className={ui.secondary}>
                  <Time at={d.at} />
                  {d.error ? ` · ${d.error}` : ""}
                </span>
              </span>
              <Badge tone={d.ok ? "success" : "danger"}>{d.ok ? "delivered" : `failed${d.status ? ` (${d.status})` : ""}`}</Badge>
            </li>
          ))}
        </ul>
      )}
    </Panel>
  );
}

export function NotificationsView() {
  return (
    <>
      <h1 className={s.title}>Notifications</h1>
      <div className={s.page}>
        <div className={s.column}>
          <QueryBoundary what="push on this device">
            <ThisDevice />
          </QueryBoundary>
          <QueryBoundary what="your devices">
            <Devices />
          </QueryBoundary>
          <QueryBoundary what="recent deliveries">
            <Deliveries />
          </QueryBoundary>
        </div>
        <div className={s.column}>
          <QueryBoundary what="your notification settings">
            <Settings />
          </QueryBoundary>
        </div>
      </div>
    </>
  );
}
