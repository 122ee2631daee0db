// The pages shown outside the shell (no deployment configured, opened offline) are whole pages
// on their own: a main landmark, a heading, nothing axe-core objects to (contrast is checked in
// the browser tests, with real styles).
import { render } from "@testing-library/react";
import axe from "axe-core";
import { expect, test } from "vitest";
import { OfflineStart } from "../pwa/Connectivity";
import { NotConfigured } from "./NotConfigured";

async function violations(): Promise<string[]> {
  const out = await axe.run(document.documentElement, { rules: { "color-contrast": { enabled: false } } });
  return out.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
}

test.each([
  ["not configured", () => <NotConfigured />],
  ["offline at start", () => <OfflineStart />],
])("%s: a main landmark, a heading, no axe violations", async (_name, page) => {
  document.documentElement.lang = "en";
  document.title = "tina";
  const view = render(page());
  expect(view.container.querySelector("main")).not.toBeNull();
  expect(view.container.querySelector("h1")).not.toBeNull();
  expect(await violations()).toEqual([]);
});
