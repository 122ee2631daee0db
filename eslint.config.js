// One ESLint run for the TypeScript side: `npx eslint .` (or `npm run lint`) from the repository root.
//   convex/        Convex functions: typescript-eslint recommended + @convex-dev recommended (type-aware)
//   convex-local/  the local Convex-compatible backend: typescript-eslint recommended
//   web/           the dashboard: typescript-eslint recommended + react-hooks recommended
import js from "@eslint/js";
import convexPlugin from "@convex-dev/eslint-plugin";
import reactHooks from "eslint-plugin-react-hooks";
import { defineConfig, globalIgnores } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

const TS = "**/*.{ts,tsx,mts,cts}";

export default defineConfig([
  globalIgnores([
    "**/node_modules/",
    "**/_generated/",
    "**/dist/",
    "test-artifacts/",
    ".venv/",
    ".tina-demo/",
    // Benchmarks (Python, with two TypeScript drivers): outside the three trees linted here.
    "bench/",
  ]),

  {
    name: "tina/typescript",
    files: [`convex/${TS}`, `convex-local/${TS}`, `web/${TS}`, "*.{js,ts}"],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: {
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      // `const { dropped: _d, ...rest } = x` omits a key; `_arg` keeps a signature's shape.
      "@typescript-eslint/no-unused-vars": ["error", { ignoreRestSiblings: true, argsIgnorePattern: "^_" }],
      // A `let` a callback reads before the one assignment (e.g. its own unsubscribe) stays `let`.
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
    },
  },

  {
    name: "tina/convex",
    files: [`convex/${TS}`],
    extends: [convexPlugin.configs.recommended],
    languageOptions: {
      // The @convex-dev rules use type information when it is there.
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },

  {
    name: "tina/convex-tests",
    // Tests run in vitest's Node process, not in a deployment: they set the process environment
    // the functions read (through `env` from _generated/server, which is that same object).
    files: ["convex/**/*.test.ts", "convex/test.setup.ts"],
    rules: { "@convex-dev/no-process-env": "off" },
  },

  {
    name: "tina/web",
    files: [`web/src/${TS}`],
    extends: [reactHooks.configs.flat.recommended],
    languageOptions: {
      globals: { ...globals.browser },
    },
  },
]);
