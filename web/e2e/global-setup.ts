// Builds the dashboard once before the browser tests, so they always test the current code
// as a static build (the way it is deployed), not a dev server.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "vite";

export default async function setup(): Promise<void> {
  if (process.env.TINA_E2E_SKIP_BUILD === "1") return;
  const here = path.dirname(fileURLToPath(import.meta.url));
  // vitest sets NODE_ENV=test, which would make Vite build React's development bundle.
  const saved = process.env.NODE_ENV;
  process.env.NODE_ENV = "production";
  try {
    await build({ configFile: path.resolve(here, "..", "vite.config.ts"), mode: "production", logLevel: "warn" });
  } finally {
    process.env.NODE_ENV = saved;
  }
}
