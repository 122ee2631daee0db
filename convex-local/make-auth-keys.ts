// Prints a fresh RS256 key pair for Convex Auth, in the form the local backend and a
// real deployment take it:
//
//   node --import tsx convex-local/make-auth-keys.ts               # --env arguments (shell-quoted)
//   node --import tsx convex-local/make-auth-keys.ts --files DIR   # DIR/JWT_PRIVATE_KEY, DIR/JWKS
//   node --import tsx convex-local/make-auth-keys.ts --json FILE   # one JSON object, for --env-file
//
// JWT_PRIVATE_KEY is the PKCS#8 PEM with its newlines replaced by spaces; JWKS is
// {"keys":[{"use":"sig", ...public JWK}]}. For a real deployment set both with
// `npx convex env set`; never commit a production key.
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

export function makeAuthKeys(): { JWT_PRIVATE_KEY: string; JWKS: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  const jwk = publicKey.export({ format: "jwk" });
  return {
    JWT_PRIVATE_KEY: pem.trimEnd().replace(/\n/g, " "),
    JWKS: JSON.stringify({ keys: [{ use: "sig", alg: "RS256", ...jwk }] }),
  };
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const keys = makeAuthKeys();
  const files = process.argv.indexOf("--files");
  const json = process.argv.indexOf("--json");
  if (json !== -1) {
    const file = process.argv[json + 1];
    if (file === undefined) {
      process.stderr.write("usage: make-auth-keys.ts [--files DIR | --json FILE]\n");
      process.exit(2);
    }
    writeFileSync(file, `${JSON.stringify(keys)}\n`, { mode: 0o600 });
  } else if (files !== -1) {
    const dir = process.argv[files + 1];
    if (dir === undefined) {
      process.stderr.write("usage: make-auth-keys.ts [--files DIR | --json FILE]\n");
      process.exit(2);
    }
    mkdirSync(dir, { recursive: true });
    for (const [name, value] of Object.entries(keys)) writeFileSync(path.join(dir, name), `${value}\n`, { mode: 0o600 });
  } else {
    const args = Object.entries(keys).map(([k, v]) => `--env ${shellQuote(`${k}=${v}`)}`);
    process.stdout.write(`${args.join(" ")}\n`);
  }
}
