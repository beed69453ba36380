// Construction-time checks of Client and Worker options. A bad value used to fail late
// and unclearly: `format: "xml"` as "Cannot read properties of undefined (reading 'rpc')"
// on the first call, a negative `readTimeout` as an unhandled HTTP/2 stream error that
// ended the process, `concurrency: NaN` as the server's 400 about `prefetch`.

import type { ClientOptions } from "./types.ts";

/** Longest timer Node keeps: a longer one fires after 1 ms. (The client imports nothing of the server's.) */
export const TIMER_MAX_MS = 2 ** 31 - 1;

function fail(owner: string, name: string, value: unknown, expected: string): never {
  throw new TypeError(`${owner}: ${name} must be ${expected} (got ${typeof value === "string" ? JSON.stringify(value) : String(value)})`);
}

/** `value`, when given, is an integer within [min, max]. */
export function checkInteger(owner: string, name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    fail(owner, name, value, `an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? " up" : ` to ${max}`}`);
  }
}

export function checkClientOptions(options: ClientOptions): void {
  if (options === null || typeof options !== "object") throw new TypeError("Client: options must be an object with a url");
  if (typeof options.url !== "string") fail("Client", "url", options.url, 'a string like "http://127.0.0.1:7890"');
  if (options.format !== undefined && options.format !== "json" && options.format !== "msgpack") {
    fail("Client", "format", options.format, '"json" or "msgpack"');
  }
  for (const name of ["connectTimeout", "readTimeout", "streamIdleTimeout"] as const) {
    checkInteger("Client", `${name} (ms)`, options[name], 0, TIMER_MAX_MS);
  }
  checkInteger("Client", "maxConcurrentStreams", options.maxConcurrentStreams, 1);
}
