// Routes live in the address's hash (`#/o/<id>`), so the built files work on any static
// host without rewrite rules, and a phone can bookmark any view.
import type { Id } from "../api";

export type Route =
  | { name: "orchestrations"; query: URLSearchParams }
  | { name: "attention"; item?: string }
  | { name: "fleet" }
  | { name: "account" }
  | { name: "notifications" }
  | { name: "detail"; orchestrationId: Id<"orchestrations"> }
  | { name: "notFound"; path: string };

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, "");
  const [pathPart = "", queryPart = ""] = raw.split("?", 2);
  const path = pathPart.replace(/\/+$/, "") || "/";
  const query = new URLSearchParams(queryPart);
  if (path === "/" || path === "") return { name: "orchestrations", query };
  if (path === "/attention") {
    const item = itemKey(query.get("item"));
    return item !== undefined ? { name: "attention", item } : { name: "attention" };
  }
  if (path === "/fleet") return { name: "fleet" };
  if (path === "/account") return { name: "account" };
  if (path === "/notifications") return { name: "notifications" };
  const detail = /^\/o\/([A-Za-z0-9_-]+)$/.exec(path);
  if (detail?.[1]) return { name: "detail", orchestrationId: detail[1] as Id<"orchestrations"> };
  return { name: "notFound", path };
}

/** The longest item key a link may carry; a longer one is ignored, not cut short. */
export const MAX_ITEM_KEY = 600;

/** A Needs you item's key from a link, or undefined when it is missing, blank, over-long or holds control characters. */
function itemKey(raw: string | null): string | undefined {
  if (raw === null || raw.trim() === "" || raw.length > MAX_ITEM_KEY) return undefined;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(raw)) return undefined;
  return raw;
}

export function href(route: Route): string {
  switch (route.name) {
    case "orchestrations": {
      const q = route.query.toString();
      return q ? `#/?${q}` : "#/";
    }
    case "attention":
      return route.item !== undefined ? `#/attention?item=${encodeURIComponent(route.item)}` : "#/attention";
    case "fleet":
      return "#/fleet";
    case "account":
      return "#/account";
    case "notifications":
      return "#/notifications";
    case "detail":
      return `#/o/${route.orchestrationId}`;
    case "notFound":
      return `#${route.path}`;
  }
}

export const orchestrationHref = (id: Id<"orchestrations">): string => href({ name: "detail", orchestrationId: id });

/** The link to one Needs you item, for notifications and for sharing. */
export const needItemHref = (key: string): string => href({ name: "attention", item: key });
