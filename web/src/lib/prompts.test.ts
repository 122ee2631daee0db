import { describe, expect, test } from "vitest";
import {
  answerAvailability,
  denyMessageProblem,
  describeInput,
  describeSuggestions,
  preview,
  promptOutcome,
  promptRuleReason,
  refusalText,
  timeLeft,
} from "./prompts";

const j = (x: unknown) => JSON.stringify(x);

describe("describeInput", () => {
  test("Bash: the command, its description and how it runs", () => {
    expect(describeInput("Bash", j({ command: "rm -rf build", description: "Clean the build" }))).toEqual({
      kind: "command",
      command: "rm -rf build",
      description: "Clean the build",
    });
    expect(describeInput("Bash", j({ command: "npm test", timeout: 120_000, run_in_background: true }))).toEqual({
      kind: "command",
      command: "npm test",
      note: "runs in the background, timeout 2 min",
    });
  });

  test("Write: the path and the first lines of the content", () => {
    const content = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join("\n") + "\n";
    const v = describeInput("Write", j({ file_path: "src/a.ts", content }));
    expect(v).toMatchObject({ kind: "file", path: "src/a.ts", summary: "writes 20 lines", previewCut: true });
    expect(v.kind === "file" && v.preview).toBe(Array.from({ length: 8 }, (_, i) => `line ${i + 1}`).join("\n"));
    expect(describeInput("Write", j({ file_path: "x", content: "one" }))).toMatchObject({ summary: "writes 1 line", preview: "one", previewCut: false });
  });

  test("Edit and MultiEdit: the path and the new text", () => {
    expect(describeInput("Edit", j({ file_path: "a.py", old_string: "x", new_string: "y", replace_all: true }))).toEqual({
      kind: "file",
      path: "a.py",
      summary: "replaces every occurrence of a passage",
      preview: "y",
      previewCut: false,
    });
    expect(describeInput("MultiEdit", j({ file_path: "b.py", edits: [{ old_string: "a", new_string: "b" }, { old_string: "c", new_string: "d" }] }))).toEqual({
      kind: "file",
      path: "b.py",
      summary: "makes 2 edits (the first shown)",
      preview: "b",
      previewCut: true,
    });
  });

  test("other tools: indented JSON; HTML stays text", () => {
    const v = describeInput("WebFetch", j({ url: "https://example.com", prompt: "<script>alert(1)</script>" }));
    expect(v).toEqual({ kind: "json", text: '{\n  "url": "https://example.com",\n  "prompt": "<script>alert(1)</script>"\n}' });
  });

  test("a Bash input without a command, or input cut short, falls back to what there is", () => {
    expect(describeInput("Bash", j({ cmd: "ls" }))).toEqual({ kind: "json", text: '{\n  "cmd": "ls"\n}' });
    expect(describeInput("Write", '{"file_path": "a", "content": "abc…')).toEqual({ kind: "json", text: '{"file_path": "a", "content": "abc…' });
  });

  test("preview cuts long single lines too", () => {
    expect(preview("x".repeat(700))).toEqual({ text: "x".repeat(600), cut: true });
  });
});

describe("describeSuggestions", () => {
  test("a rule and where it goes", () => {
    const s = j([{ type: "addRules", rules: [{ toolName: "Bash", ruleContent: "npm run serve:api" }], behavior: "allow", destination: "localSettings" }]);
    expect(describeSuggestions(s)).toBe("Also adds the allow rule Bash(npm run serve:api) in the project's local settings.");
  });

  test("modes, directories, several changes, unknown ones", () => {
    expect(describeSuggestions(j([{ type: "setMode", mode: "acceptEdits", destination: "session" }]))).toBe(
      "Also switches the permission mode to acceptEdits (file edits go through without asking) for this session only.",
    );
    expect(
      describeSuggestions(
        j([
          { type: "addDirectories", directories: ["/srv/data"], destination: "session" },
          { type: "addRules", rules: [{ toolName: "Read" }, { toolName: "Edit", ruleContent: "src/**" }], behavior: "allow", destination: "userSettings" },
          { type: "somethingNew" },
        ]),
      ),
    ).toBe(
      "Also adds the working directory /srv/data for this session only; adds the allow rules Read, Edit(src/**) in your user settings (every project); and 1 other change.",
    );
    expect(describeSuggestions(j([{ type: "somethingNew" }]))).toBe("Also applies the laptop's suggested permission change.");
  });

  test("nothing to remember: no Allow always", () => {
    expect(describeSuggestions(undefined)).toBeNull();
    expect(describeSuggestions("")).toBeNull();
    expect(describeSuggestions("[]")).toBeNull();
    expect(describeSuggestions("not json")).toBeNull();
  });
});

describe("who may answer", () => {
  const open = { status: "open" as const, expiresAt: 10_000 };
  const ctx = { role: "operator" as const, rule: "operators" as const, laptop: "alpha" };

  test("an operator may answer an open prompt before its deadline", () => {
    expect(answerAvailability(open, ctx, 0)).toEqual({ enabled: true });
  });

  test("viewers, the messaging rule, answered and late prompts say why not", () => {
    expect(answerAvailability(open, { ...ctx, role: "viewer" }, 0)).toEqual({
      enabled: false,
      reason: "viewers can see prompts but not answer them; ask an owner for the operator role",
    });
    expect(answerAvailability(open, { ...ctx, role: undefined }, 0)).toMatchObject({ enabled: false, reason: "checking your permissions…" });
    expect(answerAvailability(open, { ...ctx, rule: "owners" }, 0)).toMatchObject({
      enabled: false,
      reason: "only owners may answer prompts on alpha (its messaging rule); an owner can allow operators on the Fleet page",
    });
    expect(answerAvailability(open, { ...ctx, role: "owner", rule: "owners" }, 0)).toEqual({ enabled: true });
    expect(answerAvailability(open, { ...ctx, role: "owner", rule: "nobody" }, 0)).toMatchObject({ enabled: false });
    expect(answerAvailability({ ...open, status: "answered" }, ctx, 0)).toMatchObject({ reason: "this prompt is already answered" });
    expect(answerAvailability(open, ctx, 10_000)).toMatchObject({ reason: "alpha stopped waiting; Claude Code asks at the keyboard" });
  });

  test("the rule reason alone", () => {
    expect(promptRuleReason("operator", "nobody", "alpha")).toBe('answering prompts on alpha is off (its messaging rule is "Nobody"); an owner can change it on the Fleet page');
    expect(promptRuleReason("operator", undefined, "alpha")).toBeNull();
  });
});

describe("words", () => {
  test("time left", () => {
    expect(timeLeft(20_000, 0)).toBe("20 s left");
    expect(timeLeft(20_000, 19_001)).toBe("1 s left");
    expect(timeLeft(20_000, 20_000)).toBe("time is up");
    expect(timeLeft(150_000, 0)).toBe("2 min left");
  });

  test("the deny message", () => {
    expect(denyMessageProblem("")).toBeNull();
    expect(denyMessageProblem("use the staging database\ninstead")).toBeNull();
    expect(denyMessageProblem("x".repeat(1001))).toBe("at most 1000 characters (1001 now)");
    expect(denyMessageProblem("bell\u0007")).toBe("remove control characters");
    expect(denyMessageProblem("c1\u0085")).toBe("remove control characters");
  });

  test("outcomes", () => {
    expect(promptOutcome("answered", "alpha").label).toBe("answered — waiting for the laptop");
    expect(promptOutcome("applied", "alpha").label).toBe("applied on alpha");
    expect(promptOutcome("too_late", "alpha").label).toBe("too late: answered at the laptop");
    expect(promptOutcome("expired", "alpha").label).toBe("expired");
  });

  test("refusals", () => {
    expect(refusalText("conflict", "already answered on alpha by Ann")).toBe("Someone got there first: already answered on alpha by Ann");
    expect(refusalText("forbidden", "viewers cannot answer")).toBe("Not accepted: viewers cannot answer");
  });
});
