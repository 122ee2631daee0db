import { expect, test } from "vitest";
import { href, parseRoute } from "./routing";

test("routes from the hash", () => {
  expect(parseRoute("").name).toBe("orchestrations");
  expect(parseRoute("#/").name).toBe("orchestrations");
  expect(parseRoute("#/attention")).toEqual({ name: "attention" });
  expect(parseRoute("#/fleet/")).toEqual({ name: "fleet" });
  expect(parseRoute("#/o/k17abc_9")).toEqual({ name: "detail", orchestrationId: "k17abc_9" });
  expect(parseRoute("#/o/../x")).toEqual({ name: "notFound", path: "/o/../x" });
});

test("the list keeps its filters", () => {
  const r = parseRoute("#/?laptop=n1&status=paused");
  expect(r.name === "orchestrations" && r.query.get("status")).toBe("paused");
  expect(href(r)).toBe("#/?laptop=n1&status=paused");
});

test("href and parseRoute agree", () => {
  for (const hash of ["#/", "#/attention", "#/fleet", "#/account", "#/o/abc"]) expect(href(parseRoute(hash))).toBe(hash);
});
