import { expect, test } from "vitest";
import { formatBytes, revision } from "./documents";

test("revision and size as people read them", () => {
  expect(revision("0123456789abcdef".repeat(4))).toBe("0123456789ab");
  expect(revision(undefined)).toBeUndefined();
  expect(formatBytes(812)).toBe("812 B");
  expect(formatBytes(14_540)).toBe("14.2 KB");
  expect(formatBytes(1_363_149)).toBe("1.3 MB");
});
