// A disabled button says why in visible text (phones have no hover; a disabled button takes no focus).
import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, test, vi } from "vitest";
import { Button, Reason } from "./ui";

/** What a screen reader reads as the element's description (its aria-describedby targets). */
function description(el: HTMLElement): string {
  return (el.getAttribute("aria-describedby") ?? "")
    .split(/\s+/)
    .filter(Boolean)
    .map((id) => document.getElementById(id)?.textContent ?? "")
    .join(" ");
}

describe("Button", () => {
  test("a disabled reason is visible text under the button and describes it", () => {
    const onClick = vi.fn();
    render(
      <Button onClick={onClick} disabledReason="alpha is offline">
        Retry
      </Button>,
    );
    const button = screen.getByRole("button", { name: "Retry" });
    expect(button).toBeDisabled();
    const reason = screen.getByText("alpha is offline");
    expect(reason.closest("[hidden], .visually-hidden")).toBeNull();
    expect(reason).toHaveAttribute("data-testid", "disabled-reason");
    expect(button.getAttribute("aria-describedby")).toBe(reason.id);
    expect(description(button)).toBe("alpha is offline");
    fireEvent.click(button);
    expect(onClick).not.toHaveBeenCalled();
  });

  test("an enabled button has no reason line and no description", () => {
    render(<Button>Send</Button>);
    const button = screen.getByRole("button", { name: "Send" });
    expect(button).toBeEnabled();
    expect(button).not.toHaveAttribute("aria-describedby");
    expect(screen.queryByTestId("disabled-reason")).toBeNull();
  });

  test("the caller's own description is kept beside the reason", () => {
    render(
      <>
        <span id="hint">sends to the tester</span>
        <Button aria-describedby="hint" disabledReason="empty message">
          Send
        </Button>
      </>,
    );
    expect(description(screen.getByRole("button", { name: "Send" }))).toBe("sends to the tester empty message");
  });

  test('reason="none" leaves the reason line to the caller', () => {
    render(
      <>
        <Button disabledReason="phase 2 is not blocked" reason="none">
          Retry
        </Button>
        <Reason>phase 2 is not blocked</Reason>
      </>,
    );
    expect(screen.getByRole("button", { name: "Retry" })).toBeDisabled();
    expect(screen.getAllByTestId("disabled-reason")).toHaveLength(1);
  });
});
