// A dialog works by keyboard: focus moves in, Tab stays in, Escape closes, focus goes back.
import { fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { describe, expect, test } from "vitest";
import { Button, Dialog, Time } from "./ui";

const WRITTEN = Date.now() - 60_000;

function Asking({ field = false }: { field?: boolean }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <Button onClick={() => setOpen(true)}>Approve plan</Button>
      {open && (
        // A new onClose each render, as callers often write it.
        <Dialog title="Approve the plan?" onClose={() => setOpen(false)}>
          <p>
            Written <Time at={WRITTEN} />
          </p>
          {field && <textarea aria-label="Feedback" />}
          <Button onClick={() => setOpen(false)}>Cancel</Button>
          <Button kind="primary" data-autofocus>
            Approve
          </Button>
        </Dialog>
      )}
    </>
  );
}

const active = () => document.activeElement as HTMLElement;

describe("Dialog", () => {
  test("focus goes to the marked button, not a time in the text; Escape closes it and focus returns", () => {
    render(<Asking />);
    const opener = screen.getByRole("button", { name: "Approve plan" });
    opener.focus();
    fireEvent.click(opener);
    expect(screen.getByRole("dialog")).toBeTruthy();
    expect(active().textContent).toBe("Approve");
    fireEvent.keyDown(active(), { key: "Escape" });
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(active()).toBe(opener);
  });

  test("a field takes focus first", () => {
    render(<Asking field />);
    fireEvent.click(screen.getByRole("button", { name: "Approve plan" }));
    expect(active().getAttribute("aria-label")).toBe("Feedback");
  });

  test("Tab and Shift+Tab stay inside the dialog", () => {
    render(<Asking />);
    fireEvent.click(screen.getByRole("button", { name: "Approve plan" }));
    const dialog = screen.getByRole("dialog");
    const approve = screen.getByRole("button", { name: "Approve" });
    expect(active()).toBe(approve);
    // From the last control, Tab wraps to the first (the time in the text).
    fireEvent.keyDown(active(), { key: "Tab" });
    expect(active().getAttribute("data-testid")).toBe("time");
    expect(dialog.contains(active())).toBe(true);
    // From the first, Shift+Tab wraps to the last.
    fireEvent.keyDown(active(), { key: "Tab", shiftKey: true });
    expect(active()).toBe(approve);
  });
});
