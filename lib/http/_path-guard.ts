// The path guard both listeners run before routing: a path with an empty segment (a
// trailing slash, `//`) or a dot segment never reaches a route. Why: h3's router treats
// `/jobs/` as `/jobs`, so `DELETE /jobs/${id}` with an empty id deleted every job.

import type { H3Event } from "h3";

/**
 * True when the request path, as the client sent it, has an empty or dot segment
 * (`/jobs/`, `/jobs//x`, `/jobs/.`, `/jobs/%2e%2e`). `/` alone is fine.
 */
export function isMalformedPath(rawUrl: string): boolean {
  // Absolute-form (`GET http://host/jobs/ HTTP/1.1`, RFC 9112 §3.2.2): judge its path.
  const absolute = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(rawUrl);
  const target = absolute ? rawUrl.slice(absolute[0].length) || "/" : rawUrl;
  const q = target.search(/[?#]/);
  const path = q === -1 ? target : target.slice(0, q);
  if (path === "/" || path === "") return false;
  // `jobs/` would be resolved against `/` by URL parsing and reach the collection.
  if (!path.startsWith("/")) return path !== "*";
  for (const segment of path.slice(1).split("/")) {
    if (segment === "") return true;
    const s = segment.toLowerCase();
    if (s === "." || s === ".." || s === "%2e" || s === "%2e%2e" || s === ".%2e" || s === "%2e.") return true;
  }
  return false;
}

/** The path as received on the wire (Node's req.url; the parsed URL as a fallback). */
export function rawPath(event: H3Event): string {
  const node = event.runtime?.node?.req as { url?: string } | undefined;
  return node?.url ?? event.url.pathname + event.url.search;
}
