// Wire-level encodings of the Convex sync protocol and HTTP API that are not
// Convex values (those use convexToJson/jsonToConvex from "convex/values").

/** A Convex timestamp (u64) as base64 of its 8 little-endian bytes. */
export function encodeTs(ts: bigint): string {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(BigInt.asUintN(64, ts));
  return bytes.toString("base64");
}

export function decodeTs(encoded: string): bigint {
  const bytes = Buffer.from(encoded, "base64");
  if (bytes.length !== 8) {
    throw new Error(`Invalid timestamp ${JSON.stringify(encoded)}: expected 8 bytes`);
  }
  return bytes.readBigUInt64LE();
}

/**
 * Canonical `module:function` form of a udfPath: `items.js:list` and
 * `items:list` name the same function, a bare `items` is `items:default`.
 */
export function normalizeUdfPath(udfPath: string): string {
  const colon = udfPath.lastIndexOf(":");
  let modulePath = colon === -1 ? udfPath : udfPath.slice(0, colon);
  const exportName = colon === -1 ? "default" : udfPath.slice(colon + 1);
  if (modulePath.endsWith(".js")) {
    modulePath = modulePath.slice(0, -3);
  }
  return `${modulePath}:${exportName || "default"}`;
}

/** Splits a normalized udfPath into its module path and export name. */
export function splitUdfPath(normalized: string): { modulePath: string; exportName: string } {
  const colon = normalized.lastIndexOf(":");
  return { modulePath: normalized.slice(0, colon), exportName: normalized.slice(colon + 1) };
}

let requestCounter = 0;

/** A request id for error messages, like the real backend's `[Request ID: …]`. */
export function newRequestId(): string {
  requestCounter = (requestCounter + 1) % 0x10000;
  const random = Math.floor(Math.random() * 0xffffffffffff);
  return random.toString(16).padStart(12, "0") + requestCounter.toString(16).padStart(4, "0");
}

/** Origin for a listening address, bracketing IPv6 and mapping wildcards to loopback. */
export function originFor(host: string, port: number): string {
  let connectHost = host;
  if (host === "0.0.0.0" || host === "") {
    connectHost = "127.0.0.1";
  } else if (host === "::") {
    connectHost = "::1";
  }
  if (connectHost.includes(":")) {
    connectHost = `[${connectHost}]`;
  }
  return `http://${connectHost}:${port}`;
}
