// A bare sync-protocol peer for tests: sends client messages and waits for
// server messages, keeping the version the way a real client must.
import { randomUUID } from "node:crypto";
import WebSocket from "ws";

export type WireVersion = { querySet: number; identity: number; ts: string };
/**
 * A server message as these tests read it: the fields they follow typed as the protocol sends
 * them (each only on the message types that carry it), everything else left to assertions.
 */
export type Message = {
  type: string;
  startVersion: WireVersion;
  endVersion: WireVersion;
  modifications: Message[];
  queryId: number;
  ts: string;
  [field: string]: unknown;
};
/** A client message: its type and whatever fields that type takes. */
export type ClientMessage = Record<string, unknown> & { type: string };

/** A document as the local API's dump sends it (values JSON-encoded). */
export type DumpedDocument = { _id: string; _creationTime: number; [field: string]: unknown };
/** A JSON reply of the HTTP API: the fields these tests follow, the rest left to assertions. */
export type HttpReply = {
  tables: Record<string, DumpedDocument[]>;
  ts: string;
  value: unknown;
  [field: string]: unknown;
};

export class WireClient {
  readonly received: Message[] = [];
  version: WireVersion = { querySet: 0, identity: 0, ts: "AAAAAAAAAAA=" };
  /** Every Transition must start where the previous one ended; mismatches land here. */
  readonly versionErrors: string[] = [];
  /** The latest modification received per query id. */
  readonly results = new Map<number, Message>();
  private waiters: { match: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  private cursor = 0;
  closed: Promise<{ code: number; reason: string }>;

  private constructor(
    readonly ws: WebSocket,
    readonly sessionId: string,
  ) {
    this.closed = new Promise((resolve) =>
      ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    ws.on("message", (data) => {
      const message = JSON.parse(data.toString()) as Message;
      if (message.type === "Transition") {
        if (JSON.stringify(message.startVersion) !== JSON.stringify(this.version)) {
          this.versionErrors.push(
            `start ${JSON.stringify(message.startVersion)} != current ${JSON.stringify(this.version)}`,
          );
        }
        this.version = message.endVersion;
        for (const modification of message.modifications) {
          this.results.set(modification.queryId, modification);
        }
      }
      this.received.push(message);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(message)) return true;
        w.resolve(message);
        return false;
      });
    });
  }

  static async connect(
    url: string,
    { path = "/api/1.48.0/sync", sessionId = randomUUID() as string, connect = true } = {},
  ): Promise<WireClient> {
    const ws = new WebSocket(url.replace(/^http/, "ws") + path);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const client = new WireClient(ws, sessionId);
    if (connect) {
      client.send({
        type: "Connect",
        sessionId,
        connectionCount: 0,
        lastCloseReason: "InitialConnect",
        clientTs: Date.now(),
      });
    }
    return client;
  }

  send(message: ClientMessage): void {
    this.ws.send(JSON.stringify(message));
  }

  /** The next message (after those already consumed) that matches. */
  next(match: (m: Message) => boolean = () => true, timeoutMs = 3000): Promise<Message> {
    for (; this.cursor < this.received.length; ) {
      const message = this.received[this.cursor++];
      if (match(message)) return Promise.resolve(message);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out waiting for a message")), timeoutMs);
      this.waiters.push({
        match: (m) => match(m),
        resolve: (m) => {
          clearTimeout(timer);
          this.cursor = this.received.length;
          resolve(m);
        },
      });
    });
  }

  /**
   * Resolves with the query's latest modification once it satisfies
   * `predicate`, whether it arrived already or arrives later.
   */
  async result(
    queryId: number,
    predicate: (m: Message) => boolean = () => true,
    timeoutMs = 3000,
  ): Promise<Message> {
    const current = this.results.get(queryId);
    if (current !== undefined && predicate(current)) return current;
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for query ${queryId}: ${JSON.stringify(this.results.get(queryId))}`)),
        timeoutMs,
      );
      this.waiters.push({
        match: (m) => m.type === "Transition" && this.results.get(queryId) !== undefined && predicate(this.results.get(queryId)!),
        resolve: () => {
          clearTimeout(timer);
          resolve(this.results.get(queryId)!);
        },
      });
    });
  }

  /** Marks every message received so far as consumed by `next`. */
  skipReceived(): void {
    this.cursor = this.received.length;
  }

  nextOfType(type: string, timeoutMs?: number): Promise<Message> {
    return this.next((m) => m.type === type, timeoutMs);
  }

  /** Collects messages for a while, without consuming them. */
  async quietFor(ms: number): Promise<Message[]> {
    const start = this.received.length;
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.received.slice(start);
  }

  private querySetVersion = 0;

  addQuery(queryId: number, udfPath: string, args: Record<string, unknown> = {}): void {
    this.modify([{ type: "Add", queryId, udfPath, args: [args], journal: null }]);
  }

  removeQuery(queryId: number): void {
    this.modify([{ type: "Remove", queryId }]);
  }

  modify(modifications: Record<string, unknown>[]): void {
    this.send({
      type: "ModifyQuerySet",
      baseVersion: this.querySetVersion,
      newVersion: this.querySetVersion + 1,
      modifications,
    });
    this.querySetVersion += 1;
  }

  private nextRequestId = 0;

  mutation(udfPath: string, args: Record<string, unknown> = {}, requestId = this.nextRequestId++): number {
    this.send({ type: "Mutation", requestId, udfPath, args: [args] });
    return requestId;
  }

  action(udfPath: string, args: Record<string, unknown> = {}, requestId = this.nextRequestId++): number {
    this.send({ type: "Action", requestId, udfPath, args: [args] });
    return requestId;
  }

  close(): void {
    this.ws.close();
  }
}

/** Decodes a wire timestamp (base64 u64 LE). */
export function tsOf(encoded: string): bigint {
  return Buffer.from(encoded, "base64").readBigUInt64LE();
}

/** Finds the modification for a query in a Transition. */
export function modificationFor(transition: Message, queryId: number): Message | undefined {
  return transition.modifications.find((m) => m.queryId === queryId);
}

/** An unsigned JWT with these claims (this server decodes, never verifies). */
export function fakeJwt(claims: Record<string, unknown>): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${encode({ alg: "none", typ: "JWT" })}.${encode(claims)}.`;
}
