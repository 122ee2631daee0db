// A minimal Convex sync peer for bench/client_vs_official.py: it answers every frame at once and
// does no work (no functions, no database), so a client's round trip against it is the client's
// own cost plus loopback. Prints "ready <url>" once listening.
//
// Answers: ModifyQuerySet -> a Transition adding each query with the value 1; Mutation -> a
// MutationResponse (result null) and a Transition to its timestamp. Everything else is ignored.
import { WebSocketServer } from "ws";

const server = new WebSocketServer({ host: "127.0.0.1", port: 0, path: "/api/sync" });
server.on("listening", () => console.log(`ready http://127.0.0.1:${server.address().port}`));

function encodeTs(ts) {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(BigInt(ts));
  return bytes.toString("base64");
}

server.on("connection", (socket) => {
  let querySet = 0;
  let ts = 0;
  const version = () => ({ querySet, identity: 0, ts: encodeTs(ts) });
  socket.on("message", (data) => {
    const message = JSON.parse(data.toString());
    if (message.type === "ModifyQuerySet") {
      const startVersion = version();
      querySet = message.newVersion;
      const modifications = message.modifications
        .filter((m) => m.type === "Add")
        .map((m) => ({ type: "QueryUpdated", queryId: m.queryId, value: 1, logLines: [], journal: null }));
      socket.send(JSON.stringify({ type: "Transition", startVersion, endVersion: version(), modifications }));
    } else if (message.type === "Mutation") {
      const startVersion = version();
      ts += 1;
      socket.send(
        JSON.stringify({ type: "MutationResponse", requestId: message.requestId, success: true, result: null, ts: encodeTs(ts), logLines: [] }),
      );
      socket.send(JSON.stringify({ type: "Transition", startVersion, endVersion: version(), modifications: [] }));
    }
  });
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
