// Route parameters (a job id, queue, cron group or entry name, budget key), percent-decoded
// once and fully. h3's `decode` keeps `%2F` and `%5C` encoded (it guards file paths), so a
// cron group "a/b" sent by a Client as `a%2Fb` was stored under the name "a%2Fb"; the
// reference server decodes the whole segment. The router has already split the path on
// literal slashes, so decoding one segment cannot change the route.

import { type H3Event, getRouterParam } from "h3";
import { decodeSegment } from "../queue/query.ts";

/** The parameter as the client meant it; a bad escape stays as sent. */
export const pathParam = (event: H3Event, name: string): string => decodeSegment(getRouterParam(event, name) ?? "");
