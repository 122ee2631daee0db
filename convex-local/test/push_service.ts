// A stand-in for a phone's push service (RFC 8030), on 127.0.0.1, for the push tests and the
// push latency benchmark. It holds test subscriptions with real P-256 keys and, for each push
// request, checks what a real push service checks and decrypts what the browser would:
//
//   - `Authorization: vapid t=<JWT>, k=<public key>` (RFC 8292): an ES256 JWT signed by that key,
//     `aud` the endpoint's origin, `exp` at most 24 h ahead, `sub` a mailto: or https: contact;
//   - `Content-Encoding: aes128gcm`, a `TTL`, an optional `Urgency` and `Topic` (≤ 32 base64url);
//   - the body (RFC 8291 / RFC 8188): ECDH with the subscription's private key, HKDF-SHA-256 with
//     its auth secret, AES-128-GCM, the padding delimiter.
//
// A request that passes is recorded and answered 201; a subscription marked gone answers 404 or
// 410; anything else is refused (400/401/403) and recorded in `refused`, which tests expect empty.
import { createDecipheriv, createECDH, hkdfSync, randomBytes, randomUUID, type ECDH } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { importJWK, jwtVerify } from "jose";

export type TestSubscription = {
  id: string;
  endpoint: string;
  keys: { p256dh: string; auth: string };
};

type Held = TestSubscription & { ecdh: ECDH; publicKey: Buffer; authSecret: Buffer; gone?: 404 | 410 };

export type PushRecord = {
  subscriptionId: string;
  /** ms since the epoch, when the request's headers arrived. */
  receivedAt: number;
  ttl: number;
  urgency?: string;
  topic?: string;
  /** The decrypted payload (UTF-8), and parsed when it is JSON. */
  text: string;
  payload: unknown;
  /** The VAPID JWT's claims. */
  claims: Record<string, unknown>;
};

export type Refusal = { subscriptionId?: string; status: number; reason: string };

const URGENCIES = new Set(["very-low", "low", "normal", "high"]);
const TOPIC_RE = /^[A-Za-z0-9_-]{1,32}$/;
const DAY_S = 24 * 60 * 60;

function hkdf(ikm: Buffer, salt: Buffer, info: Buffer, length: number): Buffer {
  return Buffer.from(hkdfSync("sha256", ikm, salt, info, length));
}

class Refused extends Error {
  constructor(readonly status: number, reason: string) {
    super(reason);
  }
}

/** RFC 8291 §3.4 / RFC 8188 §2: decrypts a one-record aes128gcm body for `sub`. */
export function decryptAes128gcm(sub: { ecdh: ECDH; publicKey: Buffer; authSecret: Buffer }, body: Buffer): Buffer {
  if (body.length < 21 + 65 + 17) throw new Refused(400, `body of ${body.length} bytes is too short for aes128gcm`);
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20]!;
  if (idlen !== 65) throw new Refused(400, `keyid of ${idlen} bytes: expected the sender's 65-byte P-256 key`);
  const senderKey = body.subarray(21, 21 + idlen);
  const record = body.subarray(21 + idlen);
  if (rs < 18 || record.length > rs) throw new Refused(400, `a single record of at most rs=${rs} bytes expected, got ${record.length}`);
  const ecdhSecret = sub.ecdh.computeSecret(senderKey);
  const keyInfo = Buffer.concat([Buffer.from("WebPush: info\0"), sub.publicKey, senderKey]);
  const ikm = hkdf(ecdhSecret, sub.authSecret, keyInfo, 32);
  const cek = hkdf(ikm, salt, Buffer.from("Content-Encoding: aes128gcm\0"), 16);
  const nonce = hkdf(ikm, salt, Buffer.from("Content-Encoding: nonce\0"), 12);
  const decipher = createDecipheriv("aes-128-gcm", cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  } catch {
    throw new Refused(400, "the payload does not decrypt with the subscription's keys");
  }
  let end = plain.length - 1;
  while (end >= 0 && plain[end] === 0) end--;
  if (end < 0 || plain[end] !== 2) throw new Refused(400, "no last-record padding delimiter (0x02)");
  return plain.subarray(0, end);
}

/** The P-256 public key of a `k=` parameter as a JWK. */
function jwkOf(k: string): { kty: string; crv: string; x: string; y: string } {
  const raw = Buffer.from(k, "base64url");
  if (raw.length !== 65 || raw[0] !== 4) throw new Refused(401, "k is not an uncompressed P-256 public key");
  return { kty: "EC", crv: "P-256", x: raw.subarray(1, 33).toString("base64url"), y: raw.subarray(33).toString("base64url") };
}

async function checkVapid(header: string | undefined, audience: string): Promise<Record<string, unknown>> {
  const match = /^vapid\s+t=([A-Za-z0-9_.-]+)\s*,\s*k=([A-Za-z0-9_-]+)$/.exec(header ?? "");
  if (match === null) throw new Refused(401, `Authorization is not "vapid t=…, k=…": ${JSON.stringify(header?.slice(0, 40))}`);
  const key = await importJWK(jwkOf(match[2]!), "ES256");
  let claims: Record<string, unknown>;
  try {
    ({ payload: claims } = await jwtVerify(match[1]!, key, { audience, algorithms: ["ES256"] }));
  } catch (error) {
    throw new Refused(403, `VAPID JWT refused: ${(error as Error).message}`);
  }
  const exp = claims.exp;
  if (typeof exp !== "number" || exp > Date.now() / 1000 + DAY_S) throw new Refused(403, "VAPID JWT exp missing or more than 24 h ahead");
  const sub = claims.sub;
  if (typeof sub !== "string" || !/^(mailto:|https:)/.test(sub)) throw new Refused(403, "VAPID JWT sub is not a mailto: or https: contact");
  return claims;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export class PushService {
  readonly received: PushRecord[] = [];
  readonly refused: Refusal[] = [];
  /** Requests to subscriptions marked gone, by subscription id. */
  readonly goneHits = new Map<string, number>();
  private readonly subs = new Map<string, Held>();
  private readonly listeners = new Set<() => void>();

  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(): Promise<PushService> {
    let service: PushService | undefined;
    const server = createServer((req, res) => void service!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    service = new PushService(server, `http://127.0.0.1:${port}`);
    return service;
  }

  /** A new browser subscription: fresh P-256 keys and auth secret, an endpoint on this service. */
  subscription(): TestSubscription {
    const ecdh = createECDH("prime256v1");
    const publicKey = ecdh.generateKeys();
    const authSecret = randomBytes(16);
    const id = randomUUID();
    const held: Held = { id, endpoint: `${this.url}/push/${id}`, keys: { p256dh: publicKey.toString("base64url"), auth: authSecret.toString("base64url") }, ecdh, publicKey, authSecret };
    this.subs.set(id, held);
    return { id, endpoint: held.endpoint, keys: held.keys };
  }

  /** From now on the push service answers `status` for this subscription (it expired). */
  markGone(id: string, status: 404 | 410 = 410): void {
    this.subs.get(id)!.gone = status;
  }

  /** Resolves with the first message (already received or coming) that `match` accepts. */
  async waitFor(match: (m: PushRecord) => boolean, what: string, timeoutMs = 10_000): Promise<PushRecord> {
    const found = this.received.find(match);
    if (found !== undefined) return found;
    return await new Promise<PushRecord>((resolve, reject) => {
      const check = () => {
        const hit = this.received.find(match);
        if (hit === undefined) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        const seen = this.received.map((m) => JSON.stringify(m.payload)).join("\n  ");
        const refused = this.refused.map((r) => `${r.status} ${r.reason}`).join("\n  ");
        reject(new Error(`not within ${timeoutMs} ms: ${what}\nreceived:\n  ${seen}\nrefused:\n  ${refused}`));
      }, timeoutMs);
      this.listeners.add(check);
    });
  }

  /** Resolves when `count()` reaches `n` (e.g. requests to a gone subscription). */
  async waitUntil(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const id = /^\/push\/([0-9a-f-]+)$/.exec(req.url ?? "")?.[1];
    const sub = id === undefined ? undefined : this.subs.get(id);
    const body = await readBody(req);
    const answer = (status: number, headers: Record<string, string> = {}) => {
      res.writeHead(status, headers).end();
    };
    if (req.method !== "POST" || sub === undefined) {
      this.refused.push({ subscriptionId: id, status: 404, reason: `${req.method} ${req.url}: no such subscription` });
      answer(404);
      return;
    }
    if (sub.gone !== undefined) {
      this.goneHits.set(sub.id, (this.goneHits.get(sub.id) ?? 0) + 1);
      answer(sub.gone);
      return;
    }
    try {
      const claims = await checkVapid(req.headers.authorization, new URL(sub.endpoint).origin);
      if (req.headers["content-encoding"] !== "aes128gcm") throw new Refused(400, `Content-Encoding ${req.headers["content-encoding"]}, not aes128gcm`);
      const ttlText = req.headers.ttl;
      const ttl = Number(ttlText);
      if (typeof ttlText !== "string" || !/^[0-9]+$/.test(ttlText)) throw new Refused(400, `TTL missing or not a number: ${ttlText}`);
      const urgency = req.headers.urgency as string | undefined;
      if (urgency !== undefined && !URGENCIES.has(urgency)) throw new Refused(400, `Urgency ${urgency}`);
      const topic = req.headers.topic as string | undefined;
      if (topic !== undefined && !TOPIC_RE.test(topic)) throw new Refused(400, `Topic ${JSON.stringify(topic)}: at most 32 base64url characters`);
      const text = decryptAes128gcm(sub, body).toString("utf8");
      let payload: unknown = text;
      try {
        payload = JSON.parse(text);
      } catch {
        // Kept as text.
      }
      this.received.push({ subscriptionId: sub.id, receivedAt, ttl, ...(urgency ? { urgency } : {}), ...(topic ? { topic } : {}), text, payload, claims });
      answer(201, { Location: `${this.url}/message/${randomUUID()}` });
      for (const listener of [...this.listeners]) listener();
    } catch (error) {
      const status = error instanceof Refused ? error.status : 500;
      this.refused.push({ subscriptionId: sub.id, status, reason: (error as Error).message });
      answer(status);
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
