// Plans and design docs as the dashboard describes them: size, revision, age.

/** The revision a person can compare: the first 12 hex digits of the SHA-256. */
export function revision(hash: string | undefined): string | undefined {
  return hash === undefined ? undefined : hash.slice(0, 12);
}

/** "812 B", "14.2 KB", "1.3 MB" (powers of 1024, as a file manager shows them). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "–";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}
