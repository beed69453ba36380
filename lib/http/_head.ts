// HEAD on a GET route: the status and headers that GET would answer, with no body, as the
// reference's framework (axum) answers it for every GET route; load balancers and
// monitors check health this way. Without this a HEAD was a 405 on the primary API and a
// 404 on the admin listener. GET handlers here have no side effects, except the take
// stream, which answers HEAD itself (routes/take.ts) without taking anything.

import type { H3, H3Event } from "h3";

/** Runs the request as a GET through `app` and answers its status and headers only. */
export async function headOf(app: H3, event: H3Event): Promise<Response> {
  const res = await app.fetch(new Request(event.req.url, { method: "GET", headers: event.req.headers }));
  const headers = new Headers(res.headers);
  // The length GET would send (RFC 9110 §9.3.2); bodies here are whole responses, never streams.
  if (res.body && !headers.has("content-length")) headers.set("content-length", String((await res.arrayBuffer()).byteLength));
  else await res.body?.cancel();
  return new Response(null, { status: res.status, statusText: res.statusText, headers });
}
