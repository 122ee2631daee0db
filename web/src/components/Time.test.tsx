// A time is relative, and its exact time is reachable by a tap (phones have no hover).
import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, test } from "vitest";
import { formatAbsolute } from "../lib/time";
import { Time } from "./ui";

describe("Time", () => {
  const at = Date.now() - 5 * 60_000;

  test("shows the relative time, and the exact time after a tap, then relative again", () => {
    render(<Time at={at} />);
    const button = screen.getByTestId("time");
    expect(button.tagName).toBe("BUTTON");
    expect(button.textContent).toBe("5 min ago");
    expect(button.getAttribute("aria-label")).toContain(formatAbsolute(at));
    fireEvent.click(button);
    expect(button.textContent).toBe(formatAbsolute(at));
    fireEvent.click(button);
    expect(button.textContent).toBe("5 min ago");
  });

  test("plain: text only (for use inside a link), the exact time for hover and screen readers", () => {
    render(<Time at={at} plain prefix="started " />);
    const span = screen.getByTestId("time");
    expect(span.tagName).toBe("SPAN");
    expect(span.querySelector("button")).toBeNull();
    expect(span.textContent).toBe(`started 5 min ago, ${formatAbsolute(at)}`);
  });
});
