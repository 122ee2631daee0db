import { describe, expect, test } from "vitest";
import { href, MAX_ITEM_KEY, needItemHref, parseRoute } from "./routing";

test("routes from the hash", () => {
  expect(parseRoute("").name).toBe("orchestrations");
  expect(parseRoute("#/").name).toBe("orchestrations");
  expect(parseRoute("#/attention")).toEqual({ name: "attention" });
  expect(parseRoute("#/fleet/")).toEqual({ name: "fleet" });
  expect(parseRoute("#/notifications")).toEqual({ name: "notifications" });
  expect(parseRoute("#/o/k17abc_9")).toEqual({ name: "detail", orchestrationId: "k17abc_9" });
  expect(parseRoute("#/o/../x")).toEqual({ name: "notFound", path: "/o/../x" });
});

test("the list keeps its filters", () => {
  const r = parseRoute("#/?laptop=n1&status=paused");
  expect(r.name === "orchestrations" && r.query.get("status")).toBe("paused");
  expect(href(r)).toBe("#/?laptop=n1&status=paused");
});

test("href and parseRoute agree", () => {
  for (const hash of ["#/", "#/attention", "#/fleet", "#/account", "#/notifications", "#/o/abc", "#/attention?item=prompt%3Ap1"]) expect(href(parseRoute(hash))).toBe(hash);
});

describe("a link to one Needs you item", () => {
  test("carries the item's key, encoded, and reads it back whole", () => {
    for (const key of ["prompt:p1", "laptop:n1:perm:t:r1", "a b+c&d=e?f#g/h%i", "café ☕"]) {
      const link = needItemHref(key);
      expect(link).toBe(`#/attention?item=${encodeURIComponent(key)}`);
      expect(parseRoute(link)).toEqual({ name: "attention", item: key });
    }
    expect(parseRoute("#/attention/?item=offline%3An2")).toEqual({ name: "attention", item: "offline:n2" });
  });

  test("without an item, or with a bad or over-long one, it is the plain page", () => {
    for (const hash of ["#/attention", "#/attention?", "#/attention?item=", "#/attention?item=%20%20", "#/attention?other=x", "#/attention?item=a%00b", "#/attention?item=a%0Ab"]) {
      expect(parseRoute(hash)).toStrictEqual({ name: "attention" });
    }
    expect(parseRoute(`#/attention?item=${"k".repeat(MAX_ITEM_KEY)}`)).toEqual({ name: "attention", item: "k".repeat(MAX_ITEM_KEY) });
    expect(parseRoute(`#/attention?item=${"k".repeat(MAX_ITEM_KEY + 1)}`)).toStrictEqual({ name: "attention" });
    // Malformed percent-encoding does not throw.
    expect(parseRoute("#/attention?item=%E0%A4%A").name).toBe("attention");
  });
});
