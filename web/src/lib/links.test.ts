import { describe, expect, test } from "vitest";
import { openableUrl } from "./links";

describe("which links may open", () => {
  test("http, https and mailto, normalised", () => {
    expect(openableUrl("https://example.com/a b")).toBe("https://example.com/a%20b");
    expect(openableUrl("http://EXAMPLE.com")).toBe("http://example.com/");
    expect(openableUrl("mailto:ops@example.com")).toBe("mailto:ops@example.com");
    // An internationalised host is shown as what really opens.
    expect(openableUrl("https://exаmple.com/")).toBe("https://xn--exmple-4nf.com/");
  });

  test.each([
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "ftp://example.com/x",
    "/relative/path",
    "plan.md",
    "#section",
    "//example.com/x",
    "",
    "http://",
  ])("never: %j", (url) => {
    expect(openableUrl(url)).toBeNull();
  });

  test("nothing at all", () => {
    expect(openableUrl(undefined)).toBeNull();
    expect(openableUrl(null)).toBeNull();
  });
});
