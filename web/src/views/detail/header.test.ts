import { describe, expect, test } from "vitest";
import { insideWorktree, repositoryName } from "./header";

describe("repositoryName", () => {
  test("the repository root's folder when the laptop reports it", () => {
    expect(repositoryName({ repoRoot: "/home/alex/src/shop/", worktreePath: "/home/alex/src/shop/.worktrees/checkout" })).toBe("shop");
  });
  test("else the folder holding tina's .worktrees", () => {
    expect(repositoryName({ worktreePath: "/tmp/x/repos/repo-checkout-flow/.worktrees/checkout-flow" })).toBe("repo-checkout-flow");
    expect(repositoryName({ worktreePath: "/tmp/x/repos/repo-checkout-flow/./.worktrees/checkout-flow" })).toBe("repo-checkout-flow");
  });
  test("else the worktree's own folder", () => {
    expect(repositoryName({ worktreePath: "/home/dev/worktrees/search-index" })).toBe("search-index");
  });
});

test("paths inside the worktree are shown relative to it", () => {
  expect(insideWorktree("/w/shop/.worktrees/c/docs/plans/p.md", "/w/shop/.worktrees/c/")).toBe("docs/plans/p.md");
  expect(insideWorktree("/elsewhere/p.md", "/w/shop/.worktrees/c")).toBe("/elsewhere/p.md");
  expect(insideWorktree("docs/plans/p.md", "/w")).toBe("docs/plans/p.md");
});
