// The dashboard's only data paths: the admin listener's /stats and the primary API
// mounted under /api (same origin, so no CORS and the server's cross-site check passes).
// Every error reply of the API is `{"error": "..."}`; it is thrown as ApiError.

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/**
 * The access token (when the server runs with --auth-tokens), kept for this tab only.
 * Sent as Authorization on every call, and as a WebSocket subprotocol by live.ts.
 */
export const token = {
  get: (): string | null => sessionStorage.getItem("zizq-token"),
  set: (value: string): void => sessionStorage.setItem("zizq-token", value),
  clear: (): void => sessionStorage.removeItem("zizq-token"),
  /** Called on a 401: the shell asks for a token. */
  onMissing: (): void => {},
};

async function call(method: string, url: string, body?: unknown): Promise<Json> {
  const init: RequestInit = { method, headers: { accept: "application/json" }, credentials: "same-origin" };
  const bearer = token.get();
  if (bearer) (init.headers as Record<string, string>).authorization = `Bearer ${bearer}`;
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] = "application/json";
  }
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, `server unreachable (${(err as Error).message})`);
  }
  const text = await res.text();
  let parsed: Json;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (res.status === 401) token.onMissing();
  if (!res.ok) throw new ApiError(res.status, parsed?.error ?? `${res.status} ${res.statusText}`);
  return parsed;
}

/** A primary-API call, e.g. api("GET", "/jobs?status=dead"). */
export const api = (method: string, path: string, body?: unknown): Promise<Json> => call(method, `/api${path}`, body);

/**
 * The overview's first /stats, requested while the module is still starting (before the
 * first render), so the first load waits for one round trip less.
 */
let early: Promise<Json> | undefined = ["", "#", "#/"].includes(location.hash) ? call("GET", "/stats?seconds=900") : undefined;
early?.catch(() => {});

export function stats(seconds = 900): Promise<Json> {
  if (seconds === 900 && early) {
    const first = early;
    early = undefined;
    return first;
  }
  return call("GET", `/stats?seconds=${seconds}`);
}

/** A query string from the non-empty entries of `params`, in the API's encoding. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}
