// Routes live in the address's hash (`#/o/<id>`), so the built files work on any static
// host without rewrite rules, and a phone can bookmark any view.
import type { Id } from "../api";

export type Route =
  | { name: "orchestrations"; query: URLSearchParams }
  | { name: "attention" }
  | { name: "fleet" }
  | { name: "account" }
  | { name: "detail"; orchestrationId: Id<"orchestrations"> }
  | { name: "notFound"; path: string };

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, "");
  const [pathPart = "", queryPart = ""] = raw.split("?", 2);
  const path = pathPart.replace(/\/+$/, "") || "/";
  const query = new URLSearchParams(queryPart);
  if (path === "/" || path === "") return { name: "orchestrations", query };
  if (path === "/attention") return { name: "attention" };
  if (path === "/fleet") return { name: "fleet" };
  if (path === "/account") return { name: "account" };
  const detail = /^\/o\/([A-Za-z0-9_-]+)$/.exec(path);
  if (detail?.[1]) return { name: "detail", orchestrationId: detail[1] as Id<"orchestrations"> };
  return { name: "notFound", path };
}

export function href(route: Route): string {
  switch (route.name) {
    case "orchestrations": {
      const q = route.query.toString();
      return q ? `#/?${q}` : "#/";
    }
    case "attention":
      return "#/attention";
    case "fleet":
      return "#/fleet";
    case "account":
      return "#/account";
    case "detail":
      return `#/o/${route.orchestrationId}`;
    case "notFound":
      return `#${route.path}`;
  }
}

export const orchestrationHref = (id: Id<"orchestrations">): string => href({ name: "detail", orchestrationId: id });
