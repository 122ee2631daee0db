import { defineConfig } from "vitest/config";

// One vitest run covers the Convex functions (convex-test, edge-runtime per file)
// and the local backend's contract tests (node).
export default defineConfig({
  test: {
    include: ["convex/**/*.test.ts", "convex-local/**/*.test.ts"],
    environment: "node",
    server: { deps: { inline: ["convex-test"] } },
    testTimeout: 30_000,
  },
});
