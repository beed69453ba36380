// One request to the admin listener with the configured TLS client options and token,
// used by `zizq backup`, `zizq compact` and `zizq top` (queue pauses). Resolves with the
// response stream on 2xx; any other status becomes an Error carrying the status and
// (the start of) the body.

import { readFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type { AdminClientConfig } from "./config.ts";

/** Enough of an error body to explain it; the reference sends a few words. */
const MAX_ERROR_BODY_BYTES = 4096;

/**
 * How long the admin listener may stay silent (no byte of an answer) before we give up.
 * Without it `zizq backup` and `zizq compact` waited forever on a listener that accepted
 * the connection and never answered. A forced compaction answers only when it is done
 * (~11 s for 1.5M jobs here, minutes at 10M), so its own wait is longer.
 */
export const ADMIN_SILENCE_MS = 60_000;
export const COMPACT_SILENCE_MS = 30 * 60_000;

// node:http rather than fetch: Node 20's fetch cannot take a custom CA or client
// certificate without importing undici's Agent, which is not a dependency of ours.
export function postAdmin(config: AdminClientConfig, route: string, silenceMs = ADMIN_SILENCE_MS): Promise<http.IncomingMessage> {
  return requestAdmin(config, "POST", route, silenceMs);
}

/** A request whose 2xx answer is JSON, parsed. */
export async function adminJson(config: AdminClientConfig, method: string, route: string): Promise<unknown> {
  return JSON.parse(await readCapped(await requestAdmin(config, method, route, ADMIN_SILENCE_MS), Infinity));
}

async function requestAdmin(config: AdminClientConfig, method: string, route: string, silenceMs: number): Promise<http.IncomingMessage> {
  const url = new URL(config.url + route);
  const tls = url.protocol === "https:" ? await readTlsFiles(config) : {};
  const client = url.protocol === "https:" ? https : http;
  const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const headers: Record<string, string | number> = { "content-length": 0 };
    if (config.token !== undefined) headers.authorization = `Bearer ${config.token}`;
    const request = client.request(url, { method, headers, ...tls }, resolve);
    request.on("error", (error) => reject(new Error(`cannot reach ${config.url}: ${error.message}`)));
    // Socket inactivity, so a long download that keeps arriving is never cut.
    request.setTimeout(silenceMs, () => request.destroy(new Error(`no answer for ${Math.round(silenceMs / 1000)} s`)));
    request.end();
  });
  const status = response.statusCode ?? 0;
  if (status >= 200 && status < 300) return response;
  const body = (await readCapped(response)).trim();
  throw new Error(`${method} ${url.pathname} failed: HTTP ${status}${body ? `: ${body}` : ""}`);
}

async function readTlsFiles(config: AdminClientConfig): Promise<https.RequestOptions> {
  const read = async (file: string | undefined, what: string) => {
    if (file === undefined) return undefined;
    try {
      return await readFile(file);
    } catch (error) {
      throw new Error(`cannot read ${what} ${file}: ${(error as Error).message}`);
    }
  };
  return {
    ca: await read(config.caCertPath, "CA certificate"),
    cert: await read(config.clientCertPath, "client certificate"),
    key: await read(config.clientKeyPath, "client key"),
  };
}

async function readCapped(response: http.IncomingMessage, max = MAX_ERROR_BODY_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    if (size < max) chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks).subarray(0, max).toString("utf8");
}
