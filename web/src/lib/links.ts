// Which links from agents' text and plans may ever open: absolute http(s) and mailto only.
// Pure, so the rule is tested apart from the component that renders it.

const OPENABLE: ReadonlySet<string> = new Set(["http:", "https:", "mailto:"]);

/**
 * The URL to open for `url` as written in Markdown, normalised (so the confirmation shows
 * exactly what opens, an internationalised host in its punycode form), or null when it must
 * never open: any other scheme (javascript:, data:, vbscript:, file:…), a relative or
 * fragment-only address, or something that is not a URL at all.
 */
export function openableUrl(url: string | null | undefined): string | null {
  if (typeof url !== "string") return null;
  const text = url.trim();
  if (text === "") return null;
  let parsed: URL;
  try {
    parsed = new URL(text); // no base: a relative address throws
  } catch {
    return null;
  }
  if (!OPENABLE.has(parsed.protocol)) return null;
  if (parsed.protocol !== "mailto:" && parsed.hostname === "") return null;
  return parsed.href;
}
