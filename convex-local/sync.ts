// The sync WebSocket protocol (`/api/sync`, `/api/<version>/sync`), one
// SyncConnection per socket. See shared/reference/convex-wire-protocol.md.
import type { WebSocket } from "ws";
import type { JSONValue } from "convex/values";
import { identityFromClaims, TokenError, type Identity, type TokenAuth } from "./auth.js";
import { encodeTs } from "./encoding.js";
import type { LocalBackend, Logger, Outcome } from "./backend.js";

type Version = { querySet: number; identity: number; ts: bigint };

type LiveQuery = {
  udfPath: string;
  args: JSONValue;
  argsKey: string;
  /** What the client last received for this query (see Outcome.fingerprint). */
  sent?: string;
  /** The run of the query this socket last looked at: another object once it ran again. */
  seen?: Outcome;
};

type ServerMessage = Record<string, unknown> & { type: string };

type MutationResponse = ServerMessage & { type: "MutationResponse" };

/** The outcome of verifying a token, which `--verify-tokens` does asynchronously. */
type Verified = { ok: true; identity: Identity } | { ok: false; error: unknown };

/**
 * The identity of requests sent after an Authenticate: known at once when
 * tokens are only decoded, a promise while one is being verified.
 */
type RequestIdentity = Identity | null | Promise<Verified>;

/** A request sent under a token that was refused; the socket is closing. */
class RefusedIdentity extends Error {
  override name = "RefusedIdentity";
}

// Client messages, as far as this server reads them.
type ClientMessage =
  | { type: "Connect"; sessionId: string; connectionCount?: number; lastCloseReason?: string | null }
  | {
      type: "ModifyQuerySet";
      baseVersion: number;
      newVersion: number;
      modifications: (
        | { type: "Add"; queryId: number; udfPath: string; args?: JSONValue[] }
        | { type: "Remove"; queryId: number }
      )[];
    }
  | { type: "Mutation"; requestId: number; udfPath: string; args?: JSONValue[] }
  | { type: "Action"; requestId: number; udfPath: string; args?: JSONValue[] }
  | {
      type: "Authenticate";
      baseVersion: number;
      tokenType: "User" | "Admin" | "None";
      value?: string;
      impersonating?: Record<string, unknown>;
    }
  | { type: "Event" };

/** Runs async jobs one at a time, in the order they were added. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job);
    this.tail = result.catch(() => {});
    return result;
  }
}

const MAX_REMEMBERED_RESPONSES = 1000;

/**
 * What outlives a socket: the client's session. Its mutations run in order
 * across reconnects and a re-sent (sessionId, requestId) gets the first
 * response instead of running twice.
 */
export class ClientSession {
  readonly mutations = new SerialQueue();
  private readonly responses = new Map<number, Promise<MutationResponse>>();
  connections = 0;
  lastSeen = Date.now();

  response(requestId: number): Promise<MutationResponse> | undefined {
    return this.responses.get(requestId);
  }

  /** Drops a remembered response (only if it is still `response`), so a re-sent copy runs. */
  forget(requestId: number, response: Promise<MutationResponse>): void {
    if (this.responses.get(requestId) === response) this.responses.delete(requestId);
  }

  remember(requestId: number, response: Promise<MutationResponse>): void {
    this.responses.set(requestId, response);
    if (this.responses.size > MAX_REMEMBERED_RESPONSES) {
      const oldest = this.responses.keys().next().value as number;
      this.responses.delete(oldest);
    }
  }
}

export class SessionStore {
  private readonly sessions = new Map<string, ClientSession>();

  constructor(private readonly idleMs = 10 * 60_000) {}

  attach(sessionId: string): ClientSession {
    let session = this.sessions.get(sessionId);
    if (session === undefined) {
      session = new ClientSession();
      this.sessions.set(sessionId, session);
    }
    session.connections += 1;
    session.lastSeen = Date.now();
    return session;
  }

  detach(session: ClientSession): void {
    session.connections -= 1;
    session.lastSeen = Date.now();
  }

  /** Forgets sessions that have had no socket for a while. */
  sweep(now = Date.now()): void {
    for (const [id, session] of this.sessions) {
      if (session.connections <= 0 && now - session.lastSeen > this.idleMs) this.sessions.delete(id);
    }
  }

  get size(): number {
    return this.sessions.size;
  }
}

function wireVersion(version: Version): { querySet: number; identity: number; ts: string } {
  return { querySet: version.querySet, identity: version.identity, ts: encodeTs(version.ts) };
}

function queryModification(queryId: number, outcome: Outcome): ServerMessage {
  if (outcome.ok) {
    return { type: "QueryUpdated", queryId, value: outcome.value, logLines: [], journal: null };
  }
  const failed: ServerMessage = {
    type: "QueryFailed",
    queryId,
    errorMessage: outcome.message,
    logLines: [],
    journal: null,
  };
  if (outcome.errorData !== undefined) failed.errorData = outcome.errorData;
  return failed;
}

function fingerprint(outcome: Outcome): string {
  return outcome.ok ? `ok:${JSON.stringify(outcome.value)}` : `error:${outcome.fingerprint}`;
}

async function executeMutation(
  backend: LocalBackend,
  requestId: number,
  udfPath: string,
  args: JSONValue,
  identity: Identity | null,
): Promise<MutationResponse> {
  const outcome = await backend.runPublic("mutation", udfPath, args, identity);
  if (!outcome.ok) {
    const response: MutationResponse = {
      type: "MutationResponse",
      requestId,
      success: false,
      result: outcome.message,
      logLines: [],
    };
    if (outcome.errorData !== undefined) response.errorData = outcome.errorData;
    return response;
  }
  // A timestamp at or after the mutation's commit; the commit is published to
  // every socket before this resolves.
  const ts = await backend.refresh();
  return {
    type: "MutationResponse",
    requestId,
    success: true,
    result: outcome.value,
    ts: encodeTs(ts),
    logLines: [],
  };
}

export type SyncOptions = {
  backend: LocalBackend;
  sessions: SessionStore;
  log: Logger;
  /** Logs every message in and out when set. */
  trace?: Logger;
};

let nextConnectionId = 1;

export class SyncConnection {
  readonly id = nextConnectionId++;
  private version: Version = { querySet: 0, identity: 0, ts: 0n };
  private readonly queries = new Map<number, LiveQuery>();
  // Versions the client will have once queued jobs ran, checked on arrival.
  private expectedQuerySet = 0;
  private expectedIdentity = 0;
  // The identity in message order, for mutations and actions; queries switch
  // identity when their Authenticate job runs.
  private requestIdentity: RequestIdentity = null;
  private queryIdentity: Identity | null = null;
  private session: ClientSession | null = null;
  private readonly jobs = new SerialQueue();
  private pendingSync: { force: boolean } | null = null;
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly ws: WebSocket,
    private readonly options: SyncOptions,
  ) {
    this.unsubscribe = options.backend.onCommit(() => this.requestSync(false));
    ws.on("message", (data, isBinary) => {
      if (isBinary) {
        this.fatal("Binary messages are not part of the protocol");
        return;
      }
      this.onMessage(data.toString());
    });
    ws.on("close", () => this.onClose());
    ws.on("error", (error) => this.options.log(`socket ${this.id} error: ${error.message}`));
  }

  private get backend(): LocalBackend {
    return this.options.backend;
  }

  private sessionOrDefault(): ClientSession {
    // A client that sends requests before Connect gets a session of its own.
    this.session ??= this.options.sessions.attach(`anonymous-${this.id}`);
    return this.session;
  }

  send(message: ServerMessage): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    const text = JSON.stringify(message);
    this.options.trace?.(`ws#${this.id} out ${text}`);
    this.ws.send(text);
  }

  ping(): void {
    this.send({ type: "Ping" });
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) {
      this.ws.close(code, reason);
    }
  }

  /** Queues state work for this socket; a crash in it ends the socket, never the server. */
  private job(work: () => Promise<void>): void {
    this.jobs.run(work).catch((error: unknown) => {
      this.fatal(`Internal error: ${(error as Error)?.stack ?? error}`);
    });
  }

  private fatal(error: string): void {
    this.options.log(`socket ${this.id}: ${error}`);
    this.send({ type: "FatalError", error });
    this.close(1011, "FatalError");
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    if (this.session !== null) this.options.sessions.detach(this.session);
  }

  private onMessage(text: string): void {
    this.options.trace?.(`ws#${this.id} in ${text}`);
    let message: ClientMessage;
    try {
      message = JSON.parse(text) as ClientMessage;
    } catch {
      this.fatal("Could not parse message as JSON");
      return;
    }
    switch (message.type) {
      case "Connect":
        if (this.session !== null) {
          this.fatal("Connect sent twice on one socket");
          return;
        }
        this.session = this.options.sessions.attach(String(message.sessionId));
        return;
      case "ModifyQuerySet":
        this.onModifyQuerySet(message);
        return;
      case "Authenticate":
        this.onAuthenticate(message);
        return;
      case "Mutation":
        this.onMutation(message);
        return;
      case "Action":
        this.onAction(message).catch((error: unknown) => {
          this.options.log(`action ${message.udfPath} crashed: ${(error as Error)?.stack ?? error}`);
        });
        return;
      case "Event":
        return;
      default:
        this.fatal(`Unknown message type ${JSON.stringify((message as { type: unknown }).type)}`);
    }
  }

  private onModifyQuerySet(message: Extract<ClientMessage, { type: "ModifyQuerySet" }>): void {
    if (message.baseVersion !== this.expectedQuerySet) {
      this.fatal(
        `Base version ${message.baseVersion} passed up doesn't match the current version ${this.expectedQuerySet}`,
      );
      return;
    }
    this.expectedQuerySet = message.newVersion;
    this.job(async () => {
      const removed: number[] = [];
      for (const modification of message.modifications) {
        if (modification.type === "Add") {
          const args = modification.args?.[0] ?? {};
          this.queries.set(modification.queryId, {
            udfPath: modification.udfPath,
            args,
            argsKey: JSON.stringify(args),
          });
        } else if (modification.type === "Remove") {
          if (this.queries.delete(modification.queryId)) removed.push(modification.queryId);
        }
      }
      await this.sync({ querySet: message.newVersion, removed });
    });
  }

  private onAuthenticate(message: Extract<ClientMessage, { type: "Authenticate" }>): void {
    if (message.baseVersion !== this.expectedIdentity) {
      this.fatal(
        `Authenticate base version ${message.baseVersion} doesn't match the current identity version ${this.expectedIdentity}`,
      );
      return;
    }
    let identity: Identity | null | Promise<Identity>;
    try {
      identity = identityFor(message, this.backend.tokens);
    } catch (error) {
      this.job(async () => this.refuseAuthentication(message.baseVersion, error));
      return;
    }
    const identityVersion = message.baseVersion + 1;
    this.expectedIdentity = identityVersion;
    if (!(identity instanceof Promise)) {
      const known = identity;
      this.requestIdentity = known;
      this.job(() => this.sync({ identity: { version: identityVersion, value: known } }));
      return;
    }
    // Verifying takes a while; requests sent after this message wait for it.
    const verified: Promise<Verified> = identity.then(
      (value) => ({ ok: true, identity: value }),
      (error: unknown) => ({ ok: false, error }),
    );
    this.requestIdentity = verified;
    this.job(async () => {
      const result = await verified;
      if (!result.ok) {
        this.refuseAuthentication(message.baseVersion, result.error);
        return;
      }
      await this.sync({ identity: { version: identityVersion, value: result.identity } });
    });
  }

  /** Runs inside `jobs`: answers an unusable token with an AuthError and closes the socket. */
  private refuseAuthentication(baseVersion: number, error: unknown): void {
    const text = error instanceof TokenError ? error.message : `Invalid authentication: ${error}`;
    this.send({ type: "AuthError", error: text, baseVersion, authUpdateAttempted: true });
    // The socket's identity is now unknown to the client; start afresh.
    this.close(1000, "AuthError");
  }

  private onMutation(message: Extract<ClientMessage, { type: "Mutation" }>): void {
    const session = this.sessionOrDefault();
    let response = session.response(message.requestId);
    if (response === undefined) {
      const identity = this.requestIdentity;
      const args = message.args?.[0] ?? {};
      if (identity instanceof Promise) {
        const pending: Promise<MutationResponse> = session.mutations.run(async () => {
          const result = await identity;
          if (!result.ok) {
            // Never ran: the client sends it again on its next socket.
            session.forget(message.requestId, pending);
            throw new RefusedIdentity();
          }
          return await executeMutation(this.backend, message.requestId, message.udfPath, args, result.identity);
        });
        response = pending;
      } else {
        response = session.mutations.run(() =>
          executeMutation(this.backend, message.requestId, message.udfPath, args, identity),
        );
      }
      session.remember(message.requestId, response);
    }
    response.then(
      (reply) => {
        if (this.closed) return;
        this.send(reply);
        // Clients complete a mutation on a Transition that arrives after its
        // response, and the covering one may have gone out already.
        this.requestSync(true);
      },
      (error) => {
        if (error instanceof RefusedIdentity) return;
        this.options.log(`mutation ${message.udfPath} crashed: ${error}`);
      },
    );
  }

  private async onAction(message: Extract<ClientMessage, { type: "Action" }>): Promise<void> {
    let identity = this.requestIdentity;
    if (identity instanceof Promise) {
      const result = await identity;
      // Refused: the socket is closing and the client fails the action itself.
      if (!result.ok) return;
      identity = result.identity;
    }
    const outcome = await this.backend.runPublic("action", message.udfPath, message.args?.[0] ?? {}, identity);
    // Publish what the action committed before answering.
    await this.backend.refresh();
    const reply: ServerMessage = outcome.ok
      ? { type: "ActionResponse", requestId: message.requestId, success: true, result: outcome.value, logLines: [] }
      : {
          type: "ActionResponse",
          requestId: message.requestId,
          success: false,
          result: outcome.message,
          logLines: [],
        };
    if (!outcome.ok && outcome.errorData !== undefined) reply.errorData = outcome.errorData;
    this.send(reply);
    // As after a mutation: Convex brings the caller to the latest timestamp once its action ends.
    this.requestSync(true);
  }

  /**
   * Brings the client to the latest timestamp. Requests coalesce while one is
   * waiting; `force` sends a Transition even if nothing changed.
   */
  requestSync(force: boolean): void {
    if (this.closed) return;
    if (this.pendingSync !== null) {
      this.pendingSync.force ||= force;
      return;
    }
    const pending = { force };
    this.pendingSync = pending;
    this.job(async () => {
      this.pendingSync = null;
      await this.sync({ force: pending.force });
    });
  }

  /** Runs inside `jobs`: computes and sends one Transition from the current version. */
  private async sync(change: {
    force?: boolean;
    querySet?: number;
    identity?: { version: number; value: Identity | null };
    removed?: number[];
  }): Promise<void> {
    if (this.closed) return;
    const latest = this.backend.currentTs;
    const ts = latest > this.version.ts ? latest : this.version.ts;
    const end: Version = {
      querySet: change.querySet ?? this.version.querySet,
      identity: change.identity?.version ?? this.version.identity,
      ts,
    };
    const versionChanged =
      end.querySet !== this.version.querySet ||
      end.identity !== this.version.identity ||
      end.ts !== this.version.ts;
    if (!versionChanged && !change.force) return;
    if (change.identity !== undefined) this.queryIdentity = change.identity.value;

    const live = [...this.queries.entries()];
    let outcomes: Outcome[];
    try {
      outcomes = await Promise.all(
        live.map(([, q]) => this.backend.cachedQuery(q.udfPath, q.args, q.argsKey, this.queryIdentity)),
      );
    } catch (error) {
      this.fatal(`Internal error while running queries: ${error}`);
      return;
    }
    if (this.closed) return;
    const modifications: ServerMessage[] = (change.removed ?? []).map((queryId) => ({
      type: "QueryRemoved",
      queryId,
    }));
    let rerun = false; // a query of this socket's ran again: a commit wrote inside its read set
    live.forEach(([queryId, query], i) => {
      if (query.seen !== outcomes[i]) {
        query.seen = outcomes[i];
        rerun = true;
      }
      const print = fingerprint(outcomes[i]);
      if (query.sent === print) return;
      query.sent = print;
      modifications.push(queryModification(queryId, outcomes[i]));
    });
    // Only the timestamp moved, by a commit none of its queries reads: Convex's sync worker sends
    // nothing then (it wakes for its session's invalidated queries, mutations and actions only).
    const onlyTs = end.querySet === this.version.querySet && end.identity === this.version.identity;
    if (onlyTs && !change.force && !rerun && modifications.length === 0) return;
    this.send({
      type: "Transition",
      startVersion: wireVersion(this.version),
      endVersion: wireVersion(end),
      modifications,
    });
    this.version = end;
  }
}

function identityFor(
  message: Extract<ClientMessage, { type: "Authenticate" }>,
  tokens: TokenAuth,
): Identity | null | Promise<Identity> {
  switch (message.tokenType) {
    case "User":
      if (typeof message.value !== "string") throw new TokenError("Authenticate without a token");
      return tokens.identity(message.value);
    case "Admin": {
      // Admin keys are not checked. An admin may act as a user.
      const user = message.impersonating;
      if (user === undefined || user === null) return null;
      const claims: Record<string, unknown> = { ...user, iss: user.issuer, sub: user.subject };
      delete claims.issuer;
      delete claims.subject;
      delete claims.tokenIdentifier;
      return identityFromClaims(claims);
    }
    case "None":
      return null;
    default:
      throw new TokenError(`Unknown token type ${JSON.stringify((message as { tokenType: unknown }).tokenType)}`);
  }
}
