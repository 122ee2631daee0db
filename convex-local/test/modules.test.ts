// Which files of a functions folder are function modules.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect, test } from "vitest";
import { normalizeUdfPath } from "../encoding.js";
import { FunctionModules } from "../modules.js";

test("modules follow the Convex CLI's rules for deployable files", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "convex-local-modules-"));
  const files = [
    "_generated/api.js",
    "_generated/api.d.ts",
    "schema.ts",
    "messages.ts",
    "model/nodes.ts",
    "messages.test.ts",
    "test.setup.ts",
    "auth.config.ts",
    ".hidden.ts",
    "#emacs.ts",
    "with space.ts",
    "README.md",
    "component/convex.config.ts",
    "component/inner.ts",
  ];
  for (const file of files) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), "export {};\n");
  }
  const modules = FunctionModules.fromDir(dir);
  expect(modules.modulePaths().sort()).toEqual(["messages", "model/nodes", "schema"]);
  // convex-test finds the module root through the key under _generated.
  expect(Object.keys(modules.modules)).toContain(`${dir.split(path.sep).join("/")}/_generated/api.js`);
});

test("a folder without _generated is refused", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "convex-local-modules-"));
  writeFileSync(path.join(dir, "a.ts"), "export {};\n");
  expect(() => FunctionModules.fromDir(dir)).toThrow(/No _generated folder/);
});

test("udfPaths are normalized like the real backend does", () => {
  expect(normalizeUdfPath("messages:list")).toBe("messages:list");
  expect(normalizeUdfPath("messages.js:list")).toBe("messages:list");
  expect(normalizeUdfPath("messages")).toBe("messages:default");
  expect(normalizeUdfPath("model/nodes.js:get")).toBe("model/nodes:get");
});
