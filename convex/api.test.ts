// @vitest-environment edge-runtime
// Properties every public function must have, checked over all modules so a new
// function cannot be forgotten.
import { describe, expect, test } from "vitest";
import { modules } from "./test.setup";

type Registered = {
  isQuery?: boolean;
  isMutation?: boolean;
  isAction?: boolean;
  isPublic?: boolean;
  isInternal?: boolean;
  exportArgs?: () => string;
  exportReturns?: () => string;
};

async function allFunctions(): Promise<[string, Registered][]> {
  const out: [string, Registered][] = [];
  for (const [path, load] of Object.entries(modules)) {
    if (path.includes("_generated")) continue;
    const mod = (await load()) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) {
      const fn = value as Registered;
      if (typeof value === "function" && (fn.isQuery || fn.isMutation || fn.isAction)) {
        out.push([`${path.replace(/^\.\//, "").replace(/\.ts$/, "")}:${name}`, fn]);
      }
    }
  }
  return out;
}

describe("every function", () => {
  test("there are public functions to check", async () => {
    const publicFns = (await allFunctions()).filter(([, fn]) => fn.isPublic);
    expect(publicFns.length).toBeGreaterThan(20);
  });

  test("has argument and return validators", async () => {
    const missing: string[] = [];
    for (const [name, fn] of await allFunctions()) {
      const args = JSON.parse(fn.exportArgs!());
      const returns = JSON.parse(fn.exportReturns!());
      if (args === null || args.type === "any") missing.push(`${name} (args)`);
      if (returns === null || returns.type === "any") missing.push(`${name} (returns)`);
    }
    expect(missing).toEqual([]);
  });

  test("public ones authenticate their caller: a node token, a user, or the enrollment secret", async () => {
    const unguarded: string[] = [];
    for (const [name, fn] of await allFunctions()) {
      if (!fn.isPublic) continue;
      const args = JSON.parse(fn.exportArgs!());
      const fields = Object.keys(args.value ?? {});
      const byNode = fields.includes("nodeToken");
      const bySecret = fields.includes("enrollmentSecret");
      // User functions are built with viewerQuery/operatorMutation; they are
      // exercised without identity in each module's tests. Here: no public
      // function may take neither a credential nor be a dashboard function.
      const dashboard = /^(nodes:(listNodes|revokeNode)|orchestrations:(listOrchestrations|getOrchestrationDetail)|teams:listUnlinkedTeams|events:listEvents|actions:(submitAction|cancelAction|listActions)|attention:attention)$/;
      if (!byNode && !bySecret && !dashboard.test(name)) unguarded.push(name);
    }
    expect(unguarded).toEqual([]);
  });
});
