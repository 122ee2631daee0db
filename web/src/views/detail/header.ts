// What the detail page's header says about where an orchestration runs. Pure.

function trimSlashes(path: string): string {
  return path.replace(/[/\\]+$/, "");
}

function baseName(path: string): string {
  const parts = trimSlashes(path).split(/[/\\]/);
  return parts[parts.length - 1] ?? "";
}

/**
 * The repository's name: its root's last folder when the laptop reports the root, else the
 * folder holding the worktree's `.worktrees` (tina's layout), else the worktree's own folder.
 */
export function repositoryName(o: { repoRoot?: string; worktreePath: string }): string {
  if (o.repoRoot !== undefined && baseName(o.repoRoot) !== "") return baseName(o.repoRoot);
  const parts = trimSlashes(o.worktreePath).split(/[/\\]/);
  const at = parts.lastIndexOf(".worktrees");
  if (at > 0) return parts.slice(0, at).filter((p) => p !== "" && p !== ".").pop() ?? baseName(o.worktreePath);
  return baseName(o.worktreePath);
}

/** A file of the worktree as a path inside it ("docs/plans/x.md"); other paths as they are. */
export function insideWorktree(path: string, worktreePath: string): string {
  const root = trimSlashes(worktreePath);
  if (root !== "" && path.startsWith(`${root}/`)) return path.slice(root.length + 1);
  return path;
}
