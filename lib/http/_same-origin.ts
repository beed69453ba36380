// The cross-site check of both listeners: a browser on another site must not be able to
// act through them (reset or pause on the primary; delete jobs, compact, open /events
// and send delete_job on the admin listener). Browsers
// always send Origin on cross-origin POST/PUT/PATCH/DELETE and on WebSocket handshakes,
// and Sec-Fetch-Site on every request; non-browser clients (curl, zizq top, backups)
// send neither and are not affected. No token needed: nothing cross-site can forge them.

/** Headers as a getter, so web Requests and node IncomingMessages both fit. */
type HeaderGet = (name: string) => string | null | undefined;

/** Why a request is refused as cross-site, or undefined when it may proceed. */
export function crossSiteReason(get: HeaderGet): string | undefined {
  const site = get("sec-fetch-site");
  if (site && site !== "same-origin" && site !== "none") return `cross-site request refused (Sec-Fetch-Site: ${site})`;
  const origin = get("origin");
  if (origin === null || origin === undefined) return undefined;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return "cross-site request refused (unreadable Origin)";
  }
  if (host !== (get("host") ?? "")) return `cross-site request refused (Origin ${origin} is not this listener)`;
  return undefined;
}

export const UNSAFE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);
