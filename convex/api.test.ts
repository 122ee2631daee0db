// @vitest-environment edge-runtime
// Properties every public function must have, checked over all modules so a new
// function cannot be forgotten.
import { describe, expect, test } from "vitest";
import { allFunctions, LIBRARY_FUNCTIONS } from "./test.setup";

describe("every function", () => {
  test("there are public functions to check", async () => {
    const publicFns = (await allFunctions()).filter(([, fn]) => fn.isPublic);
    expect(publicFns.length).toBeGreaterThan(20);
  });

  test("has argument and return validators", async () => {
    const missing: string[] = [];
    for (const [name, fn] of await allFunctions()) {
      if (LIBRARY_FUNCTIONS.has(name)) continue;
      const args = JSON.parse(fn.exportArgs!());
      const returns = JSON.parse(fn.exportReturns!());
      if (args === null || args.type === "any") missing.push(`${name} (args)`);
      if (returns === null || returns.type === "any") missing.push(`${name} (returns)`);
    }
    expect(missing).toEqual([]);
  });

  test("public ones are built with an authorizing wrapper from convex/functions.ts", async () => {
    const unguarded: string[] = [];
    for (const [name, fn] of await allFunctions()) {
      if (!fn.isPublic || LIBRARY_FUNCTIONS.has(name)) continue;
      if (fn.tinaAccess === undefined) unguarded.push(name);
    }
    expect(unguarded).toEqual([]);
  });

  test("wrappers ask for the credential their access level needs", async () => {
    const wrong: string[] = [];
    for (const [name, fn] of await allFunctions()) {
      if (!fn.isPublic || fn.tinaAccess === undefined) continue;
      const fields = Object.keys(JSON.parse(fn.exportArgs!()).value ?? {});
      const needs = fn.tinaAccess === "node" ? "nodeToken" : fn.tinaAccess === "enrollment" ? "enrollmentSecret" : fn.tinaAccess === "notification" ? "token" : null;
      if (needs !== null && !fields.includes(needs)) wrong.push(name);
      if (needs === null && (fields.includes("nodeToken") || fields.includes("enrollmentSecret"))) wrong.push(name);
    }
    expect(wrong).toEqual([]);
  });
});
