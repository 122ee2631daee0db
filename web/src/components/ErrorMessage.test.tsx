// A failed load says what happened and what to do, never the raw server text.
import { render, screen } from "@testing-library/react";
import { ConvexError } from "convex/values";
import { afterEach, describe, expect, test, vi } from "vitest";
import { ErrorMessage, QueryBoundary } from "./ui";

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

function Broken({ error }: { error: unknown }): never {
  throw error;
}

describe("ErrorMessage", () => {
  test("a validator error: words of ours, no raw text, no connection hint while online", () => {
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    const raw = new Error('[Request ID: 1] Server Error\nArgumentValidationError: Value does not match validator.\nPath: .orchestrationId\nValue: "nope"\nValidator: v.id("orchestrations")');
    render(
      <QueryBoundary what="the orchestration">
        <Broken error={raw} />
      </QueryBoundary>,
    );
    const text = screen.getByRole("alert").textContent ?? "";
    expect(text).toContain("Couldn't load the orchestration.");
    expect(text).toContain("The server could not read this request");
    for (const bit of ["Validator", "Request ID", "Server Error", "nope", "orchestrationId"]) expect(text).not.toContain(bit);
    expect(text).not.toMatch(/connection/i);
  });

  test("our own refusal: 'The server refused:' with its words and what to do", () => {
    render(<ErrorMessage what="the audit log" error={new ConvexError({ code: "forbidden", message: "only owners read the audit log" })} />);
    const text = screen.getByRole("alert").textContent ?? "";
    expect(text).toContain("The server refused: Only owners read the audit log.");
    expect(text).toContain("Ask an owner");
  });

  test('"Check your connection" when the device is offline', () => {
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    vi.stubGlobal("navigator", { ...navigator, onLine: false });
    render(<ErrorMessage what="laptops" error={new Error("[Request ID: 2] Server Error")} />);
    expect(screen.getByRole("alert").textContent).toMatch(/connection to the server is down.*Check your connection/);
  });
});
