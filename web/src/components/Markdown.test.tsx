// Markdown from agents is shown, never run: raw HTML is text, links ask first, images are not loaded.
import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, test } from "vitest";
import { Markdown } from "./Markdown";

function renderMd(text: string) {
  return render(<Markdown text={text} />).container;
}

/** No element that could run code or reach the network. */
function expectInert(root: HTMLElement) {
  expect(root.querySelector("script, img, iframe, object, embed, style, link, svg, form, video, audio, source")).toBeNull();
  for (const el of root.querySelectorAll("*")) {
    for (const attr of el.getAttributeNames()) {
      expect(attr.startsWith("on"), `${el.tagName} has ${attr}`).toBe(false);
      if (attr === "href" || attr === "src" || attr === "action" || attr === "formaction") {
        expect(el.getAttribute(attr)!.trim().toLowerCase()).not.toMatch(/^(javascript|data|vbscript):/);
      }
    }
    expect(el.getAttribute("style")).toBeNull();
  }
  // A link never sits on the page itself: it opens only from its confirmation.
  expect(root.querySelector("a[href]")).toBeNull();
}

describe("raw HTML is shown as text", () => {
  test("<script>", () => {
    const root = renderMd("before <script>alert('x')</script> after\n\n<script>\nwindow.hacked = 1\n</script>");
    expectInert(root);
    expect(root.textContent).toContain("<script>alert('x')</script>");
    expect(root.textContent).toContain("window.hacked = 1");
    expect((window as { hacked?: number }).hacked).toBeUndefined();
  });

  test("<img onerror>", () => {
    const root = renderMd('look <img src="x" onerror="alert(1)"> here\n\n<img src=x onerror=alert(2)>');
    expectInert(root);
    expect(root.textContent).toContain('<img src="x" onerror="alert(1)">');
    expect(root.textContent).toContain("<img src=x onerror=alert(2)>");
  });

  test("HTML blocks, inline links, iframes and styles", () => {
    const root = renderMd(
      [
        '<div onclick="alert(1)" style="position:fixed;inset:0">cover</div>',
        "",
        '<a href="javascript:alert(1)">click me</a>',
        "",
        '<iframe src="https://example.com"></iframe>',
        "",
        "<style>body{display:none}</style>",
        "",
        '<svg onload="alert(1)"></svg>',
      ].join("\n"),
    );
    expectInert(root);
    expect(root.textContent).toContain('<div onclick="alert(1)" style="position:fixed;inset:0">cover</div>');
    expect(root.textContent).toContain('<a href="javascript:alert(1)">click me</a>');
  });
});

describe("links", () => {
  test("javascript:, data: and relative links are shown as plain text that does nothing", () => {
    const root = renderMd("[one](javascript:alert(1)) [two](data:text/html,hi) [three](JAVASCRIPT:alert(1)) [four](plan.md) [five](#top)");
    expectInert(root);
    expect(screen.queryByTestId("md-link")).toBeNull();
    const inert = screen.getAllByTestId("md-inert-link");
    expect(inert.map((el) => el.textContent)).toEqual(["one", "two", "three", "four", "five"]);
    fireEvent.click(inert[0]!);
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  test("an http link asks first, showing the full address; it opens in a new tab without opener or referrer", () => {
    const root = renderMd("see [the docs](https://example.com/a/very/long/path?q=1#frag)");
    expectInert(root);
    const link = screen.getByTestId("md-link");
    expect(link.tagName).toBe("BUTTON");
    expect(link).toHaveTextContent("the docs");
    fireEvent.click(link);
    const dialog = screen.getByRole("dialog");
    expect(within(dialog).getByTestId("md-link-url")).toHaveTextContent("https://example.com/a/very/long/path?q=1#frag");
    const open = within(dialog).getByTestId("md-link-open");
    expect(open).toHaveAttribute("href", "https://example.com/a/very/long/path?q=1#frag");
    expect(open).toHaveAttribute("rel", "noopener noreferrer");
    expect(open).toHaveAttribute("target", "_blank");
    fireEvent.click(within(dialog).getByText("Cancel"));
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  test("autolinks and mailto work the same way", () => {
    renderMd("write to <mailto:ops@example.com> or see www.example.com");
    const links = screen.getAllByTestId("md-link");
    expect(links.map((l) => l.getAttribute("title"))).toEqual(["mailto:ops@example.com", "http://www.example.com/"]);
  });
});

describe("images are not loaded", () => {
  test("the description is shown, and the address is a link that asks first", () => {
    const root = renderMd("![the architecture](https://example.com/tracker.png) ![](javascript:alert(1))");
    expectInert(root);
    const [described, bare] = screen.getAllByTestId("md-image");
    expect(described).toHaveTextContent("image: the architecture");
    expect(within(described!).getByTestId("md-link")).toHaveAttribute("title", "https://example.com/tracker.png");
    expect(bare).toHaveTextContent("image (no description)");
    expect(within(bare!).queryByTestId("md-link")).toBeNull();
  });
});

describe("what Markdown is for", () => {
  test("headings sit under the page's own, lists, code and tables render", () => {
    const root = renderMd("# Plan\n\n## Steps\n\n- one\n- two\n\n```ts\nconst x = 1;\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done");
    expect(screen.getByRole("heading", { name: "Plan" }).tagName).toBe("H3");
    expect(screen.getByRole("heading", { name: "Steps" }).tagName).toBe("H4");
    expect(root.querySelectorAll("li")).toHaveLength(3);
    expect(root.querySelector("pre code")).toHaveTextContent("const x = 1;");
    expect(root.querySelector("table td")).toHaveTextContent("1");
    expect(root.querySelector("input[type=checkbox]")).toBeDisabled();
  });
});
