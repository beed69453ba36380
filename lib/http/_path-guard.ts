// The path guard both listeners run before routing: a path with an empty segment (a
// trailing slash, `//`) or a dot segment never reaches a route. Why: h3's router treats
// `/jobs/` as `/jobs`, so `DELETE /jobs/${id}` with an empty id deleted every job.
// routedPath is also what the token check (auth.ts) judges: the path the router will
// route on, so the two can never disagree about which route a request reaches.

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

/**
 * The path a request is routed on (the URL parser's, as h3 reads it), or undefined when
 * the target is malformed: an empty or dot segment, as sent or after parsing, a backslash
 * in the path (the parser reads `\` as `/`) or a `#` right after it (it drops what
 * follows). Why: the token check judged the raw path, so `GET /assets/..\api/jobs` passed
 * as a dashboard asset and `POST /reset\` as a plain write, while the router served
 * /api/jobs and /reset.
 */
export function routedPath(rawUrl: string): string | undefined {
  // Only the path part: a query may hold a raw backslash (`?queue=a\b`, as curl sends it),
  // which the parser leaves alone.
  const end = rawUrl.search(/[?#]/);
  const pathPart = end === -1 ? rawUrl : rawUrl.slice(0, end);
  if (isMalformedPath(rawUrl) || pathPart.includes("\\") || rawUrl[end] === "#") return undefined;
  // The usual target (`/jobs/<id>/success`): characters the parser keeps as they are, so
  // it is its own routed path. Parsing a URL costs ~2 µs, on every request.
  if (PLAIN_PATH.test(pathPart)) return pathPart;
  let path: string;
  try {
    path = new URL(rawUrl, "http://localhost").pathname;
  } catch {
    return undefined;
  }
  return isMalformedPath(path) ? undefined : path;
}

/** An origin-form path of RFC 3986 path characters: the URL parser changes none of them. */
const PLAIN_PATH = /^\/[\w\-.~%!$&'()*+,;=:@/]*$/;

/** The path as received on the wire (Node's req.url; the parsed URL as a fallback). */
export function rawPath(event: H3Event): string {
  const node = event.runtime?.node?.req as { url?: string } | undefined;
  return node?.url ?? event.url.pathname + event.url.search;
}
