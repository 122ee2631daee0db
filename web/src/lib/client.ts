/** How this dashboard describes itself in the audit log (the `client` argument of mutations). */
export function clientLabel(userAgent: string | undefined): string {
  const ua = (userAgent ?? "").replace(/\s+/g, " ").trim();
  const label = ua ? `tina-web; ${ua}` : "tina-web";
  return label.length > 200 ? `${label.slice(0, 199)}…` : label;
}

export const CLIENT = clientLabel(typeof navigator === "undefined" ? undefined : navigator.userAgent);
