import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// One vitest run covers the Convex functions (convex-test, edge-runtime per file), the local
// backend's contract tests (node) and the dashboard's component tests (web, happy-dom).
// The dashboard's browser tests run separately: `npx vitest run --config vitest.e2e.config.ts`.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: "convex",
          include: ["convex/**/*.test.ts", "convex-local/**/*.test.ts"],
          environment: "node",
          server: { deps: { inline: ["convex-test"] } },
        },
      },
      {
        extends: true,
        plugins: [react()],
        test: {
          name: "web",
          include: ["web/src/**/*.test.{ts,tsx}"],
          environment: "happy-dom",
          setupFiles: ["web/src/test/setup.ts"],
        },
      },
    ],
  },
});
