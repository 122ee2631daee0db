// A real Convex client that never reaches a backend, for component tests that need none.
import { ConvexReactClient } from "convex/react";

/** A socket that never connects. */
class SilentSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readyState = 0;
  onopen: (() => void) | null = null;
  onclose: (() => void) | null = null;
  onmessage: (() => void) | null = null;
  onerror: (() => void) | null = null;
  send() {}
  close() {
    this.readyState = 3;
  }
}

/** A Convex client whose socket never connects (its address takes no connection either). */
export function offlineClient(): ConvexReactClient {
  return new ConvexReactClient("http://127.0.0.1:9", {
    webSocketConstructor: SilentSocket as unknown as typeof WebSocket,
    unsavedChangesWarning: false,
  });
}
