import { defineConfig } from "vitest/config";

// Browser end-to-end tests of the dashboard (web/e2e): headless Chromium through
// playwright-core, the local backend, and a laptop. A separate run from `vitest.config.ts`:
//   npx vitest run --config vitest.e2e.config.ts
export default defineConfig({
  test: {
    include: ["web/e2e/**/*.e2e.test.ts"],
    environment: "node",
    globalSetup: ["web/e2e/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 90_000,
  },
});
